"""Media helpers shared by stages: the ffmpeg binary, probing, streaming low-res decode.

Probing and decoding use PyAV (FFmpeg's libraries in-process, no subprocess per frame);
clip files and thumbnails are cut by the ``ffmpeg`` binary (system one if present, else the
one shipped in the ``imageio-ffmpeg`` wheel).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import math
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
import numpy as np

from curate.stage import StageError


@functools.lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """Path of an ffmpeg binary: ``$CURATE_FFMPEG``, the system ffmpeg, or imageio-ffmpeg's."""
    env = os.environ.get("CURATE_FFMPEG")
    if env:
        return env
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception as exc:  # pragma: no cover - depends on the machine
        raise RuntimeError("no ffmpeg found: install ffmpeg or the imageio-ffmpeg wheel") from exc


def run_ffmpeg(args: list[str], timeout: float = 600) -> None:
    """Run ffmpeg quietly; raise StageError('ffmpeg_failed' / 'disk_full') with its last stderr lines."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise StageError("ffmpeg_timeout", f"ffmpeg took longer than {timeout}s") from None
    err = proc.stderr.decode(errors="replace")
    tail = err.strip().splitlines()[-3:]
    if "No space left on device" in err or "Disk quota exceeded" in err:
        # ffmpeg 5.x exits 0 after "Error writing trailer ... No space left on device": never trust the exit code alone
        raise StageError("disk_full", " | ".join(tail))
    if proc.returncode != 0:
        raise StageError("ffmpeg_failed", " | ".join(tail) or f"exit {proc.returncode}")


def sha256_file(path: str, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def worker_cpus() -> int:
    """CPUs this process may keep busy: inside a Ray task or actor, its CPU reservation (at least
    1); elsewhere the process's CPU affinity. Used where ``threads: 0`` means "as many as I have"."""
    ray = sys.modules.get("ray")  # never import Ray just to ask
    if ray is not None and ray.is_initialized():
        try:
            cpus = ray.get_runtime_context().get_assigned_resources().get("CPU")
            return max(1, int(cpus or 1))
        except AssertionError:  # the driver: no reservation, fall through
            pass
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS / Windows
        return os.cpu_count() or 1


