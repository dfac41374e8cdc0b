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
    cache_dir: str | None = Field(None, description="Where downloads go (default: <output>/media/downloads).")
    keep_downloads: bool = Field(True, description="Keep downloaded source files after processing.")


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


class AnalyzeConfig(Section):
    """Per-clip scores from ONE low-resolution decode (motion, quality, overlay, OCR, pHash)."""

    enabled: bool = Field(True, description="Run the analyse stage (scores). Off: score columns stay null.")
    width: int = Field(256, ge=64, description="Analysis width in pixels (flow, quality, overlay, pHash).")
    pairs_per_s: float = Field(3.0, gt=0, description="Consecutive frame pairs sampled per second for optical flow and frozen-frame detection.")
    max_pairs: int = Field(64, ge=1, description="At most this many flow pairs per clip (spread evenly).")
    static_px: float = Field(0.15, ge=0, description="Global camera motion below this (px/frame, 256-px normalised) is labelled 'static'.")
    frozen_diff: float = Field(0.5, ge=0, description="A frame pair whose mean |luma diff| is below this (grey levels) counts as frozen.")
    border_luma: int = Field(20, ge=0, le=255, description="Rows/columns whose 98th-percentile luma is <= this are black bars.")
    overlay: bool = Field(True, description="Run the static-overlay (logo/watermark) detector.")
    overlay_per_s: float = Field(2.0, gt=0, description="Frames per second sampled by the overlay detector.")
    overlay_max_frames: int = Field(24, ge=4, description="At most this many overlay frames per clip.")
    ocr: bool = Field(True, description="Run PP-OCR (rapidocr-onnxruntime) on a few frames per clip.")
    ocr_frames: int = Field(3, ge=1, description="Frames per clip given to OCR (spread evenly).")
    ocr_width: int = Field(640, ge=64, description="OCR frames are decoded at most this wide.")
    ocr_min_score: float = Field(0.5, ge=0, le=1, description="Drop recognised text below this confidence.")
    ocr_threads: int = Field(1, ge=1, description="ONNX Runtime threads per OCR engine.")
    phash_per_s: float = Field(1.0, gt=0, description="Perceptual hashes per second of clip (for dedup).")
    phash_max: int = Field(32, ge=1, description="At most this many hashes per clip.")
    watermark_model: str | None = Field(
        None, description="Learned watermark classifier: local .onnx file, or HF id/folder (loaded offline). None = off."
    )
    watermark_frames: int = Field(3, ge=1, description="Frames per clip given to the watermark classifier.")
    threads: int = Field(0, ge=0, description="Decoder threads (0 = FFmpeg default).")
    num_cpus: float = Field(1.0, gt=0, description="CPUs reserved per analyse actor.")
    concurrency: int | None = Field(None, ge=1, description="Analyse actors (None = ray.video_concurrency, else CPUs // 2).")
    batch_size: int = Field(4, ge=1, description="Rows per batch handed to an analyse actor.")


class FilterConfig(Section):
    """Thresholds on the score columns. A clip failing any gets status 'rejected' and every
    failed threshold in ``reject_reasons``; it stays in the clips table. None = no threshold."""

    enabled: bool = Field(True, description="Apply the thresholds below.")
    min_motion_score: float | None = Field(0.25, ge=0, description="Reject below (px/frame at 256 px; Data-Juicer flow filter uses 0.25).")
    max_motion_score: float | None = Field(None, ge=0, description="Reject above (e.g. flashing/very fast content).")
    max_text_area_ratio: float | None = Field(0.02, ge=0, description="Reject when OCR text covers more than this fraction of the frame.")
    max_ocr_boxes: int | None = Field(None, ge=0, description="Reject when one OCR frame has more text boxes than this (Open-Sora style).")
    max_overlay_prob: float | None = Field(0.8, ge=0, le=1, description="Reject static overlays (logos/watermarks) above this.")
    max_watermark_prob: float | None = Field(0.8, ge=0, le=1, description="Reject above (Data-Juicer watermark p >= 0.8); null scores never reject.")
    min_sharpness: float | None = Field(20.0, ge=0, description="Reject blurrier clips (Laplacian variance at analyze.width).")
    min_brightness: float | None = Field(0.06, ge=0, le=1, description="Reject too-dark clips (mean luma).")
    max_brightness: float | None = Field(0.94, ge=0, le=1, description="Reject washed-out clips (mean luma).")
    min_contrast: float | None = Field(None, ge=0, le=1, description="Reject flatter clips (luma std).")
    min_colorfulness: float | None = Field(None, ge=0, description="Reject greyer clips (Hasler-Suesstrunk).")
    max_border_frac: float | None = Field(0.5, ge=0, le=1, description="Reject when black bars cover more of the frame.")
    max_static_ratio: float | None = Field(0.5, ge=0, le=1, description="Reject when more sampled frame pairs are frozen.")
    reject_camera_motion: list[str] = Field(default_factory=list, description="Camera-motion labels to reject (e.g. [shaky]).")


class DedupConfig(Section):
    """Near-duplicate clips by perceptual hash, run on the driver after the shards are written."""

    enabled: bool = Field(True, description="Write dedup/ after each run (also: `curate dedup OUTPUT_DIR`).")
    max_distance: int = Field(10, ge=0, le=64, description="Two frame hashes match when their Hamming distance is <= this (of 64 bits).")
    min_matched: float = Field(0.5, gt=0, le=1, description="A clip duplicates another when this fraction of its hashes match that clip's.")
    max_bucket: int = Field(2000, ge=2, description="Skip hash buckets larger than this (degenerate, e.g. near-flat frames).")


class OutputConfig(Section):
    dir: str = Field("output", description="Output directory or fsspec URL (s3://bucket/prefix).")
    shard_clips: int = Field(5000, ge=1, description="Flush a shard once this many clip rows are buffered.")
    shard_videos: int = Field(500, ge=1, description="...or once this many video rows are buffered.")
    compression: str = Field("zstd", description="Parquet compression codec.")


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
    probe: ProbeConfig = Field(default_factory=ProbeConfig)
    cuts: CutsConfig = Field(default_factory=CutsConfig)
    clips: ClipsConfig = Field(default_factory=ClipsConfig)
    analyze: AnalyzeConfig = Field(default_factory=AnalyzeConfig)
    filter: FilterConfig = Field(default_factory=FilterConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    ray: RayConfig = Field(default_factory=RayConfig)

    def hash(self) -> str:
        """Stable hash of the settings that change results (ray/output settings excluded)."""
        data = self.model_dump(mode="json", exclude={"ray": True, "output": True, "name": True})
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
