"""yt-dlp plumbing shared by ``discover`` (expanding searches/playlists) and the download stage.

* :func:`is_ytdl_source` decides which sources go through yt-dlp (``ytdl://`` prefix, yt-dlp
  search keys such as ``ytsearch10:``, ``ytcc10:`` for YouTube's Creative-Commons filter,
  ``*.info.json`` files, http(s) URLs on ``download.hosts``); every other source stays with
  ``fetch``.
* :func:`expand` turns a search / playlist / channel into one row per entry (flat extraction,
  no media), each with a deterministic video_id from ``platform:id``.
* :func:`ydl_options` builds YoutubeDL options from :class:`DownloadConfig`.
* :func:`classify` maps yt-dlp exceptions to reason codes a user can act on.
* :func:`provenance` picks the attribution/provenance columns out of an info dict.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import re
import socket
from typing import Any
from urllib.parse import quote_plus, urlsplit

from curate.config import DownloadConfig
from curate.ids import video_id
from curate.licences import normalise

log = logging.getLogger("curate")

YTDL_PREFIX = "ytdl://"
MEDIA_EXTS = (".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi", ".flv", ".ts", ".ogv", ".3gp", ".m3u8", ".mpd")
CC_SEARCH = re.compile(r"^ytcc(\d*|all):(.+)$", re.S)
# YouTube's "Creative Commons" search filter (the `sp` value the web UI puts in the results URL)
YT_CC_FILTER = "EgIwAQ%253D%253D"


@functools.lru_cache(maxsize=1)
def _extractors() -> list[Any]:
    from yt_dlp.extractor import gen_extractor_classes

    return list(gen_extractor_classes())


@functools.lru_cache(maxsize=1)
def _search_keys() -> tuple[str, ...]:
    # lazy extractor classes are not subclasses of SearchInfoExtractor, but carry SEARCH_KEY
    return tuple(k for k in (getattr(ie, "SEARCH_KEY", None) for ie in _extractors()) if isinstance(k, str))


def is_search(src: str) -> bool:
    if CC_SEARCH.match(src):
        return True
    m = re.match(r"^([a-z0-9_]+?)(\d+|all)?:", src)
    return bool(m) and "://" not in src[: m.end() + 2] and m.group(1) in _search_keys()


def is_ytdl_source(src: str, cfg: DownloadConfig) -> bool:
    """True if ``src`` should be handled by yt-dlp (see module docstring)."""
    if src.startswith(YTDL_PREFIX) or src.endswith(".info.json"):
        return True
    if src.startswith(("http://", "https://")):
        host = (urlsplit(src).hostname or "").lower()
        return any(host == h or host.endswith("." + h) for h in cfg.hosts)
    return "://" not in src and is_search(src)


def ytdl_url(src: str) -> str:
    """The string handed to yt-dlp for a source (prefix stripped, ytcc expanded)."""
    if src.startswith(YTDL_PREFIX):
        return src[len(YTDL_PREFIX):]
    m = CC_SEARCH.match(src)
    if m:
        return f"https://www.youtube.com/results?search_query={quote_plus(m.group(2).strip())}&sp={YT_CC_FILTER}"
    return src


_HOST_IES: dict[str, list[int]] = {}


def _suitable_ie(url: str) -> Any | None:
    """yt-dlp's extractor for ``url`` (the first suitable one, as yt-dlp picks it).

    A full scan of ~1,800 extractors costs ~10 ms; extractors that matched a host before are
    tried first (in yt-dlp's order), which makes long URL lists of one platform ~100x cheaper.
    """
    host = (urlsplit(url).hostname or "").lower()
    ies = _extractors()
    for i in _HOST_IES.get(host, ()):
        if ies[i].suitable(url):
            return ies[i]
    for i, ie in enumerate(ies):
        if ie.suitable(url):
            if host and ie.ie_key() != "Generic":
                known = _HOST_IES.setdefault(host, [])
                known.append(i)
                known.sort()
            return ie
    return None


def platform_video_id(url: str, ie_key: str | None = None) -> tuple[str | None, str | None]:
    """(extractor key, platform id) for a single-video URL when yt-dlp can tell without a request."""
    ie = None
    if ie_key:
        ie = next((i for i in _extractors() if i.ie_key() == ie_key), None)
    if ie is None or not ie.suitable(url):
        ie = _suitable_ie(url)
    if ie is None or ie.ie_key() == "Generic":
        return None, None
    try:
        return ie.ie_key(), ie.get_temp_id(url)
    except Exception:  # noqa: BLE001 - an odd URL just falls back to the URL-based id
        return ie.ie_key(), None


def ytdl_video_id(platform: str | None, pid: str | None, fallback: str) -> str:
    """Deterministic video id: ``platform/id`` when known (same video via search or URL -> same id)."""
    if platform and pid:
        return video_id(f"{YTDL_PREFIX}{platform.lower()}/{pid}")
    return video_id(fallback)


def is_collection(src: str) -> bool:
    """True for searches, playlists, channels: sources yt-dlp must expand into entries."""
    if src.endswith(".info.json") and not src.startswith(YTDL_PREFIX):
        return False
    if is_search(src):
        return True
    url = ytdl_url(src)
    ie = _suitable_ie(url)
    if ie is None:
        return False
    if ie.ie_key() == "Generic":  # a direct media link is one video; a page or feed may hold several
        return os.path.splitext(urlsplit(url).path)[1].lower() not in MEDIA_EXTS
    return ie.is_single_video(url) is not True


def ydl_options(cfg: DownloadConfig, outdir: str | None = None, logger: Any = None) -> dict[str, Any]:
    """YoutubeDL options for ``cfg`` (format choice, politeness, retries, cookies, proxy)."""
    from curate.media import ffmpeg_exe

    h = f"[height<=?{cfg.max_height}]" if cfg.max_height else ""
    size = f"[filesize<?{cfg.max_bytes}]"
    if cfg.format:
        fmt = cfg.format
    elif cfg.audio:
        fmt = f"bv*{h}{size}+ba/b{h}{size}"
    else:
        fmt = f"bv{h}{size}/b{h}{size}"
    sort = []
    if cfg.max_height:
        sort.append(f"res:{cfg.max_height}")
    if cfg.prefer_h264_mp4:
        sort += ["vcodec:h264", "ext:mp4:m4a"]
    backoff = functools.partial(_backoff, cfg.backoff_s)
    opts: dict[str, Any] = {
        "format": fmt,
        "format_sort": sort,
        "merge_output_format": "mp4",
        "max_filesize": cfg.max_bytes,
        "noplaylist": True,
        "extract_flat": "in_playlist",
        "retries": cfg.retries,
        "fragment_retries": cfg.retries,
        "extractor_retries": cfg.retries,
        "retry_sleep_functions": {"http": backoff, "fragment": backoff, "extractor": backoff},
        "socket_timeout": cfg.socket_timeout_s,
        "ratelimit": cfg.ratelimit,
        "sleep_interval": cfg.sleep_interval_s or None,
        "max_sleep_interval": cfg.max_sleep_interval_s,
        "sleep_interval_requests": cfg.sleep_requests_s or None,
        "cookiefile": cfg.cookiefile,
        "proxy": cfg.proxy,
        "ffmpeg_location": ffmpeg_exe(),
        "quiet": True,
        "no_warnings": False,
        "noprogress": True,
        "color": {"stdout": "never", "stderr": "never"},
        "ignoreerrors": False,
        "nopart": False,
        "overwrites": False,
        "continuedl": True,
        "writesubtitles": False,
        "writeinfojson": False,
        "cachedir": False,
    }
    if logger is not None:
        opts["logger"] = logger
    if outdir is not None:
        opts["paths"] = {"home": outdir, "temp": outdir}
    opts.update(cfg.ytdlp_opts)
    return {k: v for k, v in opts.items() if v is not None}


def _backoff(base: float, n: int) -> float:
    return min(120.0, base * (2**n))


class CaptureLogger:
    """yt-dlp logger that keeps warnings/errors (for details and size-abort detection)."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def debug(self, msg: str) -> None:
        if "max-filesize" in msg or "Aborting" in msg:
            self.messages.append(msg)

    def info(self, msg: str) -> None:
        self.debug(msg)

    def warning(self, msg: str) -> None:
        self.messages.append(msg)
        log.debug("yt-dlp: %s", msg)

    def error(self, msg: str) -> None:
        self.messages.append(msg)


# -- error classification ------------------------------------------------------------------------

_MESSAGE_REASONS = [
    (r"confirm you.?re not a bot|not a robot|bot detection|captcha", "bot_check"),
    (r"private video|this video is private|video is private", "private"),
    (r"not available in your country|geo.?restrict|blocked it in your country|not available from your location", "geo_blocked"),
    (r"confirm your age|age.?restricted|inappropriate for some users", "age_restricted"),
    (r"members.?only|join this channel", "members_only"),
    (r"larger than max-filesize|file is larger than", "too_large"),
    (r"http error 429|too many requests", "rate_limited"),
    (r"http error 40[4]|http error 410|not found", "http_404"),
    (r"http error 403", "http_403"),
    (r"http error 5\d\d", "http_error"),
    (r"requested format is not available|no video formats found", "no_suitable_format"),
    (r"unsupported url", "unsupported_url"),
    (r"live event|premieres in|is_live|this live stream", "live"),
    (r"content too short|bytes read|expected \d+ bytes|incomplete", "truncated_download"),
    (r"video unavailable|is unavailable|has been removed|account.*terminated|not available|no longer available", "unavailable"),
    (r"timed out|timeout|connection refused|connection reset|name or service not known|"
     r"temporary failure in name resolution|network is unreachable|unable to connect|"
     r"remote end closed|connection aborted", "network"),
]

RETRYABLE = {"rate_limited", "http_error", "network", "truncated_download"}


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    todo = [exc]
    while todo:
        e = todo.pop(0)
        if e is None or any(e is s for s in seen) or len(seen) > 20:
            continue
        seen.append(e)
        info = getattr(e, "exc_info", None)
        if isinstance(info, tuple) and len(info) > 1 and isinstance(info[1], BaseException):
            todo.append(info[1])
        for attr in ("cause", "__cause__", "__context__"):
            nxt = getattr(e, attr, None)
            if isinstance(nxt, BaseException):
                todo.append(nxt)
    return seen


def classify(exc: BaseException) -> str:
    """Reason code for a yt-dlp failure (see docs/download.md 'Failure reasons')."""
    from yt_dlp.networking.exceptions import HTTPError, IncompleteRead, TransportError
    from yt_dlp.utils import ContentTooShortError, GeoRestrictedError, UnsupportedError

    chain = _chain(exc)
    for e in chain:
        if isinstance(e, GeoRestrictedError):
            return "geo_blocked"
        if isinstance(e, HTTPError):
            if e.status in (404, 410):
                return "http_404"
            if e.status == 429:
                return "rate_limited"
            if e.status == 403:
                return "http_403"
            if e.status >= 500:
                return "http_error"
        if isinstance(e, (ContentTooShortError, IncompleteRead)):
            return "truncated_download"
        if isinstance(e, UnsupportedError):
            return "unsupported_url"
    text = " ".join(str(e) for e in chain).lower()
    for pattern, reason in _MESSAGE_REASONS:
        if re.search(pattern, text):
            return reason
    if any(isinstance(e, (TransportError, socket.timeout, ConnectionError, TimeoutError)) for e in chain):
        return "network"
    return "download_error"


# -- expansion (driver side) ----------------------------------------------------------------------

def expand(src: str, cfg: DownloadConfig, depth: int = 0) -> list[dict[str, Any]]:
    """Rows for one yt-dlp source: one per video; a collection is flat-extracted (no media)."""
    if not is_collection(src):
        url = ytdl_url(src)
        if src.endswith(".info.json") and not src.startswith(YTDL_PREFIX):
            return [{"source": os.path.abspath(src), "source_kind": "ytdl", "status": "ok"}]
        platform, pid = platform_video_id(url)
        return [{"source": url, "source_kind": "ytdl", "status": "ok",
                 "video_id": ytdl_video_id(platform, pid, url)}]
    import yt_dlp

    opts = ydl_options(cfg, logger=CaptureLogger())
    opts["extract_flat"] = "in_playlist"
    if cfg.max_entries:
        opts["playlistend"] = cfg.max_entries
    try:
        with yt_dlp.YoutubeDL(opts) as ydl:
            info = ydl.extract_info(ytdl_url(src), download=False)
    except Exception as exc:  # noqa: BLE001 - one bad query must not stop discovery
        reason = classify(exc)
        log.warning("could not expand %s (%s): %s", src, reason, exc)
        return [{"source": src, "source_kind": "ytdl", "status": "failed", "error": reason,
                 "error_detail": f"expand: {exc}"}]
    rows: list[dict[str, Any]] = []
    entries = list(info.get("entries") or []) if info.get("_type") == "playlist" else [info]
    for e in entries:
        if not e:
            continue
        url = e.get("webpage_url") or e.get("url")
        if not url:
            continue
        ie_key = e.get("ie_key") or e.get("extractor_key")
        ie = next((i for i in _extractors() if i.ie_key() == ie_key), None) if ie_key else None
        if depth < 2 and ie is not None and ie.suitable(url) and ie.is_single_video(url) is False:
            rows += expand(YTDL_PREFIX + url, cfg, depth + 1)  # e.g. a channel's tabs
            continue
        platform, pid = (ie_key, e.get("id")) if ie_key and e.get("id") else platform_video_id(url)
        rows.append({"source": url, "source_kind": "ytdl", "status": "ok",
                     "video_id": ytdl_video_id(platform, pid, url)})
    if cfg.max_entries:
        rows = rows[: cfg.max_entries]
    if not rows:
        log.warning("yt-dlp source %s has no entries", src)
    return rows


# -- provenance -----------------------------------------------------------------------------------

def _date(s: Any) -> dt.date | None:
    if isinstance(s, str) and re.fullmatch(r"\d{8}", s):
        try:
            return dt.date(int(s[:4]), int(s[4:6]), int(s[6:]))
        except ValueError:
            return None
    return None


def provenance(info: dict[str, Any]) -> dict[str, Any]:
    """The provenance columns (schemas/provenance.py) from a yt-dlp info dict."""
    from yt_dlp.version import __version__

    chapters = [
        {"start": float(c.get("start_time") or 0.0),
         "end": float(c["end_time"]) if c.get("end_time") is not None else None,
         "title": c.get("title")}
        for c in info.get("chapters") or []
    ]
    raw = info.get("license")
    return {
        "platform": (info.get("extractor_key") or info.get("extractor") or "").lower() or None,
        "platform_id": str(info["id"]) if info.get("id") is not None else None,
        "webpage_url": info.get("webpage_url") or info.get("original_url"),
        "title": info.get("title"),
        "uploader": info.get("uploader") or info.get("creator") or info.get("channel"),
        "uploader_url": info.get("uploader_url"),
        "channel": info.get("channel"),
        "channel_url": info.get("channel_url"),
        "upload_date": _date(info.get("upload_date")),
        "licence_raw": raw,
        "licence": normalise(raw),
        "description": info.get("description"),
        "tags": [str(t) for t in info.get("tags") or []],
        "chapters": chapters,
        "subtitle_langs": sorted((info.get("subtitles") or {}).keys()),
        "auto_caption_langs": sorted((info.get("automatic_captions") or {}).keys()),
        "source_duration_s": float(info["duration"]) if info.get("duration") is not None else None,
        "format_id": info.get("format_id"),
        "ytdlp_version": __version__,
    }
