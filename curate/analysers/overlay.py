"""Static-overlay detector: logos, channel bugs, burnt-in watermarks.

An overlay is drawn on top of the picture, so its edges stay put while the picture under
and around it changes. Over frames sampled ``per_s`` times a second this analyser counts,
per pixel, how often it lies on an edge (Canny) and how often its luma changed by more than
``change_thr`` since the previous sample. Pixels that are edges in >= ``persist`` of the
frames and change in <= ``stable`` of the intervals form candidate blobs (dilated so the
letters of a logo join). A blob scores high when its surroundings (a ring around its box)
keep changing: ``overlay_prob = ring_term * size_term`` where ``ring_term`` ramps from 0 at
``ring_churn_lo`` to 1 at ``ring_churn_hi`` mean change rate and ``size_term`` ramps to 1 at
``full_px`` persistent edge pixels. Blobs whose persistent edges are nearly all of one
orientation (< ``min_orient`` horizontal or vertical) are ignored: lines along the direction
of a pan persist without being overlays; text and logos have both. It is a heuristic confidence in [0, 1], not a calibrated
probability: in a still scene (nothing changes) it stays near 0 because nothing separates
an overlay from the scene. Blobs wider/taller than ``max_box`` of the frame (letterbox edges,
static backgrounds) are ignored. ``overlay_box`` is the best blob's box, normalised (x, y, w, h
in [0, 1], origin top-left).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from curate.analysers.frames import Frame, evenly_spaced


class OverlayAnalyser:
    name = "overlay"

    def __init__(self, per_s: float = 2.0, max_frames: int = 24, persist: float = 0.8, stable: float = 0.25,
                 change_thr: int = 8, ring_churn_lo: float = 0.05, ring_churn_hi: float = 0.25,
                 full_px: int = 40, min_px: int = 10, max_box: float = 0.5, min_orient: float = 0.15) -> None:
        self.per_s, self.max_frames = per_s, max_frames
        self.persist, self.stable, self.change_thr = persist, stable, change_thr
        self.lo, self.hi, self.full_px, self.min_px, self.max_box = ring_churn_lo, ring_churn_hi, full_px, min_px, max_box
        self.min_orient = min_orient

    def start(self, n: int, fps: float) -> set[int]:
        k = int(min(n, self.max_frames, max(6, round(n / fps * self.per_s))))
        self.frames = set(evenly_spaced(n, k))
        self.edges: np.ndarray | None = None
        self.churn: np.ndarray | None = None
        self.prev: np.ndarray | None = None
        self.n = 0
        return self.frames

    def update(self, i: int, frame: Frame) -> None:
        if i not in self.frames:
            return
        g = frame.gray
        e = cv2.Canny(g, 60, 160) > 0
        if self.edges is None:
            self.edges = np.zeros(g.shape, np.uint16)
            self.churn = np.zeros(g.shape, np.uint16)
        self.edges += e
        if self.prev is not None:
            self.churn += cv2.absdiff(g, self.prev) > self.change_thr
        self.prev = g
        self.n += 1

    def result(self) -> dict[str, Any]:
        if self.n < 4 or self.edges is None:
            return {"overlay_prob": None, "overlay_box": None}
        n, intervals = self.n, self.n - 1
        churn = self.churn.astype(np.float32) / intervals
        cand = ((self.edges >= self.persist * n) & (churn <= self.stable)).astype(np.uint8)
        h, w = cand.shape
        blobs = cv2.dilate(cand, np.ones((5, 5), np.uint8))
        count, labels, stats, _ = cv2.connectedComponentsWithStats(blobs, connectivity=8)
        gx = np.abs(cv2.Sobel(self.prev, cv2.CV_32F, 1, 0))
        gy = np.abs(cv2.Sobel(self.prev, cv2.CV_32F, 0, 1))
        vertical = gx > gy
        best, best_box = 0.0, None
        for k in range(1, count):
            x, y, bw, bh, _area = stats[k]
            if bw > self.max_box * w or bh > self.max_box * h:
                continue
            npx = int(cand[y:y + bh, x:x + bw][labels[y:y + bh, x:x + bw] == k].sum())
            if npx < self.min_px:
                continue
            sel = cand[y:y + bh, x:x + bw].astype(bool) & (labels[y:y + bh, x:x + bw] == k)
            frac_v = float(vertical[y:y + bh, x:x + bw][sel].mean())
            if min(frac_v, 1.0 - frac_v) < self.min_orient:  # lines of one orientation: scene edges under a pan
                continue
            m = max(4, int(0.5 * max(bw, bh)))
            x0, y0, x1, y1 = max(0, x - m), max(0, y - m), min(w, x + bw + m), min(h, y + bh + m)
            ring = np.ones((y1 - y0, x1 - x0), bool)
            ring[y - y0:y - y0 + bh, x - x0:x - x0 + bw] = False
            ring &= blobs[y0:y1, x0:x1] == 0
            if ring.sum() < 8:
                continue
            ring_churn = float(churn[y0:y1, x0:x1][ring].mean())
            ring_term = min(1.0, max(0.0, (ring_churn - self.lo) / (self.hi - self.lo)))
            score = ring_term * min(1.0, npx / self.full_px)
            if score > best:
                best, best_box = score, {"x": float(x / w), "y": float(y / h), "w": float(bw / w), "h": float(bh / h)}
        return {"overlay_prob": float(best), "overlay_box": best_box}
