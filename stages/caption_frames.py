"""caption_frames: decode each clip ONCE on CPU into the frames the caption actor needs.

Reads: clip_path or local_path + start_s/end_s, duration_s. Adds: caption_keyframes_s (kept
in shards) and the stream-only ``caption_frames`` column (JPEG bytes + time + keyframe flag +
window index), consumed and dropped by ``stages/captions.py``. Needs: 1 CPU (a task, so Ray
runs it ahead of and alongside the GPU actor: the GPU never waits on decoding).

Keyframes: one every ``keyframe_interval_s``, plus a new one whenever the similarity of the
current frame to the LAST KEYFRAME drops below ``keyframe_threshold`` (HSV histogram
correlation or zero-mean cosine of a small grey frame, on a ``similarity_width``-px decode
of every frame). Window frames: the clip is split into equal windows of about ``window_s``
seconds, each sampled at ``frames_fps`` (at most ``max_frames_per_window``). Only frames
that are kept are scaled to ``image_max_side`` and JPEG-encoded.

A decode failure does not fail the clip: it sets caption_status='failed' with a reason.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
import cv2
import numpy as np
from curate.schemas.captions import CAPTION_FIELDS, CAPTION_FRAMES

from curate.config import CaptionsConfig
from curate.media import display_quarter_turns, scaled_size, upright
from curate.stage import RowStage, RunContext, StageError
from curate.storage import Output


# -- keyframe selection -----------------------------------------------------------------
def signature(small_bgr: np.ndarray, method: str) -> np.ndarray:
    """A cheap descriptor of a (small) frame for similarity comparisons."""
    if method == "hsv_hist":
        hsv = cv2.cvtColor(small_bgr, cv2.COLOR_BGR2HSV)
        hist = cv2.calcHist([hsv], [0, 1, 2], None, [16, 4, 4], [0, 180, 0, 256, 0, 256])
        return cv2.normalize(hist, None).flatten()
    grey = cv2.cvtColor(small_bgr, cv2.COLOR_BGR2GRAY).astype(np.float32).ravel()
    grey -= grey.mean()
    n = float(np.linalg.norm(grey))
    return grey / n if n > 1e-6 else grey


def similarity(a: np.ndarray, b: np.ndarray, method: str) -> float:
    """1 = identical; hsv_hist: histogram correlation in [-1, 1]; cosine: zero-mean cosine."""
    if method == "hsv_hist":
        return float(cv2.compareHist(a, b, cv2.HISTCMP_CORREL))
    if not a.any() or not b.any():  # flat frames: equal if both flat
        return 1.0 if not a.any() and not b.any() else 0.0
    return float(np.dot(a, b))


@dataclass
class KeyframeSelector:
    """Stateful: feed every frame's (time, signature); ``update`` says whether it is a keyframe."""

    interval_s: float
    threshold: float
    method: str = "hsv_hist"
    min_gap_s: float = 0.0
    _last_sig: np.ndarray | None = None
    _last_t: float = -math.inf

    def update(self, t_s: float, sig: np.ndarray) -> tuple[bool, float]:
        """(is_keyframe, novelty = 1 - similarity to the previous keyframe)."""
        if self._last_sig is None:
            self._last_sig, self._last_t = sig, t_s
            return True, 1.0
        sim = similarity(self._last_sig, sig, self.method)
        gap = t_s - self._last_t
        changed = sim < self.threshold and gap >= self.min_gap_s
        if changed or gap >= self.interval_s - 1e-6:
            self._last_sig, self._last_t = sig, t_s
            return True, 1.0 - sim
        return False, 1.0 - sim


def window_spans(duration_s: float, window_s: float) -> list[tuple[float, float]]:
    """Equal windows of about ``window_s`` covering the clip (no tiny tail window)."""
    n = max(1, int(round(duration_s / window_s)))
    step = duration_s / n
    return [(i * step, (i + 1) * step if i < n - 1 else duration_s) for i in range(n)]


def window_targets(duration_s: float, cfg: CaptionsConfig) -> list[tuple[float, int]]:
    """Sorted (time, window index) sample targets: frames_fps per window, capped, centred."""
    out = []
    for w, (a, b) in enumerate(window_spans(duration_s, cfg.window_s)):
        n = max(1, min(cfg.max_frames_per_window, int(round((b - a) * cfg.frames_fps))))
        out += [(a + (i + 0.5) * (b - a) / n, w) for i in range(n)]
    return out


