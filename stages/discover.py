"""discover: expand ``input.sources`` into one row per video (runs on the driver).

Reads: config ``input``. Adds: video_id, source, source_kind, status (+ error for sources
that cannot exist, e.g. an unreadable list file). Needs: nothing but the local filesystem.

Accepts folders, globs, media files, list files (.txt one source per line; .csv/.parquet/
.jsonl with a ``url``/``path``/``source`` column), http(s) and fsspec URLs, ``samples://``.
On an object store (``s3://``, ``gs://`` ...) a URL ending in a list extension is a list file
read from the store, a URL with glob characters is globbed, a URL ending in a video extension is
one video, and any other URL is a prefix listed once here (``LIST`` requests happen only at
discover time, on the driver, never per video).
"""

from __future__ import annotations

import csv
import glob
import json
import logging
import os
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from curate.config import DownloadConfig, InputConfig
from curate.ids import video_id
from curate.samples import ensure_samples

log = logging.getLogger("curate")

LIST_EXTS = (".txt", ".csv", ".parquet", ".jsonl")
LIST_COLUMNS = ("url", "path", "source", "video_url", "file")


def _kind(src: str) -> str:
    if src.startswith(("http://", "https://")):
        return "http"
    if "://" in src and not src.startswith("file://"):
        return "fsspec"
    return "local"


def _read_list(path: str, opener: Any = open) -> list[str]:
    ext = os.path.splitext(path)[1].lower()
    if ext == ".txt":
        with opener(path) as f:
            return [ln.strip() for ln in f if ln.strip() and not ln.lstrip().startswith("#")]
    if ext == ".parquet":
        if opener is open:
            table = pq.read_table(path)
        else:
            with opener(path, "rb") as f:
                table = pq.read_table(f)
        col = next((c for c in LIST_COLUMNS if c in table.column_names), None)
        if col is None:
            raise ValueError(f"{path}: needs one of the columns {LIST_COLUMNS}")
        return [v for v in table.column(col).to_pylist() if v]
    rows: list[dict[str, Any]]
    if ext == ".jsonl":
        with opener(path) as f:
            rows = [json.loads(ln) for ln in f if ln.strip()]
    else:
        with opener(path, newline="") as f:
            rows = list(csv.DictReader(f))
    col = next((c for c in LIST_COLUMNS if rows and c in rows[0]), None)
    if col is None:
        raise ValueError(f"{path}: needs one of the columns {LIST_COLUMNS}")
    return [str(r[col]).strip() for r in rows if r.get(col)]


