"""Technical quality, weight-free, on sampled frames at the analysis width.

* ``sharpness`` - variance of the Laplacian of the luma (higher = sharper); mean over frames.
  Resolution-dependent: compare clips analysed at the same ``analyze.width``.
* ``brightness`` - mean luma in [0, 1]; ``clipped_highlights`` / ``clipped_shadows`` - fraction
  of pixels with luma >= 250 / <= 5 (black borders excluded).
* ``contrast`` - standard deviation of luma in [0, 1] (borders excluded).
* ``colorfulness`` - Hasler & Suesstrunk (2003) M = sigma_rgyb + 0.3 mu_rgyb (0 = grey, ~>100 vivid).
* ``border_frac`` - fraction of the frame area covered by black bars (letterbox/pillarbox):
  rows/columns whose 98th-percentile luma is <= ``border_luma``, counted inward from each
  edge, taking the smallest bar seen over the sampled frames (a bar must persist).
* ``static_ratio`` - fraction of sampled consecutive-frame pairs whose mean absolute luma
  difference is < ``frozen_diff`` grey levels (frozen / duplicated frames, still images).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from curate.analysers.frames import Frame, pair_starts


def colorfulness(bgr: np.ndarray) -> float:
    b, g, r = (bgr[..., k].astype(np.float32) for k in range(3))
    rg = r - g
    yb = 0.5 * (r + g) - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def border_bars(gray: np.ndarray, luma: int) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) widths in pixels of near-black bars at the frame edges."""
    rows = np.percentile(gray, 98, axis=1) <= luma
    cols = np.percentile(gray, 98, axis=0) <= luma

    def run(flags: np.ndarray) -> int:
        nz = np.flatnonzero(~flags)
        return int(nz[0]) if nz.size else len(flags)

    return run(rows), run(rows[::-1]), run(cols), run(cols[::-1])


class QualityAnalyser:
    name = "quality"

    def __init__(self, pairs_per_s: float = 3.0, max_pairs: int = 64, frozen_diff: float = 0.5,
                 border_luma: int = 20, max_frames: int = 8) -> None:
        self.pairs_per_s, self.max_pairs = pairs_per_s, max_pairs
        self.frozen_diff, self.border_luma, self.max_frames = frozen_diff, border_luma, max_frames

    def start(self, n: int, fps: float) -> set[int]:
        firsts = pair_starts(n, fps, self.pairs_per_s, self.max_pairs)
        self.firsts = set(firsts)
        step = max(1, len(firsts) // self.max_frames) if firsts else 1
        self.metric_frames = set(firsts[::step][: self.max_frames]) or ({0} if n else set())
        self.prev: np.ndarray | None = None
        self.prev_i = -2
        self.diffs: list[float] = []
        self.m: dict[str, list[float]] = {k: [] for k in ("sharpness", "brightness", "contrast", "colorfulness",
                                                           "clipped_highlights", "clipped_shadows")}
        self.bars: tuple[int, int, int, int] | None = None
        self.shape = (0, 0)
        return self.firsts | {i + 1 for i in self.firsts} | self.metric_frames

    def update(self, i: int, frame: Frame) -> None:
        g = frame.gray
        if self.prev is not None and i == self.prev_i + 1 and self.prev_i in self.firsts:
            self.diffs.append(float(cv2.absdiff(self.prev, g).mean()))
        self.prev, self.prev_i = g, i
        if i in self.metric_frames:
            self._metrics(frame.bgr, g)

    def _metrics(self, bgr: np.ndarray, g: np.ndarray) -> None:
        h, w = g.shape
        self.shape = (h, w)
        bars = border_bars(g, self.border_luma)
        self.bars = bars if self.bars is None else tuple(min(a, b) for a, b in zip(self.bars, bars))
        t, b, l, r = bars
        if t + b >= h or l + r >= w:  # an all-black frame: no content to measure
            inner, inner_bgr = g, bgr
        else:
            inner, inner_bgr = g[t:h - b, l:w - r], bgr[t:h - b, l:w - r]
        self.m["sharpness"].append(float(cv2.Laplacian(inner, cv2.CV_32F).var()))
        self.m["brightness"].append(float(inner.mean()) / 255.0)
        self.m["contrast"].append(float(inner.std()) / 255.0)
        self.m["colorfulness"].append(colorfulness(inner_bgr))
        self.m["clipped_highlights"].append(float((inner >= 250).mean()))
        self.m["clipped_shadows"].append(float((inner <= 5).mean()))

    def result(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: (float(np.mean(v)) if v else None) for k, v in self.m.items()}
        if self.bars is not None:
            h, w = self.shape
            t, b, l, r = self.bars
            content = max(0, h - t - b) * max(0, w - l - r)
            out["border_frac"] = 1.0 - content / float(h * w)
        else:
            out["border_frac"] = None
        out["static_ratio"] = float(np.mean(np.array(self.diffs) < self.frozen_diff)) if self.diffs else None
        return out