@dataclass
class ProbeResult:
    container: str
    duration_s: float
    fps: float
    num_frames: int
    width: int
    height: int
    rotation: int
    codec: str
    pix_fmt: str | None
    bit_rate: int | None
    has_audio: bool
    vfr: bool = False


    def as_row(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _open(path: str) -> av.container.InputContainer:
    if not os.path.exists(path):
        raise StageError("not_found", f"no such file: {path}")
    if os.path.getsize(path) == 0:
        raise StageError("empty_file", "file is 0 bytes")
    try:
        return av.open(path, metadata_errors="ignore")
    except av.error.InvalidDataError as exc:
        raise StageError("not_a_video", f"FFmpeg cannot read the container: {exc}") from None
    except av.error.FFmpegError as exc:
        raise StageError("corrupt_container", f"FFmpeg cannot open the file: {exc}") from None


@contextlib.contextmanager
def open_video(path: str, threads: int = 0) -> Iterator[tuple[av.container.InputContainer, av.video.stream.VideoStream]]:
    """Open ``path`` for decoding its first video stream with FFmpeg's frame threads.

    Raises StageError with a reason code (empty_file, not_a_video, no_video_stream, ...).
    """
    with _open(path) as c:
        if not c.streams.video:
            raise StageError("no_video_stream", "no video stream")
        vs = c.streams.video[0]
        vs.thread_type = "AUTO"
        if threads:
            vs.codec_context.thread_count = threads
        yield c, vs


@dataclass(frozen=True)
class FrameTimes:
    """Presentation timestamps of every frame of a video stream, in presentation order.

    ``pts[i]`` is frame ``i``'s timestamp in ``time_base`` units: frame ``i`` is the ``i``-th
    frame a decoder outputs, i.e. the index the cuts stage counts. ``seconds[i]`` is relative to
    the first frame."""

    pts: np.ndarray  # int64, sorted
    time_base: Fraction

    @property
    def seconds(self) -> np.ndarray:
        return (self.pts - self.pts[0]).astype(np.float64) * float(self.time_base) if len(self.pts) else self.pts

    def at(self, i: int) -> float:
        """Seconds of frame ``i`` from the first frame; ``i == len`` = the end of the last frame
        (its start + the last frame interval)."""
        sec = self.seconds
        if i < len(sec):
            return float(sec[i])
        last = float(sec[-1] - sec[-2]) if len(sec) > 1 else 0.0
        return float(sec[-1]) + last * (i - len(sec) + 1)


def frame_times(path: str) -> FrameTimes:
    """Every frame's timestamp from one demux pass (no decode): the packets' pts, sorted.

    Packets without a pts, empty packets (AVI "dropped frame" entries) and packets the demuxer
    marks as discarded (edit lists) produce no decoded frame and are left out. Costs a read of
    the file (~2-15 ms for the 0.5-8 MB sample footage)."""
    with open_video(path, threads=1) as (c, vs):
        tb = vs.time_base or Fraction(1, 1)
        pts = [p.pts for p in c.demux(vs) if p.pts is not None and p.size > 0 and not p.is_discard]
    return FrameTimes(np.sort(np.asarray(pts, dtype=np.int64)), tb)


def is_vfr(times: FrameTimes) -> bool:
    """True when frame index / a constant rate cannot give every frame's time: the timestamps
    leave a straight-line fit (time vs index) by more than half a frame interval anywhere
    (and by more than 2 timestamp ticks, so the rounding of coarse time bases is not VFR).
    One long gap (a phone dropping frames) or a rate change mid-file both count."""
    sec = times.seconds
    n = len(sec)
    if n < 3:
        return False
    idx = np.arange(n, dtype=np.float64)
    slope, icpt = np.polyfit(idx, sec, 1)
    if slope <= 0:
        return True
    resid = float(np.max(np.abs(sec - (icpt + slope * idx))))
    return bool(resid > max(0.5 * slope, 2.0 * float(times.time_base)))


_STANDARD_RATES = [Fraction(24000, 1001), Fraction(24), Fraction(25), Fraction(30000, 1001), Fraction(30),
                   Fraction(48), Fraction(50), Fraction(60000, 1001), Fraction(60), Fraction(100),
                   Fraction(120000, 1001), Fraction(120)]


def cfr_rate(times: FrameTimes) -> Fraction:
    """The constant rate a variable-frame-rate stream is resampled to: the rate of its fastest
    steady stretch (1 / the 10th percentile of frame intervals, so no frame of a 50 fps part is
    dropped when the rest is 10 or 25 fps), snapped to the nearest standard rate within 1.5 %,
    else rounded up to a whole number (1..240 fps)."""
    dt = np.diff(times.seconds)
    dt = dt[dt > 0]
    if not len(dt):
        return Fraction(25)
    r = 1.0 / float(np.percentile(dt, 10))
    std = min(_STANDARD_RATES, key=lambda q: abs(r / float(q) - 1))
    if abs(r / float(std) - 1) <= 0.015:
        return std
    return Fraction(int(min(240, max(1, math.ceil(r - 0.05)))))


def probe(path: str) -> ProbeResult:
    """Read container/stream metadata without decoding; raise StageError with a reason code."""
    with _open(path) as c:
        vstreams = [s for s in c.streams.video if s.codec_context is not None]
        if not vstreams:
            kinds = sorted({s.type for s in c.streams})
            raise StageError("no_video_stream", f"streams present: {', '.join(kinds) or 'none'}")
        vs = vstreams[0]
        rate = vs.average_rate or vs.guessed_rate or vs.base_rate
        fps = float(rate) if rate else 0.0
        if vs.duration is not None and vs.time_base is not None:
            duration = float(vs.duration * vs.time_base)
        elif c.duration is not None:
            duration = c.duration / av.time_base
        else:
            duration = 0.0
        frames = int(vs.frames or 0) or int(round(duration * fps))
        if fps <= 0 or vs.codec_context.width <= 0:
            raise StageError("corrupt_container", "video stream has no frame rate or size")
        rotation = 0
        try:  # decoding the first frame proves the stream decodes and gives the display rotation
            first = next(c.decode(vs), None)
        except av.error.FFmpegError as exc:
            raise StageError("decode_error", f"first frame does not decode: {exc}") from None
        if first is None:
            raise StageError("decode_error", "the video stream has no decodable frames")
        # FFmpeg's display-matrix angle (av_display_rotation_get; what ffprobe prints as the side
        # data's `rotation`): degrees the coded picture is turned COUNTER-clockwise for display
        rotation = int(round(float(getattr(first, "rotation", 0) or 0)))
        result = ProbeResult(
            container=c.format.name,
            duration_s=duration,
            fps=fps,
            num_frames=frames,
            width=vs.codec_context.width,
            height=vs.codec_context.height,
            rotation=rotation % 360,  # ffprobe's sign, normalised to 0..359 (-90 -> 270)
            codec=vs.codec_context.name,
            pix_fmt=vs.codec_context.pix_fmt,
            bit_rate=int(c.bit_rate) if c.bit_rate else None,
            has_audio=len(c.streams.audio) > 0,
        )
    try:
        result.vfr = bool(is_vfr(frame_times(path)))
    except (av.error.FFmpegError, StageError):  # a damaged tail: the cuts stage will say so
        result.vfr = False
    return result


def scaled_size(width: int, height: int, target_width: int) -> tuple[int, int]:
    """(w, h) with w = min(target, width), even, aspect kept."""
    w = min(target_width, width)
    h = max(2, int(round(height * w / width / 2)) * 2)
    return max(2, w - w % 2), h


def iter_frames(
    path: str, width: int, fmt: str = "bgr24", threads: int = 0, interpolation: str = "FAST_BILINEAR",
    size: tuple[int, int] | None = None,
) -> Iterator[tuple[int, float, np.ndarray]]:
    """Stream (frame_index, pts_seconds, HxWx3 uint8) downscaled to ``width``.

    One decode, constant memory: only the current frame is alive. ``size=(w, h)`` forces an
    exact size (aspect not kept), e.g. TransNetV2's 48x27. Raises
    StageError('decode_error') if the stream breaks before any frame, and
    StageError('truncated') if it breaks mid-way.
    """
    with open_video(path, threads) as (c, vs):
        w, h = size or scaled_size(vs.codec_context.width, vs.codec_context.height, width)
        tb = vs.time_base or Fraction(1, 1)
        i = 0
        try:
            for frame in c.decode(vs):
                # swscale scales and converts in one pass; FAST_BILINEAR costs ~1/3 of the
                # default bicubic at 720p->256px and is plenty for analysis
                img = frame.to_ndarray(format=fmt, width=w, height=h, interpolation=interpolation)
                pts = float(frame.pts * tb) if frame.pts is not None else float("nan")
                yield i, pts, img
                i += 1
        except av.error.FFmpegError as exc:
            raise decode_failure(exc, i, f"after {i} frames") from None
        if i == 0:
            raise StageError("decode_error", "the video stream has no decodable frames")


def upright(img: np.ndarray, quarter_turns: int) -> np.ndarray:
    """``img`` turned by ``quarter_turns`` (see :func:`display_quarter_turns`): as players show it."""
    return np.ascontiguousarray(np.rot90(img, quarter_turns)) if quarter_turns else img


def display_quarter_turns(frame: av.VideoFrame) -> int:
    """Counter-clockwise quarter turns that show ``frame`` upright (its display matrix; 0..3).

    PyAV's ``VideoFrame.rotation`` is FFmpeg's ``av_display_rotation_get`` of the frame's
    display matrix: the angle the coded picture is rotated counter-clockwise for display
    (90 or -90 for portrait phone videos). ``np.rot90(img, turns)`` then gives exactly what
    ``ffmpeg`` (autorotate) and players show (checked in tests/test_scores.py)."""
    try:
        rot = float(getattr(frame, "rotation", 0) or 0)
    except (TypeError, ValueError):
        return 0
    return int(round(rot / 90.0)) % 4


def decode_failure(exc: Exception, decoded: int, where: str) -> StageError:
    """The reason for a decoder error: ``decode_error`` before any frame, else ``truncated``."""
    if decoded == 0:
        return StageError("decode_error", f"no frame could be decoded: {exc}")
    return StageError("truncated", f"decoding stopped {where}: {exc}")


def verify_clip(path_or_file: Any, frames: int | None, width: int | None = None, height: int | None = None,
                key: str | None = None) -> str | None:
    """Why a clip file must not be used, or None when it is sound.

    Checks without decoding every frame: the container opens (a file whose ``moov``/trailer was
    never written -- ffmpeg exits 0 after ``Error writing trailer ... No space left on device``
    -- does not), its video stream holds ``frames`` packets (demuxed, not decoded; +-1 for
    encoders that drop or duplicate one at a boundary), the coded size is ``width`` x ``height``
    when given, and the ``curate_key`` tag (the encode settings the file
    was cut with) equals ``key`` when given, so a resume with other clip settings re-cuts it.
    ``frames=None`` skips the count (a stream copy starts at the keyframe before the span).
    """
    try:
        c = av.open(path_or_file, metadata_errors="ignore")
    except (av.error.FFmpegError, OSError) as exc:
        return f"unreadable: {exc}"
    with c:
        if not c.streams.video:
            return "no video stream"
        vs = c.streams.video[0]
        tags = {k.lower(): v for k, v in (c.metadata or {}).items()}
        if key is not None and tags.get("comment") != f"curate_key={key}":
            return f"made with other clip settings ({tags.get('comment')!r} != 'curate_key={key}')"
        if width and height and (vs.codec_context.width, vs.codec_context.height) not in ((width, height), (height, width)):
            return f"size {vs.codec_context.width}x{vs.codec_context.height}, expected {width}x{height}"
        n = 0
        try:
            for pkt in c.demux(vs):
                n += 1 if pkt.size else 0
        except av.error.FFmpegError as exc:
            return f"demux error after {n} packets: {exc}"
        if frames is not None and abs(n - frames) > 1:
            return f"{n} frames, expected {frames}"
    return None
