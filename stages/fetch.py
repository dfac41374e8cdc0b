"""fetch: make every source readable as a local file.

Reads: source, source_kind, video_id. Adds: local_path (+ status/error on failure).
Needs: 1 CPU, network for http(s)/fsspec sources.

Local files are used in place. http(s) URLs are streamed with ``requests`` (timeouts,
size limit, retries with exponential backoff on timeouts/429/5xx) to a temporary name and
renamed when complete; a finished download is reused on re-runs. fsspec URLs (s3://, gs://
...) are copied with fsspec. Failures become reason codes: http_404, http_error,
rate_limited, too_large, network, not_found, truncated_download.
"""

from __future__ import annotations

import os
import time
from typing import Any
from urllib.parse import urlsplit

import requests

from curate.config import FetchConfig
from curate.schemas import VIDEOS
from curate.stage import RowStage, RunContext, StageError


def _ext(url: str) -> str:
    ext = os.path.splitext(urlsplit(url).path)[1].lower()
    return ext if 1 < len(ext) <= 5 else ".mp4"


def http_download(url: str, dest: str, cfg: FetchConfig, session: requests.Session | None = None) -> int:
    """Download ``url`` to ``dest`` atomically; return bytes written or raise StageError."""
    sess = session or requests.Session()
    tmp = dest + ".part"
    delay = cfg.backoff_s
    last: StageError | None = None
    for attempt in range(cfg.retries + 1):
        if attempt:
            time.sleep(delay)
            delay *= 2
        try:
            with sess.get(url, stream=True, timeout=cfg.timeout_s, allow_redirects=True) as r:
                if r.status_code == 404 or r.status_code == 410:
                    raise StageError("http_404", f"HTTP {r.status_code} for {url}")
                if r.status_code == 429:
                    last = StageError("rate_limited", f"HTTP 429 for {url} after {attempt + 1} tries")
                    ra = r.headers.get("Retry-After", "")
                    if ra.isdigit():
                        delay = max(delay, min(float(ra), 60.0))
                    continue
                if r.status_code >= 500:
                    last = StageError("http_error", f"HTTP {r.status_code} for {url}")
                    continue
                if r.status_code >= 400:
                    raise StageError("http_error", f"HTTP {r.status_code} for {url}")
                length = r.headers.get("Content-Length")
                if length and length.isdigit() and int(length) > cfg.max_bytes:
                    raise StageError("too_large", f"{int(length)} bytes > fetch.max_bytes={cfg.max_bytes}")
                n = 0
                with open(tmp, "wb") as f:
                    for chunk in r.iter_content(chunk_size=1 << 20):
                        n += len(chunk)
                        if n > cfg.max_bytes:
                            raise StageError("too_large", f"more than fetch.max_bytes={cfg.max_bytes} bytes")
                        f.write(chunk)
                if length and length.isdigit() and n < int(length):
                    last = StageError("truncated_download", f"got {n} of {length} bytes")
                    continue
                os.replace(tmp, dest)
                return n
        except StageError:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise
        except (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            last = StageError("network", f"{type(exc).__name__}: {exc}")
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    assert last is not None
    raise last


class Fetch(RowStage):
    """Resolve each source to a local file (downloading remote ones)."""

    name = "fetch"
    requires = ("video_id", "source", "source_kind")
    adds = tuple(f for f in VIDEOS if f.name in ("local_path",))

    def __init__(self, cfg: FetchConfig, ctx: RunContext) -> None:
        super().__init__(cfg, ctx)
        self.dir = cfg.cache_dir or os.path.join(ctx.work_dir, "downloads")
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "curate/0.1 (+https://github.com/curate)"

    def process(self, row: dict[str, Any]) -> dict[str, Any]:
        src, kind = row["source"], row["source_kind"]
        if kind == "ytdl":  # fetched (licence-gated) by the download stage, which set local_path
            if not row.get("local_path"):
                raise StageError("not_downloaded", f"yt-dlp source reached fetch without a download: {src}")
            return row
        if kind in ("local", "sample"):
            path = src[7:] if src.startswith("file://") else src
            if not os.path.exists(path):
                raise StageError("not_found", f"no such file: {path}")
            row["local_path"] = path
            return row
        os.makedirs(self.dir, exist_ok=True)
        dest = os.path.join(self.dir, row["video_id"] + _ext(src))
        if not os.path.exists(dest):
            if kind == "http":
                http_download(src, dest, self.cfg, self.session)
            else:
                import fsspec

                try:
                    fs, path = fsspec.core.url_to_fs(src)
                    size = fs.size(path)
                    if size and size > self.cfg.max_bytes:
                        raise StageError("too_large", f"{size} bytes > fetch.max_bytes")
                    fs.get_file(path, dest + ".part")
                    os.replace(dest + ".part", dest)
                except FileNotFoundError:
                    raise StageError("not_found", f"no such object: {src}") from None
                except StageError:
                    raise
                except Exception as exc:  # noqa: BLE001
                    raise StageError("network", f"{type(exc).__name__}: {exc}") from None
        row["local_path"] = dest
        return row