# -- decoding ---------------------------------------------------------------------------
def iter_span(path: str, start_s: float, end_s: float | None) -> Iterator[tuple[float, av.VideoFrame]]:
    """(clip-relative time, frame) for frames with start_s <= pts < end_s; seeks, one decode."""
    try:
        c = av.open(path, metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        raise StageError("decode_error", f"cannot open {path}: {exc}") from None
    with c:
        if not c.streams.video:
            raise StageError("decode_error", "no video stream")
        vs = c.streams.video[0]
        vs.thread_type = "AUTO"
        tb = vs.time_base or Fraction(1, 1)
        start_pts = (vs.start_time or 0) * tb
        if start_s > 0.5:
            c.seek(int((start_s + float(start_pts)) / tb), stream=vs, backward=True, any_frame=False)
        eps = 1e-3
        try:
            for frame in c.decode(vs):
                if frame.pts is None:
                    continue
                t = float(frame.pts * tb - start_pts)
                if t < start_s - eps:
                    continue
                if end_s is not None and t >= end_s - eps:
                    break
                yield t - start_s, frame
        except av.error.FFmpegError as exc:
            raise StageError("decode_error", f"decoding stopped: {exc}") from None


def encode_jpeg(frame: av.VideoFrame, max_side: int, quality: int) -> bytes:
    w, h = frame.width, frame.height
    scale = min(1.0, max_side / max(w, h))
    tw, th = max(2, int(round(w * scale / 2)) * 2), max(2, int(round(h * scale / 2)) * 2)
    img = frame.to_ndarray(format="bgr24", width=tw, height=th)
    img = upright(img, display_quarter_turns(frame))  # the VLM sees the picture as displayed (phone video)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise StageError("decode_error", "JPEG encoding failed")
    return buf.tobytes()


def extract_frames(path: str, start_s: float, end_s: float | None, duration_s: float,
                   cfg: CaptionsConfig) -> tuple[list[dict[str, Any]], list[float]]:
    """Decode one span; return (frame structs for the stream, keyframe times)."""
    sel = KeyframeSelector(cfg.keyframe_interval_s, cfg.keyframe_threshold, cfg.keyframe_similarity,
                           cfg.keyframe_min_gap_s)
    targets = window_targets(duration_s, cfg)
    ti = 0
    frames: list[dict[str, Any]] = []
    keys: list[tuple[float, float, int]] = []  # (novelty, t, index in frames)
    period = None
    prev_t = None
    for t, frame in iter_span(path, start_s, end_s):
        if prev_t is not None and t > prev_t:
            period = t - prev_t if period is None else min(period, t - prev_t)
        prev_t = t
        sw, sh = scaled_size(frame.width, frame.height, cfg.similarity_width)
        is_key, novelty = sel.update(t, signature(frame.to_ndarray(format="bgr24", width=sw, height=sh),
                                                  cfg.keyframe_similarity))
        half = (period or 0.04) / 2
        window = -1
        while ti < len(targets) and targets[ti][0] <= t + half:
            window = targets[ti][1]
            ti += 1
        if is_key or window >= 0:
            frames.append({"t_s": round(t, 4), "jpeg": encode_jpeg(frame, cfg.image_max_side, cfg.jpeg_quality),
                           "keyframe": is_key, "window": window})
            if is_key:
                keys.append((novelty, t, len(frames) - 1))
    if not frames:
        raise StageError("no_frames", "no frame decoded in the clip span")
    if len(keys) > cfg.max_keyframes:  # keep the first and the most novel others, in time order
        keep = {keys[0][2]} | {k[2] for k in sorted(keys[1:], key=lambda k: -k[0])[: cfg.max_keyframes - 1]}
        for _, _, i in keys:
            frames[i]["keyframe"] = i in keep
        frames = [f for f in frames if f["keyframe"] or f["window"] >= 0]
    return frames, [f["t_s"] for f in frames if f["keyframe"]]


class CaptionFrames(RowStage):
    name = "caption_frames"
    level = "clip"
    requires = ("clip_id", "local_path", "start_s", "end_s", "duration_s", "clip_path")
    adds = tuple(f for f in CAPTION_FIELDS if f.name in (
        "caption_keyframes_s", "caption_status", "caption_error", "caption_error_detail")) + (CAPTION_FRAMES,)

    cfg: CaptionsConfig

    def __init__(self, cfg: CaptionsConfig, ctx: RunContext) -> None:
        super().__init__(cfg, ctx)
        self.out = Output(ctx.output_dir)

    def _source(self, row: dict[str, Any]) -> tuple[str, float, float | None, str | None]:
        """(path, start, end, temp file to delete): the clip file if reachable, else the source span."""
        rel = row.get("clip_path")
        if rel and self.out.local and os.path.isfile(self.out.path(rel)):
            return self.out.path(rel), 0.0, None, None
        src = row.get("local_path")
        if src and os.path.isfile(src):
            return src, float(row["start_s"]), float(row["end_s"]), None
        if rel and self.out.exists(rel):  # remote output: fetch the (small) clip file
            fd, tmp = tempfile.mkstemp(suffix=".mp4", dir=self.ctx.work_dir)
            os.close(fd)
            self.out.fs.get_file(self.out.path(rel), tmp)
            return tmp, 0.0, None, tmp
        raise StageError("no_media", "neither the clip file nor the source video is reachable")

    def process(self, row: dict[str, Any]) -> dict[str, Any]:
        tmp = None
        try:
            path, start, end, tmp = self._source(row)
            frames, keys = extract_frames(path, start, end, float(row["duration_s"]), self.cfg)
            row.update(caption_frames=frames, caption_keyframes_s=keys)
        except StageError as exc:  # a caption problem never fails the clip itself
            row.update(caption_status="failed", caption_error=exc.reason,
                       caption_error_detail=f"caption_frames: {exc.detail}", caption_frames=None)
        finally:
            if tmp:
                os.remove(tmp)
        return row
