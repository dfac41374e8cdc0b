"""Decoding a clip span once, converting only the frames some analyser asked for.

``decode_span`` seeks to the keyframe before ``start_frame`` in the source file, decodes
forward (every frame must be decoded for inter-coded video) and hands out :class:`Frame`
objects only for wanted offsets; the scale+colour conversion (swscale) runs only for those.
Frame indices are derived from timestamps (``round((pts - stream_start) * fps)``), which
matches the decode-order count used by the cuts stage for constant-frame-rate video.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

import av
import cv2
import numpy as np

from curate.media import open_video, scaled_size
from curate.stage import StageError


_LUMA_FORMATS = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "yuv440p", "yuvj440p",
                 "yuv411p", "nv12", "nv21", "gray"}
_LIMITED_TO_FULL = np.clip((np.arange(256) - 16) * 255.0 / 219.0 + 0.5, 0, 255).astype(np.uint8)


def _luma_plane(frame: av.VideoFrame) -> np.ndarray | None:
    """The 8-bit Y plane as a (view of a) HxW array, or None for other pixel formats."""
    if frame.format.name not in _LUMA_FORMATS:
        return None
    plane = frame.planes[0]
    arr = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
    return arr[:, : frame.width]


class Frame:
    """One decoded frame with lazy, cached conversions."""

    __slots__ = ("_av", "_bgr", "_gray", "_h", "_hires", "_w")

    def __init__(self, frame: av.VideoFrame | None, width: int, height: int, bgr: np.ndarray | None = None):
        self._av, self._w, self._h = frame, width, height
        self._bgr, self._gray, self._hires = bgr, None, {}

    @classmethod
    def from_array(cls, bgr: np.ndarray) -> Frame:
        """A frame from an HxWx3 BGR array (tests, or callers with their own decoder)."""
        return cls(None, bgr.shape[1], bgr.shape[0], bgr)

    @property
    def bgr(self) -> np.ndarray:
        """BGR at the analysis size. For 8-bit 4:2:0 YUV the three planes are scaled with
        OpenCV (area filter) and converted with ``cv2.cvtColor(YUV2BGR_I420)`` (BT.601), several
        times cheaper than swscale from full resolution; other formats go through swscale."""
        if self._bgr is None:
            fast = self._av.format.name in ("yuv420p", "yuvj420p") and self._w % 2 == 0 and self._h % 2 == 0
            if fast:
                w, h = self._w, self._h
                planes = []
                for k, (pw, ph) in enumerate(((w, h), (w // 2, h // 2), (w // 2, h // 2))):
                    pl = self._av.planes[k]
                    arr = np.frombuffer(pl, np.uint8).reshape(pl.height, pl.line_size)[:, : pl.width]
                    planes.append(cv2.resize(arr, (pw, ph), interpolation=cv2.INTER_AREA).reshape(-1))
                i420 = np.concatenate(planes).reshape(h * 3 // 2, w)
                self._bgr = cv2.cvtColor(i420, cv2.COLOR_YUV2BGR_I420)
            else:
                self._bgr = self._av.to_ndarray(format="bgr24", width=self._w, height=self._h)
        return self._bgr

    @property
    def gray(self) -> np.ndarray:
        """Luma at the analysis size: for 8-bit YUV the Y plane is scaled with OpenCV (area
        filter) and expanded to full range, which is several times cheaper than a colour
        conversion; otherwise the luma of the BGR conversion."""
        if self._gray is None:
            y = _luma_plane(self._av) if self._av is not None else None
            if y is not None:
                y = cv2.resize(y, (self._w, self._h), interpolation=cv2.INTER_AREA)
                name = self._av.format.name
                full = name == "gray" or name.startswith("yuvj") or self._av.color_range == 2
                self._gray = y if full else cv2.LUT(y, _LIMITED_TO_FULL)
            else:
                self._gray = cv2.cvtColor(self.bgr, cv2.COLOR_BGR2GRAY)
        return self._gray

    def hires(self, max_width: int) -> np.ndarray:
        """BGR at min(source width, max_width) wide (for OCR); from the array when no source frame."""
        if max_width not in self._hires:
            if self._av is None:
                self._hires[max_width] = self.bgr
            else:
                w, h = scaled_size(self._av.width, self._av.height, max_width)
                self._hires[max_width] = self._av.to_ndarray(format="bgr24", width=w, height=h)
        return self._hires[max_width]


def evenly_spaced(n: int, k: int) -> list[int]:
    """``k`` offsets spread over ``n`` frames (centres of k equal parts)."""
    if n <= 0 or k <= 0:
        return []
    return sorted({min(n - 1, int((j + 0.5) * n / k)) for j in range(k)})


def pair_starts(n: int, fps: float, pairs_per_s: float, max_pairs: int) -> list[int]:
    """First frames of the sampled consecutive pairs (i, i+1): ``pairs_per_s`` over the clip."""
    if n < 2:
        return []
    step = max(1, int(round(fps / pairs_per_s))) if pairs_per_s > 0 else n
    starts = list(range(0, n - 1, step))
    if len(starts) > max_pairs:
        starts = [starts[int(j * len(starts) / max_pairs)] for j in range(max_pairs)]
    return starts


def decode_span(path: str, start: int, end: int, fps: float, wanted: set[int], width: int,
                threads: int = 0) -> Iterator[tuple[int, Frame]]:
    """Yield (offset, Frame) for offsets in ``wanted`` of frames [start, end) of ``path``."""
    if not wanted:
        return
    last = max(wanted)
    with open_video(path, threads) as (c, vs):
        w, h = scaled_size(vs.codec_context.width, vs.codec_context.height, width)
        tb = vs.time_base or Fraction(1, 1)
        t0 = vs.start_time or 0
        seek_to = t0 + int(start / fps / tb) if start > 0 else None
        seen = 0
        try:
            for attempt in (0, 1):
                if seek_to is not None:
                    c.seek(max(t0, seek_to), stream=vs, backward=True, any_frame=False)
                first = True
                restart = False
                for frame in c.decode(vs):
                    idx = int(round(float((frame.pts - t0) * tb) * fps)) if frame.pts is not None else -1
                    if idx < 0:
                        raise StageError("no_timestamps", "frames carry no pts; cannot locate the clip span")
                    if first and idx > start and attempt == 0 and seek_to is not None:
                        seek_to, restart = t0, True  # the demuxer overshot: decode from the start
                        break
                    first = False
                    off = idx - start
                    if off < 0:
                        continue
                    if off > last or idx >= end:
                        break
                    seen += 1
                    if off in wanted:
                        yield off, Frame(frame, w, h)
                if not restart:
                    break
        except av.error.FFmpegError as exc:
            if seen == 0:
                raise StageError("decode_error", f"no frame of the clip could be decoded: {exc}") from None
            raise StageError("truncated", f"decoding stopped {seen} frames into the clip: {exc}") from None
        if seen == 0:
            raise StageError("decode_error", f"frames {start}..{end} not found in the stream")
