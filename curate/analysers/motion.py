"""Motion: DIS optical flow on sampled consecutive frame pairs + a global camera-motion fit.

Scores (all at the analysis width, i.e. ``analyze.width`` pixels wide):

* ``motion_px_per_frame`` - mean optical-flow magnitude in pixels per frame.
* ``motion_score`` - the same, normalised to a 256-pixel-wide frame
  (``px/frame * 256 / width``), so it does not depend on the analysis width.
* ``camera_pan`` / ``camera_tilt`` - mean global translation of the *picture content* in
  px/frame (256-px normalised): ``camera_pan > 0`` means content moves right, i.e. the
  camera pans LEFT; ``camera_tilt > 0`` means content moves down (image y points down),
  i.e. the camera tilts UP.
* ``camera_zoom`` - mean per-frame scale factor of the content minus 1 (``> 0`` = content
  grows = zoom in; 0.01 = 1 % a frame).
* ``camera_motion`` - one label: static | pan_left | pan_right | tilt_up | tilt_down |
  zoom_in | zoom_out | shaky | complex; None (with the camera_* numbers) when most sampled
  pairs have too little texture to track: on a flat wall with one moving object, sky or a
  dark noisy picture the camera cannot be told from the subject.

Each sampled pair gets a similarity transform fitted with RANSAC
(``cv2.estimateAffinePartial2D``) to textured grid points tracked over one pair step (the
next pair's first frame, 1/3 s later) -- see :meth:`MotionAnalyser._fit`. Measured on exact
zooms/pans of real footage (``benchmarks/bench_camera.py``): on textured pictures zoom within
10 % (mean 1.8 %) where the old single-pair DIS fit was off by 9-24 %. Labels: ``complex`` when
the fit explains too few points (non-rigid / many independent movers); ``static`` when the
global motion (translation + zoom displacement at the frame edge) stays under
``static_px``; ``shaky`` when the per-pair translation keeps flipping direction (its mean
is small compared with its mean size, or >= ``shaky_flips`` of successive sampled pairs
reverse direction); otherwise the larger of translation and
zoom decides (pan vs tilt by the dominant axis).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from curate.analysers.frames import Frame, pair_starts

REF_WIDTH = 256.0


class MotionAnalyser:
    name = "motion"

    def __init__(self, pairs_per_s: float = 3.0, max_pairs: int = 64, static_px: float = 0.15,
                 min_inliers: float = 0.5, shaky_consistency: float = 0.4, shaky_flips: float = 0.35,
                 grid: int = 8, margin: float = 0.08, min_texture: float = 3e-5, min_points: int = 24,
                 max_points: int = 64, fit_lag_s: float | None = None, min_tracked: float = 0.5,
                 ransac_px: float = 1.0) -> None:
        self.pairs_per_s, self.max_pairs = pairs_per_s, max_pairs
        self.static_px, self.min_inliers, self.shaky_consistency = static_px, min_inliers, shaky_consistency
        self.grid, self.shaky_flips = grid, shaky_flips
        self.margin, self.min_texture, self.min_points, self.fit_lag_s = margin, min_texture, min_points, fit_lag_s
        self.max_points, self.min_tracked, self.ransac_px = max_points, min_tracked, ransac_px
        self.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        self._grid: tuple[tuple[int, int], np.ndarray, np.ndarray] | None = None

    def start(self, n: int, fps: float) -> set[int]:
        firsts = pair_starts(n, fps, self.pairs_per_s, self.max_pairs)
        self.firsts = set(firsts)
        # default lag: one pair step (1 / pairs_per_s), i.e. the next pair's first frame, which is
        # decoded and converted anyway (a capped long clip needs one extra frame per pair)
        lag_s = self.fit_lag_s if self.fit_lag_s is not None else 1.0 / self.pairs_per_s
        lag = max(1, int(round(lag_s * fps)))
        self.later: dict[int, list[int]] = {}  # frame -> sampled first frames fitted against it
        for f in firsts:
            self.later.setdefault(min(f + lag, n - 1), []).append(f)
        self.held: dict[int, np.ndarray] = {}  # first frames waiting for their pair / lagged frame
        self.flows: dict[int, np.ndarray] = {}  # DIS flow of (f, f + 1), the guess for the lagged fit
        self.mags: list[float] = []
        self.fits: list[tuple[float, float, float, float]] = []  # tx, ty, scale-1 (per frame), inlier ratio
        self.width = 0
        self.tracked = 0  # fits made from tracked textured points (the others: a flat picture)
        return self.firsts | {i + 1 for i in self.firsts} | set(self.later)

    def update(self, i: int, frame: Frame) -> None:
        g = frame.gray
        if i - 1 in self.held and i - 1 in self.firsts and i - 1 not in self.flows:
            self.flows[i - 1] = self._flow(self.held[i - 1], g)
        for f in self.later.get(i, ()):
            if f in self.held and f in self.flows:
                self.fits.append(self._fit(self.held.pop(f), g, self.flows.pop(f), i - f))
        if i in self.firsts:
            self.held[i] = g

    def _flow(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """DIS flow of a consecutive pair; its mean magnitude is the motion score."""
        self.width = a.shape[1]
        flow = self.dis.calc(a, b, None)
        self.mags.append(float(cv2.magnitude(flow[..., 0], flow[..., 1]).mean()))
        return flow

    def _fit(self, a: np.ndarray, c: np.ndarray, flow: np.ndarray, lag: int) -> tuple[float, float, float, float]:
        """Per-frame similarity (tx, ty, scale - 1, inlier ratio) of the content from frame ``a``
        to frame ``c`` ``lag`` frames later (``fit_lag_s``; default one pair step, 1/3 s).

        Points: a grid ``margin`` away from the edges (DIS underestimates flow at the border),
        kept where ``a`` has texture in both directions (cv2.cornerMinEigenVal >= ``min_texture``;
        on flat walls and sky flow is undefined). With >= ``min_points`` such points they are
        tracked to ``c`` with pyramidal Lucas-Kanade started from ``lag`` x the DIS flow: over a
        lag (1/3 s) the displacement is ``lag`` times larger than between two frames, so flow
        noise and the way low-bit-rate encoders spread motion unevenly over frames (skip blocks
        that copy the previous picture) weigh far less -- consecutive-pair DIS fits read zooms
        10-40 % small. Otherwise (a flat picture) the consecutive pair's DIS flow on all grid
        points is fitted. The transform is converted to per frame: scale ** (1 / lag), the
        centre's displacement / lag."""
        h, w = a.shape
        ys, xs = self._points(h, w)
        y0, x0 = int(ys[0]) - 2, int(xs[0]) - 2  # texture only inside the margin (the grid's box)
        ev = cv2.cornerMinEigenVal(a[y0:int(ys[-1]) + 3, x0:int(xs[-1]) + 3], 3)
        idx = np.flatnonzero(ev[ys - y0, xs - x0] >= self.min_texture)
        src = dst = None
        if len(idx) >= self.min_points:
            if len(idx) > self.max_points:  # evenly spread subset: LK costs ~5 us per point
                idx = idx[np.linspace(0, len(idx) - 1, self.max_points).astype(int)]
            ys, xs = ys[idx], xs[idx]
            src = np.stack([xs, ys], 1).astype(np.float32)
            guess = src + lag * flow[ys, xs]
            nxt, st, _ = cv2.calcOpticalFlowPyrLK(a, c, src, guess, winSize=(9, 9), maxLevel=1,
                                                  flags=cv2.OPTFLOW_USE_INITIAL_FLOW)
            ok = st.ravel() == 1
            if int(ok.sum()) >= self.min_points:
                src, dst = src[ok], nxt.reshape(-1, 2)[ok]
                self.tracked += 1
            else:
                src = None
        if src is None:
            ys, xs = self._points(h, w)
            src = np.stack([xs, ys], 1).astype(np.float32)
            dst, lag = src + flow[ys, xs], 1
        # RANSAC tolerance grows with the lag (tracking error accumulates; 1 px for one frame). A
        # fixed seed makes the result a function of the input (OpenCV's RNG is per thread, so the
        # samples would otherwise depend on whatever ran before), and a high confidence makes the
        # best consensus set likely on every call (2-point samples: a few dozen iterations).
        cv2.setRNGSeed(0x5EED)
        m, inl = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, maxIters=500, confidence=0.999,
                                             ransacReprojThreshold=self.ransac_px * lag ** 0.5)
        if m is None:
            return 0.0, 0.0, 0.0, 0.0
        scale = float(np.hypot(m[0, 0], m[1, 0])) ** (1.0 / lag)
        cx, cy = w / 2.0, h / 2.0
        tx = (m[0, 0] * cx + m[0, 1] * cy + m[0, 2] - cx) / lag  # displacement of the frame centre
        ty = (m[1, 0] * cx + m[1, 1] * cy + m[1, 2] - cy) / lag
        return float(tx), float(ty), scale - 1.0, float(inl.mean()) if inl is not None else 0.0

    def _points(self, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
        """Grid points (y, x) every ``grid`` px, ``margin`` of the size away from the edges."""
        if self._grid is None or self._grid[0] != (h, w):
            s = self.grid
            my, mx = max(s // 2, int(self.margin * h)), max(s // 2, int(self.margin * w))
            ys, xs = np.mgrid[my:h - my:s, mx:w - mx:s]
            self._grid = ((h, w), ys.ravel(), xs.ravel())
        return self._grid[1], self._grid[2]

    def result(self) -> dict[str, Any]:
        if not self.mags or not self.fits:
            return {"motion_score": None, "motion_px_per_frame": None, "camera_motion": None,
                    "camera_pan": None, "camera_tilt": None, "camera_zoom": None}
        norm = REF_WIDTH / self.width
        px = float(np.mean(self.mags))
        if self.tracked < self.min_tracked * len(self.fits):
            # too little texture (flat walls, sky, a dark noisy picture) in most pairs: what moved
            # cannot be told apart from a moving subject or encoder noise -> no camera estimate
            return {"motion_score": px * norm, "motion_px_per_frame": px, "camera_motion": None,
                    "camera_pan": None, "camera_tilt": None, "camera_zoom": None}
        f = np.array(self.fits)
        tx, ty, zs, inl = f[:, 0] * norm, f[:, 1] * norm, f[:, 2], f[:, 3]
        return {
            "motion_score": px * norm,
            "motion_px_per_frame": px,
            "camera_motion": self.label(tx, ty, zs, inl),
            "camera_pan": float(tx.mean()),
            "camera_tilt": float(ty.mean()),
            "camera_zoom": float(zs.mean()),
        }

    def label(self, tx: np.ndarray, ty: np.ndarray, zs: np.ndarray, inl: np.ndarray) -> str:
        """Camera-motion label from per-pair fits (translations in 256-px-normalised px/frame)."""
        zoom_px = zs * REF_WIDTH / 2  # displacement at the left/right edge caused by the scale
        size = np.hypot(tx, ty) + np.abs(zoom_px)
        if float(np.median(inl)) < self.min_inliers and float(np.mean(size)) >= self.static_px:
            return "complex"
        if float(np.mean(size)) < self.static_px:
            return "static"
        mx, my, mz = float(tx.mean()), float(ty.mean()), float(zoom_px.mean())
        mean_trans = float(np.mean(np.hypot(tx, ty)))
        if abs(mz) >= max(np.hypot(mx, my), self.static_px) and float(np.mean(np.sign(zs) == np.sign(mz))) >= 0.6:
            return "zoom_in" if mz > 0 else "zoom_out"
        moving = np.hypot(tx, ty) >= self.static_px
        v = np.stack([tx, ty], 1)[moving]
        flips = float(np.mean((v[1:] * v[:-1]).sum(1) < 0)) if len(v) > 2 else 0.0
        if mean_trans >= self.static_px and (np.hypot(mx, my) < self.shaky_consistency * mean_trans
                                             or flips >= self.shaky_flips):
            return "shaky"
        if np.hypot(mx, my) < self.static_px:
            return "static"
        if abs(mx) >= abs(my):
            return "pan_left" if mx > 0 else "pan_right"  # content moves right = camera pans left
        return "tilt_up" if my > 0 else "tilt_down"  # content moves down = camera tilts up