def _walk(root: str, exts: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(media files, folders named like media) under ``root``, following folder symlinks once each.

    ``os.walk`` does not follow symlinked folders by default, so a linked folder of videos would
    vanish without a word; here it is followed, with each real folder visited once (no loops).
    """
    files: list[str] = []
    named_like_media: list[str] = []
    seen: set[str] = set()
    for d, dirs, names in os.walk(root, followlinks=True):
        real = os.path.realpath(d)
        if real in seen:  # a symlink loop or a second link to the same folder
            dirs[:] = []
            continue
        seen.add(real)
        files += [os.path.join(d, f) for f in names if f.lower().endswith(exts)]
        named_like_media += [os.path.join(d, x) for x in dirs if x.lower().endswith(exts)]
        dirs[:] = [x for x in dirs if not x.lower().endswith(exts)]
    return sorted(files), sorted(named_like_media)


def _expand_remote(entry: str, exts: tuple[str, ...], add: Any, ytdl: Any) -> None:
    """An fsspec URL: a list file, a glob, one video, or a prefix (one listing, here on the driver)."""
    import fsspec

    try:
        fs, path = fsspec.core.url_to_fs(entry)
    except (ImportError, ValueError) as exc:  # e.g. s3fs not installed: the fetch stage says so per row
        log.warning("input source %s: %s", entry, exc)
        add(entry, "fsspec")
        return
    proto = fs.protocol[0] if isinstance(fs.protocol, tuple) else fs.protocol

    def url(p: str) -> str:
        return p if "://" in p else f"{proto}://{p}"

    low = path.lower().rstrip("/")
    try:
        if low.endswith(LIST_EXTS):
            try:
                items = _read_list(path, lambda p, mode="r", **kw: fs.open(p, mode, **kw))
            except FileNotFoundError:
                add(entry, "fsspec", status="failed", error="not_found", error_detail=f"no such list file: {entry}")
                return
            except Exception as exc:  # noqa: BLE001
                add(entry, "fsspec", status="failed", error="bad_list_file", error_detail=str(exc))
                return
            base = url(path.rsplit("/", 1)[0])
            for item in items:
                if ytdl(item):
                    add(item, "ytdl")
                elif "://" in item or item.startswith("/"):
                    add(item)
                else:  # relative to the list file, on the same store
                    add(f"{base}/{item}", "fsspec")
            return
        if low.endswith(exts):  # one object: fetch checks that it exists (no listing here)
            add(entry, "fsspec")
            return
        if any(ch in path for ch in "*?["):
            found = sorted(p for p in fs.glob(path) if p.lower().endswith(exts))
        else:
            found = sorted(p for p in fs.find(path.rstrip("/") + "/") if p.lower().endswith(exts))
    except Exception as exc:  # noqa: BLE001 - credentials, endpoint, missing bucket
        add(entry, "fsspec", status="failed", error="network", error_detail=f"{type(exc).__name__}: {exc}")
        return
    if not found:
        log.warning("input source %s: no objects with extensions %s under this prefix", entry, list(exts))
    for p in found:
        add(url(p), "fsspec")


def expand_sources(cfg: InputConfig, sample_dir: str, download: DownloadConfig | None = None) -> list[dict[str, Any]]:
    """Return video rows (dicts) for every source, de-duplicated by video_id, in input order.

    With ``download`` given, yt-dlp sources (see ``curate.ytdl.is_ytdl_source``) become
    ``source_kind="ytdl"`` rows; searches/playlists/channels expand into one row per video.
    """
    exts = tuple(e.lower() for e in cfg.extensions)
    rows: list[dict[str, Any]] = []

    def add(src: str, kind: str | None = None, **extra: Any) -> None:
        if download is not None and kind != "sample" and extra.get("status", "ok") == "ok":
            from curate.ytdl import expand, is_ytdl_source

            if is_ytdl_source(src, download):
                rows.extend(expand(src, download))
                return
        rows.append({"source": src, "source_kind": kind or _kind(src), "status": "ok", **extra})

    def ytdl(src: str) -> bool:
        if download is None:
            return False
        from curate.ytdl import is_ytdl_source

        return is_ytdl_source(src, download) and not src.endswith(".info.json")

    for entry in cfg.sources:
        if ytdl(entry):  # search query / platform URL / ytdl:// (an .info.json is a local file)
            add(entry, "ytdl")
            continue
        if entry.startswith("samples://"):
            for s in ensure_samples(sample_dir):
                add(os.path.abspath(s.path), "sample", licence=s.licence, licence_raw=s.licence,
                    title=s.title, uploader=s.uploader)
            continue
        kind = _kind(entry)
        if kind == "fsspec":
            _expand_remote(entry, exts, add, ytdl)
            continue
        if kind != "local":
            add(entry, kind)
            continue
        path = os.path.expanduser(entry[7:] if entry.startswith("file://") else entry)
        if os.path.isdir(path):
            found, not_files = _walk(path, exts)
            if not found and not not_files:
                log.warning("input source %s: folder has no files with extensions %s", entry, list(exts))
            for f in found:
                add(os.path.abspath(f))
            for d in not_files:  # a folder named like a video: a row that says so, never a silent skip
                add(os.path.abspath(d), "local", status="failed", error="not_a_file",
                    error_detail="a folder, not a media file (its name ends with a video extension)")
        elif any(ch in path for ch in "*?["):
            found = sorted(glob.glob(path, recursive=True))
            if not found:
                log.warning("input source %s: glob matches nothing", entry)
            for f in found:
                if os.path.isfile(f):
                    add(os.path.abspath(f))
                elif os.path.isdir(f) and f.lower().endswith(exts):
                    add(os.path.abspath(f), "local", status="failed", error="not_a_file",
                        error_detail="a folder, not a media file (its name ends with a video extension)")
        elif path.lower().endswith(LIST_EXTS) and os.path.isfile(path):
            try:
                items = _read_list(path)
            except Exception as exc:  # noqa: BLE001
                add(os.path.abspath(path), "local", status="failed", error="bad_list_file", error_detail=str(exc))
                continue
            base = os.path.dirname(os.path.abspath(path))
            for item in items:
                if ytdl(item):
                    add(item, "ytdl")
                    continue
                k = _kind(item)
                if k == "local" and not os.path.isabs(item) and not item.startswith("file://"):
                    item = os.path.join(base, item)
                add(item if k != "local" else os.path.abspath(item[7:] if item.startswith("file://") else item), k)
        else:
            # A single file; a missing one becomes a failed row (never silently dropped).
            add(os.path.abspath(path))

    if download is not None and download.allow_unknown_licence and any(r["source_kind"] == "ytdl" for r in rows):
        from curate.stages.download import warn_allow_unknown

        warn_allow_unknown("discover")
    seen: set[str] = set()
    out = []
    for r in rows:
        r["video_id"] = r.get("video_id") or video_id(r["source"])
        if r["video_id"] in seen:
            continue
        seen.add(r["video_id"])
        out.append(r)
    if cfg.max_videos:
        out = out[: cfg.max_videos]
    return out


def discover(cfg: InputConfig, sample_dir: str, schema: pa.Schema, download: DownloadConfig | None = None) -> pa.Table:
    rows = expand_sources(cfg, sample_dir, download)
    for r in rows:
        r["record"] = "video"
    return pa.Table.from_pylist(rows, schema=schema) if rows else schema.empty_table()
