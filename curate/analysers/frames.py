"""Decoding a clip span once, converting only the frames some analyser asked for.

``decode_span`` seeks to the keyframe before ``start_frame`` in the source file, demuxes
forward and decodes every frame other frames depend on. Packets of frames nobody asked for
are sent with ``skip_frame=NONREF``: the decoder drops them when no other frame references
them (B-frames in most H.264/HEVC encodes) and decodes them otherwise, so the wanted frames
are bit-identical to a full decode and fewer frames are decoded than ``ffmpeg -f null``
does. :class:`Frame` objects are handed out only for wanted offsets; the scale + colour
conversion runs only for those, lazily.

Display rotation (the stream's display matrix, e.g. phone videos shot in portrait) is
applied to the small analysis frames (``np.rot90``), and the analysis size is computed from
the *displayed* dimensions, so camera pan/tilt, box coordinates and normalisations refer to
the picture as a player shows it.

Frame indices are derived from timestamps (``round((pts - stream_start) * fps)``), which
matches the decode-order count used by the cuts stage for constant-frame-rate video. For a
variable-frame-rate video (``vfr=True``) the reader demuxes the file once (no decode) for every
frame's timestamp and a frame's index is its rank among them: the same decode-order count.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from fractions import Fraction

import av
import cv2
import numpy as np

from curate.media import decode_failure, display_quarter_turns, frame_times, open_video, scaled_size, upright
from curate.stage import StageError


_LUMA_FORMATS = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "yuv440p", "yuvj440p",
                 "yuv411p", "nv12", "nv21", "gray"}
_LIMITED_TO_FULL = np.clip((np.arange(256) - 16) * 255.0 / 219.0 + 0.5, 0, 255).astype(np.uint8)


def _plane(frame: av.VideoFrame, k: int, width: int | None = None) -> np.ndarray:
    """Plane ``k`` as a (view of a) HxW uint8 array (``width`` = visible width of the plane)."""
    pl = frame.planes[k]
    arr = np.frombuffer(pl, np.uint8).reshape(pl.height, pl.line_size)
    return arr[:, : (width or pl.width)]


def _luma_plane(frame: av.VideoFrame) -> np.ndarray | None:
    """The 8-bit Y plane as a (view of a) HxW array, or None for other pixel formats."""
    if frame.format.name not in _LUMA_FORMATS:
        return None
    return _plane(frame, 0, frame.width)


def area_resize(img: np.ndarray, w: int, h: int) -> np.ndarray:
    """Box-filter downscale to (w, h): exact 2:1 area steps while the image is at least twice
    the target (OpenCV's vectorised fast path: a 1080p plane halves in ~0.25 ms), then one
    area resize of the small remainder. ~4x cheaper than one arbitrary-ratio area resize
    from 1080p (0.45 vs 1.8 ms to 256x144). Upscaling falls back to linear."""
    ih, iw = img.shape[:2]
    if (iw, ih) == (w, h):
        return img
    if w > iw or h > ih:
        return cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR)
    while iw // 2 >= w and ih // 2 >= h:
        iw, ih = iw // 2, ih // 2
        img = cv2.resize(img[: ih * 2, : iw * 2], (iw, ih), interpolation=cv2.INTER_AREA)
    if (iw, ih) == (w, h):
        return img
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)


class Frame:
    """One decoded frame with lazy, cached conversions, upright (display rotation applied).

    ``width``/``height`` are the analysis size as displayed; ``turns`` counter-clockwise
    quarter turns are applied to the converted pixels."""

    __slots__ = ("_av", "_bgr", "_gray", "_h", "_hires", "_turns", "_w")

    def __init__(self, frame: av.VideoFrame | None, width: int, height: int, bgr: np.ndarray | None = None,
                 turns: int = 0):
        self._av, self._w, self._h, self._turns = frame, width, height, turns % 4
        self._bgr, self._gray, self._hires = bgr, None, {}

    @classmethod
    def from_array(cls, bgr: np.ndarray) -> Frame:
        """A frame from an HxWx3 BGR array (tests, or callers with their own decoder)."""
        return cls(None, bgr.shape[1], bgr.shape[0], bgr)

    @property
    def width(self) -> int:
        """Analysis width as displayed."""
        return self._w

    @property
    def height(self) -> int:
        """Analysis height as displayed."""
        return self._h

    @property
    def source_size(self) -> tuple[int, int]:
        """(width, height) of the decoded picture as displayed (full resolution)."""
        if self._av is None:
            return self._w, self._h
        w, h = self._av.width, self._av.height
        return (h, w) if self._turns % 2 else (w, h)

    def short_side(self, min_side: int) -> np.ndarray:
        """BGR, upright, scaled so the shorter side is ``min_side`` (never upscaled): the input
        of models that resize the shorter side themselves (CLIP: 224; 448 = 2x keeps detail)."""
        w, h = self.source_size
        return self.hires(min_side if w < h else max(2, int(round(min_side * w / h))))

    def _coded_size(self, w: int, h: int) -> tuple[int, int]:
        """(w, h) before rotation for a displayed size (w, h)."""
        return (h, w) if self._turns % 2 else (w, h)

    def _to_bgr(self, w: int, h: int) -> np.ndarray:
        """BGR of the source frame at displayed size (w, h)."""
        cw, ch = self._coded_size(w, h)
        f = self._av
        if f.format.name in ("yuv420p", "yuvj420p") and cw % 2 == 0 and ch % 2 == 0:
            planes = [area_resize(_plane(f, 0, f.width), cw, ch).reshape(-1)]
            for k in (1, 2):
                planes.append(area_resize(_plane(f, k), cw // 2, ch // 2).reshape(-1))
            i420 = np.concatenate(planes).reshape(ch * 3 // 2, cw)
            out = cv2.cvtColor(i420, cv2.COLOR_YUV2BGR_I420)
        else:
            out = f.to_ndarray(format="bgr24", width=cw, height=ch)
        return upright(out, self._turns)

    @property
    def bgr(self) -> np.ndarray:
        """BGR at the analysis size. For 8-bit 4:2:0 YUV the three planes are box-filtered with
        OpenCV and converted with ``cv2.cvtColor(YUV2BGR_I420)`` (BT.601), several times cheaper
        than swscale from full resolution; other formats go through swscale."""
        if self._bgr is None:
            self._bgr = self._to_bgr(self._w, self._h)
        return self._bgr

    @property
    def gray(self) -> np.ndarray:
        """Luma at the analysis size: for 8-bit YUV the Y plane is box-filtered with OpenCV and
        expanded to full range, which is several times cheaper than a colour conversion;
        otherwise the luma of the BGR conversion."""
        if self._gray is None:
            y = _luma_plane(self._av) if self._av is not None else None
            if y is not None:
                y = area_resize(y, *self._coded_size(self._w, self._h))
                name = self._av.format.name
                full = name == "gray" or name.startswith("yuvj") or self._av.color_range == 2
                self._gray = upright(y if full else cv2.LUT(y, _LIMITED_TO_FULL), self._turns)
            else:
                self._gray = cv2.cvtColor(self.bgr, cv2.COLOR_BGR2GRAY)
        return self._gray

    def hires(self, max_width: int) -> np.ndarray:
        """BGR at min(displayed source width, max_width) wide (for OCR) from the same decoded
        frame; from the array when there is no source frame."""
        if max_width not in self._hires:
            if self._av is None:
                self._hires[max_width] = self.bgr
            else:
                sw, sh = self._av.width, self._av.height
                if self._turns % 2:
                    sw, sh = sh, sw
                self._hires[max_width] = self._to_bgr(*scaled_size(sw, sh, max_width))
        return self._hires[max_width]


def evenly_spaced(n: int, k: int) -> list[int]:
    """``k`` offsets spread over ``n`` frames (centres of k equal parts)."""
    if n <= 0 or k <= 0:
        return []
    return sorted({min(n - 1, int((j + 0.5) * n / k)) for j in range(k)})


def spread_picks(n: int, k: int) -> list[int]:
    """``k`` offsets from the first to the last of ``n`` frames (the middle one when k = 1)."""
    if n <= 0 or k <= 0:
        return []
    if k == 1:
        return [n // 2]
    return sorted({int(round(i * (n - 1) / (k - 1))) for i in range(k)})


def pair_starts(n: int, fps: float, pairs_per_s: float, max_pairs: int) -> list[int]:
    """First frames of the sampled consecutive pairs (i, i+1): ``pairs_per_s`` over the clip."""
    if n < 2:
        return []
    step = max(1, int(round(fps / pairs_per_s))) if pairs_per_s > 0 else n
    starts = list(range(0, n - 1, step))
    if len(starts) > max_pairs:
        starts = [starts[int(j * len(starts) / max_pairs)] for j in range(max_pairs)]
    return starts


class SpanReader:
    """One open decoder for ``path`` that serves consecutive clip spans of it.

    The clips of a video arrive one after another (the clips stage emits them in order), so
    the analyse stage keeps one reader per video: a span that starts at or a little after
    where the previous one stopped is decoded straight on - no re-open, no seek, no decoder
    re-initialisation (a fresh frame-threaded 1080p H.264 decoder costs ~80 ms of CPU per clip
    in buffer set-up and pipeline refill) - and a span behind the current position or more
    than ``max_gap_s`` ahead of it is reached with a seek to the keyframe before it.

    Packets of frames the current span does not want (pre-roll included) are sent with
    ``skip_frame=NONREF``; packets at or after the span's end are decoded normally, so the
    next span finds every frame it may want.
    """

    def __init__(self, path: str, width: int = 256, threads: int = 0, max_gap_s: float = 3.0, vfr: bool = False) -> None:
        self.path, self.width, self.max_gap_s, self.vfr = path, width, max_gap_s, vfr
        # VFR: every frame's pts in presentation order; index = rank (None: index from pts * fps)
        self.table: np.ndarray | None = frame_times(path).pts if vfr else None
        self._cm = open_video(path, threads)
        self.c, self.vs = self._cm.__enter__()
        self.key = file_key(path)
        self.cc = self.vs.codec_context
        self.tb = self.vs.time_base or Fraction(1, 1)
        self.t0 = self.vs.start_time or 0
        self.packets: Iterator[av.Packet] | None = self.c.demux(self.vs)
        self.buf: deque[tuple[int, av.VideoFrame]] = deque()  # decoded, not yet consumed
        self.pos = 0  # index of the next frame in decode output (after the consumed ones)
        self.intact_from = 0  # frames from here on were decoded normally (none NONREF-skipped)
        self.fresh = True  # nothing decoded since the open / last seek
        self.size: tuple[int, int, int] | None = None  # displayed analysis (w, h), quarter turns
        self.closed = False
        self.seeks = 0

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._cm.__exit__(None, None, None)

    def __enter__(self) -> SpanReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _index(self, pts: int, fps: float) -> int:
        if self.table is not None and len(self.table):
            i = int(np.searchsorted(self.table, pts))
            if i >= len(self.table) or (i > 0 and pts - self.table[i - 1] < self.table[i] - pts):
                i -= 1  # not in the table (should not happen): the nearest frame
            return i
        return int(round(float((pts - self.t0) * self.tb) * fps))

    def _seek(self, start: int, fps: float) -> None:
        self.cc.skip_frame = "DEFAULT"
        self.buf.clear()
        if self.table is not None and 0 < start < len(self.table):
            target = int(self.table[start])
        else:
            target = self.t0 + int(start / fps / self.tb) if start > 0 else self.t0
        self.c.seek(max(self.t0, target), stream=self.vs, backward=True, any_frame=False)
        self.cc.flush_buffers()
        self.packets = self.c.demux(self.vs)
        self.fresh = True
        self.seeks += 1

    def _decoded(self, start: int, end: int, wanted: set[int], fps: float, skip: bool
                 ) -> Iterator[tuple[int, av.VideoFrame]]:
        while True:
            while self.buf:
                yield self.buf.popleft()
            packet = next(self.packets, None) if self.packets is not None else None
            if packet is None:
                self.packets = None  # end of stream: a later span needs a seek
                return
            if skip and not self.fresh and packet.pts is not None:
                pidx = self._index(packet.pts, fps)
                self.cc.skip_frame = "NONREF" if pidx < end and (pidx - start) not in wanted else "DEFAULT"
            else:
                self.cc.skip_frame = "DEFAULT"  # until the first frame after a seek is out
            for frame in self.cc.decode(packet):
                if frame.pts is None:
                    raise StageError("no_timestamps", "frames carry no pts; cannot locate the clip span")
                self.fresh = False
                self.buf.append((self._index(frame.pts, fps), frame))

    def span(self, start: int, end: int, fps: float, wanted: set[int], skip_unwanted: bool = True
             ) -> Iterator[tuple[int, Frame]]:
        """Yield (offset, Frame) for offsets in ``wanted`` of frames [start, end)."""
        if not wanted:
            return
        if self.closed:
            raise StageError("decode_error", "the reader was closed after an earlier error")
        last = max(wanted)
        seen = 0
        try:
            behind = start < max(self.pos, self.intact_from)  # already passed, or maybe skipped
            far = start - self.pos > self.max_gap_s * fps
            if self.packets is None or behind or far:
                self._seek(start, fps)
            for attempt in (0, 1):
                restart = False
                first = self.fresh
                for idx, frame in self._decoded(start, end, wanted, fps, skip_unwanted):
                    if first and idx > start and attempt == 0 and start > 0:
                        restart = True  # the demuxer overshot the span start: decode from the start
                        break
                    first = False
                    if idx < start:
                        self.pos = idx + 1
                        continue
                    if idx >= end or idx - start > last:
                        self.buf.appendleft((idx, frame))  # the next span may start here
                        break
                    self.pos = idx + 1
                    seen += 1
                    if idx - start in wanted:
                        if self.size is None:
                            turns = display_quarter_turns(frame)
                            dw, dh = (frame.height, frame.width) if turns % 2 else (frame.width, frame.height)
                            self.size = (*scaled_size(dw, dh, self.width), turns)
                        yield idx - start, Frame(frame, self.size[0], self.size[1], turns=self.size[2])
                if not restart:
                    break
                self._seek(0, fps)
                self.pos = 0
            self.intact_from = end if skip_unwanted else self.pos
        except av.error.FFmpegError as exc:
            self.close()  # decoder state unknown: the next span opens the file again
            raise decode_failure(exc, seen, f"{seen} frames into the clip") from None
        if seen == 0:
            raise StageError("decode_error", f"frames {start}..{end} not found in the stream")


def file_key(path: str) -> tuple[str, int, int]:
    """(path, size, mtime): a reader is reused only for the very same file."""
    st = os.stat(path)
    return path, st.st_size, st.st_mtime_ns


def decode_span(path: str, start: int, end: int, fps: float, wanted: set[int], width: int,
                threads: int = 0, skip_unwanted: bool = True) -> Iterator[tuple[int, Frame]]:
    """Yield (offset, Frame) for offsets in ``wanted`` of frames [start, end) of ``path``
    (a :class:`SpanReader` of its own; see there).

    ``skip_unwanted``: send packets of unwanted frames with ``skip_frame=NONREF`` (the
    decoder still decodes them when other frames reference them)."""
    if not wanted:
        return
    with SpanReader(path, width, threads) as reader:
        yield from reader.span(start, end, fps, wanted, skip_unwanted)
