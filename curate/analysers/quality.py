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
* ``static_ratio`` - fraction of sampled frames whose content does not change over
  ``frozen_lag_s`` (default one pair step, 1 / ``pairs_per_s`` = 1/3 s: the next sampled
  pair's first frame, decoded anyway): mean absolute luma difference between frame i and
  frame i + round(lag * fps) (the clip's last frame near its end) < ``frozen_diff`` grey
  levels. A still held for longer than the lag counts; the exact repeats that frame-rate
  conversion inserts (a 10 fps camera in a 25 fps file repeats each picture 2-3 times, i.e.
  0.08-0.12 s) do not, because the picture has changed by the time the lag is over. A
  stutter slower than the lag (2 fps in 25) counts in part (the share of each hold longer
  than the lag: ~35-45 % for 2 fps).
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
                 border_luma: int = 20, max_frames: int = 8, frozen_lag_s: float | None = None) -> None:
        self.pairs_per_s, self.max_pairs = pairs_per_s, max_pairs
        self.frozen_diff, self.border_luma, self.max_frames = frozen_diff, border_luma, max_frames
        self.frozen_lag_s = frozen_lag_s

    def start(self, n: int, fps: float) -> set[int]:
        firsts = pair_starts(n, fps, self.pairs_per_s, self.max_pairs)
        self.firsts = set(firsts)
        step = max(1, len(firsts) // self.max_frames) if firsts else 1
        self.metric_frames = set(firsts[::step][: self.max_frames]) or ({0} if n else set())
        lag_s = self.frozen_lag_s if self.frozen_lag_s is not None else 1.0 / self.pairs_per_s
        lag = max(1, int(round(lag_s * fps)))  # default: the next pair's first frame (no extra decode)
        self.later: dict[int, list[int]] = {}  # frame -> sampled frames it is compared with
        for f in firsts:
            self.later.setdefault(min(f + lag, n - 1), []).append(f)
        self.held: dict[int, np.ndarray] = {}  # sampled frames waiting for their lagged frame
        self.diffs: list[float] = []
        self.m: dict[str, list[float]] = {k: [] for k in ("sharpness", "brightness", "contrast", "colorfulness",
                                                           "clipped_highlights", "clipped_shadows")}
        self.bars: tuple[int, int, int, int] | None = None
        self.shape = (0, 0)
        return self.firsts | set(self.later) | self.metric_frames

    def update(self, i: int, frame: Frame) -> None:
        if i in self.later or i in self.firsts:
            g = frame.gray
            for f in self.later.get(i, ()):
                if f in self.held:
                    self.diffs.append(float(cv2.absdiff(self.held.pop(f), g).mean()))
            if i in self.firsts:
                self.held[i] = g
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
