"""download: licence-gated downloads with yt-dlp's Python API (YoutubeDL).

Reads: video_id, source, source_kind (only rows with source_kind == "ytdl"; every other row
passes through to ``fetch``). Adds: local_path and the provenance columns of
``schemas/provenance.py`` (platform, title, uploader, licence, chapters, ...).
Needs: network, 0.25 CPU per task; at most ``download.concurrency`` downloads at once.

Per video, in this order:

1. metadata only (``extract_info(download=False, process=False)``; an ``*.info.json`` source is
   loaded the way ``yt-dlp --load-info-json`` does: ``sanitize_info`` then processing);
2. the licence gate: the platform's licence string is normalised (``curate.licences``) and
   checked against ``download.allow_licences``. Not allowed -> ``status=rejected`` with
   ``licence_not_permitted`` or ``licence_unknown``; no media byte is requested;
3. duration / announced size limits -> rejected ``too_long`` / ``too_large``;
4. the media download (``process_ie_result(download=True)``): yt-dlp writes ``<id>.<ext>.part``
   and renames when complete; ``local_path`` is set only if the final file exists. A sidecar
   ``<id>.meta.json`` (provenance) is written last: a re-run with media + sidecar present makes
   no request at all (the gate is re-checked against the current allow-list).

Failures are reason codes (``curate.ytdl.classify``): unavailable, private, geo_blocked,
bot_check, age_restricted, members_only, rate_limited, http_404, http_403, http_error,
network, truncated_download, no_suitable_format, unsupported_url, live, too_large, too_long,
not_a_single_video, download_error. 429/5xx/network errors are retried with exponential backoff.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import re
import time
from typing import Any, Callable

from curate.config import DownloadConfig
from curate.licences import allowed
from curate.schemas import VIDEOS
from curate.schemas.provenance import PROVENANCE_FIELDS
from curate.stage import Resources, RowStage, RunContext, StageError
from curate.ytdl import CaptureLogger, classify, provenance, ydl_options, ytdl_url

log = logging.getLogger("curate")

RETRY_REASONS = {"rate_limited", "http_error", "network"}
_NOT_MEDIA = re.compile(r"\.(part|ytdl|meta\.json|tmp|temp)$|\.f[\w-]+\.\w+$|\.part-Frag\d+")


_warned: set[str] = set()
_YDL: dict[tuple[str, str], Any] = {}  # per-process YoutubeDL cache (see Download._ydl)


def warn_allow_unknown(where: str = "download") -> None:
    """Say once per process that the gate admits videos without a licence (an explicit choice)."""
    if where not in _warned:
        _warned.add(where)
        log.warning("download.allow_unknown_licence=true: videos WITHOUT a readable licence are admitted "
                    "(rows get licence_gate=allow_unknown); filter them before publishing")


class Rejected(StageError):
    """A policy rejection (licence, duration, size): the row gets status=rejected."""


class Download(RowStage):
    name = "download"
    requires = ("video_id", "source", "source_kind")
    adds = tuple(f for f in VIDEOS if f.name == "local_path") + tuple(PROVENANCE_FIELDS)

    cfg: DownloadConfig

    def __init__(self, cfg: DownloadConfig, ctx: RunContext, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(cfg, ctx)
        self.dir = cfg.cache_dir or os.path.join(ctx.work_dir, "ytdl")
        self.sleep = sleep
        if cfg.allow_unknown_licence:
            warn_allow_unknown()

    @classmethod
    def resources(cls, cfg: DownloadConfig, ray_cfg: Any) -> Resources:
        return Resources(num_cpus=0.25, batch_size=1, concurrency=cfg.concurrency)

    def eligible(self, row: dict[str, Any]) -> bool:
        return super().eligible(row) and row.get("source_kind") == "ytdl"

    # -- the row -----------------------------------------------------------------------------
    def process(self, row: dict[str, Any]) -> dict[str, Any]:
        os.makedirs(self.dir, exist_ok=True)
        vid = row["video_id"]
        try:
            done = self._reuse(vid)
            if done is not None:
                path, prov = done
                row.update(prov)
                self._gate(row)
                row["local_path"] = path
                return row
            info = self._retrying(lambda: self._extract(row["source"]))
            if info.get("_type", "video") not in ("video", None):
                raise StageError("not_a_single_video", f"yt-dlp returned a {info.get('_type')} for {row['source']}")
            row.update(provenance(info))
            self._gate(row)
            self._limits(info)
            path, info = self._retrying(lambda: self._download(info, vid))
        except Rejected as exc:
            row.update(status="rejected", error=exc.reason, error_detail=f"{self.name}: {exc.detail}",
                       local_path=None, licence_gate=None if exc.reason.startswith("licence") else row.get("licence_gate"))
            return row
        row["local_path"] = path
        row["format_id"] = info.get("format_id")
        self._write_sidecar(vid, {k: row.get(k) for k in (f.name for f in PROVENANCE_FIELDS)})
        return row

    def _gate(self, row: dict[str, Any]) -> None:
        lic = row.get("licence")
        if lic is None:
            if not self.cfg.allow_unknown_licence:
                raise Rejected("licence_unknown", f"no readable licence (platform says {row.get('licence_raw')!r})")
            row["licence_gate"] = "allow_unknown"
            return
        if not allowed(lic, self.cfg.allow_licences):
            raise Rejected("licence_not_permitted",
                           f"{lic} (platform says {row.get('licence_raw')!r}) not in download.allow_licences")
        row["licence_gate"] = "allow_list"

    def _limits(self, info: dict[str, Any]) -> None:
        dur = info.get("duration")
        if self.cfg.max_duration_s and dur and float(dur) > self.cfg.max_duration_s:
            raise Rejected("too_long", f"{float(dur):.0f} s > download.max_duration_s={self.cfg.max_duration_s:.0f}")
        if info.get("is_live") or info.get("live_status") in ("is_live", "is_upcoming"):
            raise StageError("live", f"live_status={info.get('live_status')}: live streams are not downloaded")
        # every video format announces a size over the limit (the selector skips single ones)
        sizes = [f.get("filesize") or f.get("filesize_approx") for f in info.get("formats") or [info]
                 if f.get("vcodec") != "none"]
        if sizes and all(sizes) and min(int(s) for s in sizes) > self.cfg.max_bytes:
            raise Rejected("too_large", f"smallest format is {min(int(s) for s in sizes)} bytes > download.max_bytes={self.cfg.max_bytes}")

    # -- yt-dlp ------------------------------------------------------------------------------
    def _ydl(self):
        """One YoutubeDL per worker process and config (building one loads ~1,800 extractors,
        ~0.13 s); the output name comes from the info dict (``curate_video_id``)."""
        import yt_dlp

        key = (self.cfg.model_dump_json(), self.dir)
        if key not in _YDL:
            logger = CaptureLogger()
            opts = ydl_options(self.cfg, self.dir, logger)
            opts["outtmpl"] = {"default": "%(curate_video_id)s.%(ext)s"}
            _YDL.clear()
            _YDL[key] = (yt_dlp.YoutubeDL(opts), logger)
        ydl, logger = _YDL[key]
        logger.messages.clear()
        return ydl, logger

    def _extract(self, source: str) -> dict[str, Any]:
        if source.endswith(".info.json") and "://" not in source:
            if not os.path.isfile(source):
                raise StageError("not_found", f"no such info JSON: {source}")
            return load_info_json(source)
        ydl, _ = self._ydl()
        # raw extractor output (formats may hold callables: not sanitised, used as is)
        info = ydl.extract_info(ytdl_url(source), download=False, process=False)
        if info.get("_type") in ("url", "url_transparent"):  # an embed: resolve through yt-dlp
            info = ydl.extract_info(ytdl_url(source), download=False)
        return info

    def _download(self, info: dict[str, Any], vid: str) -> tuple[str, dict[str, Any]]:
        ydl, logger = self._ydl()
        res = ydl.process_ie_result({**info, "curate_video_id": vid}, download=True)
        paths = [d.get("filepath") for d in res.get("requested_downloads") or []]
        path = next((p for p in paths if p and os.path.isfile(p)), None)
        if path is None:
            text = " ".join(logger.messages)
            if "max-filesize" in text:
                raise Rejected("too_large", f"larger than download.max_bytes={self.cfg.max_bytes}")
            raise StageError("download_error", text[-300:] or "yt-dlp finished without a media file")
        size = os.path.getsize(path)
        if size > self.cfg.max_bytes:
            os.remove(path)
            raise Rejected("too_large", f"{size} bytes > download.max_bytes={self.cfg.max_bytes}")
        return path, res

    def _retrying(self, fn: Callable[[], Any]) -> Any:
        delay = self.cfg.backoff_s
        for attempt in range(self.cfg.retries + 1):
            try:
                return fn()
            except StageError:
                raise
            except Exception as exc:  # noqa: BLE001 - classified into a reason code
                reason = classify(exc)
                detail = re.sub(r"\s+", " ", str(exc)).strip()[:500]
                if reason in RETRY_REASONS and attempt < self.cfg.retries:
                    log.info("download: %s (%s); retry %d in %.1f s", reason, detail[:120], attempt + 1, delay)
                    self.sleep(delay)
                    delay = min(120.0, delay * 2)
                    continue
                raise StageError(reason, detail) from None
        raise AssertionError("unreachable")

    # -- reuse of finished downloads ------------------------------------------------------------
    def _sidecar(self, vid: str) -> str:
        return os.path.join(self.dir, f"{vid}.meta.json")

    def _reuse(self, vid: str) -> tuple[str, dict[str, Any]] | None:
        side = self._sidecar(vid)
        if not os.path.isfile(side):
            return None
        media = [p for p in glob.glob(os.path.join(glob.escape(self.dir), glob.escape(vid) + ".*"))
                 if not _NOT_MEDIA.search(os.path.basename(p))]
        if not media:
            return None
        with open(side) as f:
            prov = json.load(f)
        if prov.get("upload_date"):
            import datetime as dt

            prov["upload_date"] = dt.date.fromisoformat(prov["upload_date"])
        return media[0], prov

    def _write_sidecar(self, vid: str, prov: dict[str, Any]) -> None:
        tmp = self._sidecar(vid) + ".tmp"
        with open(tmp, "w") as f:
            json.dump(prov, f, default=str)
        os.replace(tmp, self._sidecar(vid))


def load_info_json(path: str) -> dict[str, Any]:
    """An info dict from a ``yt-dlp --write-info-json`` / ``--dump-json`` file, cleaned the way
    ``YoutubeDL.download_with_info_file`` cleans it (``sanitize_info``, private keys dropped)."""
    import yt_dlp

    with open(path, encoding="utf-8") as f:
        info = json.load(f)
    if isinstance(info, list):
        if len(info) != 1:
            raise StageError("not_a_single_video", f"{path} holds {len(info)} info dicts")
        info = info[0]
    return yt_dlp.YoutubeDL.sanitize_info(info, True)
