"""Typed pipeline configuration.

One YAML file per pipeline is loaded into :class:`Config`. Unknown keys are rejected with
a message naming the key and the file; ``--set section.key=value`` overrides any value.
Every stage receives only its own section, so stages stay testable in isolation.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class Section(BaseModel):
    """Base for every config section: unknown keys are errors, values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class InputConfig(Section):
    """Where videos come from."""

    sources: list[str] = Field(
        default_factory=lambda: ["samples://"],
        description=(
            "Each entry is a folder, a glob, a media file, a list file (.txt/.csv/.parquet with a "
            "`url`/`path`/`source` column, one source per line for .txt), a single http(s):// or "
            "fsspec URL (s3://, gs://, ...), or `samples://` for the bundled sample videos."
        ),
    )
    extensions: list[str] = Field(
        default_factory=lambda: [".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".ts", ".flv"],
        description="File extensions picked up when a source is a folder or glob.",
    )
    max_videos: int | None = Field(None, ge=1, description="Stop after this many videos (debugging).")


class FetchConfig(Section):
    """Fetching remote sources (http(s)/fsspec) to local disk before probing."""

    timeout_s: float = Field(60.0, gt=0, description="Connect/read timeout per request.")
    max_bytes: int = Field(4 * 1024**3, gt=0, description="Reject downloads larger than this (bytes).")
    retries: int = Field(3, ge=0, description="Retries on timeouts, 429 and 5xx (exponential backoff).")
    backoff_s: float = Field(1.0, ge=0, description="First backoff delay; doubles each retry.")
    cache_dir: str | None = Field(None, description="Where downloads go (default: <output>/_work/downloads).")


YTDL_HOSTS = [
    "youtube.com", "youtu.be", "youtube-nocookie.com", "vimeo.com", "dailymotion.com", "dai.ly",
    "commons.wikimedia.org", "archive.org", "flickr.com", "peertube.tv", "framatube.org",
]


class DownloadConfig(Section):
    """yt-dlp downloads with a licence gate (see docs/download.md)."""

    hosts: list[str] = Field(
        default_factory=lambda: list(YTDL_HOSTS),
        description=(
            "http(s) URLs on these hosts (or their subdomains) go through yt-dlp instead of `fetch`. "
            "Any source prefixed `ytdl://`, yt-dlp search queries (`ytsearch10:...`), `ytcc10:...` "
            "(YouTube Creative-Commons search) and `*.info.json` files always do."
        ),
    )
    allow_licences: list[str] = Field(
        default_factory=lambda: ["CC-BY", "CC-BY-SA", "CC0", "public-domain"],
        min_length=1,
        description="Normalised licence ids or families admitted by the gate (CC-BY admits CC-BY-3.0/4.0, not CC-BY-NC).",
    )
    allow_unknown_licence: bool = Field(
        False,
        description="Admit videos whose licence is missing/unreadable (logged loudly; rows get licence_gate=allow_unknown).",
    )
    max_height: int | None = Field(720, ge=16, description="Highest video height to download (None = best).")
    prefer_h264_mp4: bool = Field(True, description="Prefer H.264 in MP4 over VP9/AV1/WebM when several fit.")
    audio: bool = Field(False, description="Also download and merge the best audio track.")
    format: str | None = Field(None, description="Raw yt-dlp format selector; overrides max_height/prefer_h264_mp4/audio.")
    max_bytes: int = Field(2 * 1024**3, gt=0, description="Reject (too_large) media larger than this, before or while downloading.")
    max_duration_s: float | None = Field(3 * 3600.0, gt=0, description="Reject (too_long) videos longer than this, before downloading.")
    max_entries: int | None = Field(None, ge=1, description="At most this many videos per playlist/channel/search source.")
    concurrency: int = Field(2, ge=1, description="Concurrent yt-dlp downloads across the run (Ray tasks of this stage).")
    ratelimit: int | None = Field(None, gt=0, description="Download rate limit per download, bytes/s (yt-dlp ratelimit).")
    sleep_interval_s: float = Field(0.0, ge=0, description="Sleep before each download (yt-dlp sleep_interval).")
    max_sleep_interval_s: float | None = Field(None, ge=0, description="Random sleep up to this (yt-dlp max_sleep_interval).")
    sleep_requests_s: float = Field(0.0, ge=0, description="Sleep between metadata requests (yt-dlp sleep_interval_requests).")
    retries: int = Field(3, ge=0, description="Retries (exponential backoff) on 429, 5xx, timeouts and truncated bodies.")
    backoff_s: float = Field(2.0, ge=0, description="First backoff delay; doubles each retry (capped at 120 s).")
    socket_timeout_s: float = Field(30.0, gt=0, description="Socket timeout per request.")
    cookiefile: str | None = Field(None, description="Netscape cookies.txt passed to yt-dlp (bot checks, age/members gates).")
    proxy: str | None = Field(None, description="Proxy URL passed to yt-dlp (http://, socks5://), e.g. for geo blocks.")
    cache_dir: str | None = Field(None, description="Where media goes (default: <output>/_work/ytdl).")
    ytdlp_opts: dict[str, Any] = Field(
        default_factory=dict, description="Extra YoutubeDL options (expert; the licence gate and output paths cannot be changed here)."
    )

    @model_validator(mode="after")
    def _check(self) -> DownloadConfig:
        bad = {"outtmpl", "paths", "match_filter", "simulate", "skip_download"} & set(self.ytdlp_opts)
        if bad:
            raise ValueError(f"download.ytdlp_opts may not set {sorted(bad)} (managed by curate)")
        return self


class ProbeConfig(Section):
    sha256: bool = Field(True, description="Hash each media file (SHA-256).")


class CutsConfig(Section):
    """Shot-boundary detection on one downscaled decode (PySceneDetect detectors)."""

    detector: Literal["adaptive", "content", "none"] = Field(
        "adaptive", description="adaptive = AdaptiveDetector, content = ContentDetector, none = one shot per video."
    )
    analysis_width: int = Field(256, ge=32, description="Frames are downscaled to this width before analysis.")
    threshold: float = Field(27.0, gt=0, description="ContentDetector threshold (video2dataset/PySceneDetect default 27).")
    adaptive_threshold: float = Field(3.0, gt=0, description="AdaptiveDetector ratio threshold (PySceneDetect default 3.0).")
    min_content_val: float = Field(15.0, ge=0, description="AdaptiveDetector minimum content value.")
    window_width: int = Field(2, ge=1, description="AdaptiveDetector rolling window (frames).")
    min_scene_len: int = Field(15, ge=1, description="Minimum frames between two cuts.")
    threads: int = Field(0, ge=0, description="Decoder threads (0 = FFmpeg default).")


class ClipsConfig(Section):
    """Turn shots into clip spans and clip files."""

    min_s: float = Field(2.0, gt=0, description="Drop spans shorter than this (seconds).")
    max_s: float = Field(60.0, gt=0, description="Split shots longer than this into equal windows <= max_s.")
    trim_frames: int = Field(2, ge=0, description="Frames dropped on each side of a cut (transition frames).")
    long_take_min_s: float = Field(10.0, gt=0, description="Shots at least this long are long takes (LVD-2M).")
    long_takes_only: bool = Field(False, description="Keep only clips from long takes.")
    write_files: bool = Field(True, description="Cut clip files with ffmpeg (frame-accurate unless codec=copy).")
    codec: str = Field("libx264", description="ffmpeg video encoder for clip files (libx264, libvpx-vp9, h264_nvenc, or copy).")
    crf: int = Field(20, ge=0, le=63, description="Constant rate factor for libx264/libvpx-vp9.")
    preset: str = Field("veryfast", description="Encoder preset (libx264/nvenc).")
    max_height: int | None = Field(None, ge=16, description="Downscale clip files to at most this height (None = keep).")
    audio: bool = Field(False, description="Keep the audio track in clip files.")
    thumbnails: bool = Field(True, description="Write one middle-frame JPEG per clip.")
    thumbnail_width: int = Field(320, ge=16, description="Thumbnail width in pixels.")

    @model_validator(mode="after")
    def _check(self) -> ClipsConfig:
        if self.max_s < self.min_s:
            raise ValueError(f"clips.max_s ({self.max_s}) must be >= clips.min_s ({self.min_s})")
        return self


class OutputConfig(Section):
    dir: str = Field("output", description="Output directory or fsspec URL (s3://bucket/prefix).")
    shard_clips: int = Field(5000, ge=1, description="Flush a shard once this many clip rows are buffered.")
    shard_videos: int = Field(500, ge=1, description="...or once this many video rows are buffered.")
    compression: str = Field("zstd", description="Parquet compression codec.")
    retry_errors: list[str] = Field(
        default_factory=lambda: ["network", "rate_limited", "http_error", "truncated_download", "ffmpeg_timeout"],
        description="On a re-run, videos that failed with one of these (transient) reasons are removed "
        "from the shards and processed again; every other finished video is skipped.",
    )


class ReportConfig(Section):
    """What ``curate run`` writes about the dataset when it finishes (never fails the run)."""

    enabled: bool = Field(True, description="Write <output>/report.html (run summary, score histograms, contact sheets).")
    card: bool = Field(True, description="Write <output>/README.md, a Hugging Face dataset card for the shards.")
    top_n: int = Field(8, ge=1, description="Clips per top/bottom contact sheet of each score.")
    max_rejects: int = Field(24, ge=0, description="Rejected clips shown in the rejects contact sheet.")


class RayConfig(Section):
    address: str | None = Field(None, description="Ray address; None starts/attaches locally, 'auto' joins a cluster.")
    num_cpus: int | None = Field(None, ge=1, description="CPUs for a local Ray instance (None = all).")
    object_store_memory: int | None = Field(None, ge=78643200, description="Object store bytes for a local instance.")
    video_concurrency: int | None = Field(None, ge=1, description="Actors per video-level stage (None = CPUs).")
    batch_size: int = Field(1, ge=1, description="Videos per batch for video-level stages.")
    disable_resource_reservation: bool = Field(
        True, description="Turn off Ray Data's per-operator reservation (helps small machines stream)."
    )


class Config(Section):
    """The whole pipeline. Each field is one section of the YAML file."""

    name: str = Field("curate", description="Dataset name (used in the manifest and cards).")
    input: InputConfig = Field(default_factory=InputConfig)
    fetch: FetchConfig = Field(default_factory=FetchConfig)
    download: DownloadConfig = Field(default_factory=DownloadConfig)
    probe: ProbeConfig = Field(default_factory=ProbeConfig)
    cuts: CutsConfig = Field(default_factory=CutsConfig)
    clips: ClipsConfig = Field(default_factory=ClipsConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    ray: RayConfig = Field(default_factory=RayConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)

    def hash(self) -> str:
        """Stable hash of the settings that change results (ray/output settings excluded)."""
        data = self.model_dump(mode="json", exclude={"ray": True, "output": True, "name": True, "report": True})
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


class ConfigError(ValueError):
    """A config file or override is invalid; the message says what to fix."""


def _set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    cur = data
    for k in keys[:-1]:
        nxt = cur.setdefault(k, {})
        if not isinstance(nxt, dict):
            raise ConfigError(f"--set {dotted}: '{k}' is not a section")
        cur = nxt
    cur[keys[-1]] = value


def parse_override(text: str) -> tuple[str, Any]:
    """``section.key=value`` -> (``section.key``, YAML-parsed value)."""
    if "=" not in text:
        raise ConfigError(f"--set expects section.key=value, got {text!r}")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"--set expects section.key=value, got {text!r}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key, value


def _format_error(err: ValidationError, origin: str) -> str:
    lines = [f"invalid config {origin}:"]
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"])
        if e["type"] == "extra_forbidden":
            lines.append(f"  unknown key '{loc}' (check spelling; see README 'Config reference')")
        else:
            lines.append(f"  {loc}: {e['msg']}")
    return "\n".join(lines)


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Load a YAML config (or defaults when ``path`` is None) and apply ``--set`` overrides.

    Raises :class:`ConfigError` with a message naming the file and the bad key.
    """
    data: dict[str, Any] = {}
    origin = "(defaults)"
    if path is not None:
        p = Path(path)
        origin = str(p)
        if not p.is_file():
            raise ConfigError(f"config file not found: {p}")
        try:
            loaded = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {p} is not valid YAML: {exc}") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {p} must be a mapping of sections, got {type(loaded).__name__}")
        data = loaded
    for ov in overrides or []:
        key, value = parse_override(ov)
        _set_path(data, key, value)
    if overrides:
        origin += " with --set " + " ".join(overrides)
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_error(err, origin)) from None
