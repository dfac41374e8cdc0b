"""Motion: DIS optical flow on sampled consecutive frame pairs + a global camera-motion fit.

Scores (all at the analysis width, i.e. ``analyze.width`` pixels wide):

* ``motion_px_per_frame`` - mean optical-flow magnitude in pixels per frame.
* ``motion_score`` - the same, normalised to a 256-pixel-wide frame
  (``px/frame * 256 / width``), so it does not depend on the analysis width.
* ``camera_pan`` / ``camera_tilt`` - mean global translation of the *picture content* in
  px/frame (256-px normalised): ``camera_pan > 0`` means content moves right, i.e. the
  camera pans LEFT; ``camera_tilt > 0`` means content moves down (image y points down),
  i.e. the camera tilts UP.
* ``camera_zoom`` - mean per-frame scale change of the content minus 1 (``> 0`` = content
  grows = zoom in).
* ``camera_motion`` - one label: static | pan_left | pan_right | tilt_up | tilt_down |
  zoom_in | zoom_out | shaky | complex.

Each sampled pair gets a similarity transform fitted with RANSAC
(``cv2.estimateAffinePartial2D``) to flow vectors on a grid. Labels: ``complex`` when the
fit explains too few vectors (non-rigid / many independent movers); ``static`` when the
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
                 grid: int = 8) -> None:
        self.pairs_per_s, self.max_pairs = pairs_per_s, max_pairs
        self.static_px, self.min_inliers, self.shaky_consistency = static_px, min_inliers, shaky_consistency
        self.grid, self.shaky_flips = grid, shaky_flips
        self.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)

    def start(self, n: int, fps: float) -> set[int]:
        self.firsts = set(pair_starts(n, fps, self.pairs_per_s, self.max_pairs))
        self.prev: np.ndarray | None = None
        self.prev_i = -2
        self.mags: list[float] = []
        self.fits: list[tuple[float, float, float, float]] = []  # tx, ty, scale-1, inlier ratio
        self.width = 0
        return self.firsts | {i + 1 for i in self.firsts}

    def update(self, i: int, frame: Frame) -> None:
        g = frame.gray
        if self.prev is not None and i == self.prev_i + 1 and self.prev_i in self.firsts:
            self._pair(self.prev, g)
        self.prev, self.prev_i = g, i

    def _pair(self, a: np.ndarray, b: np.ndarray) -> None:
        h, w = a.shape
        self.width = w
        flow = self.dis.calc(a, b, None)
        mag = np.sqrt(flow[..., 0] ** 2 + flow[..., 1] ** 2)
        self.mags.append(float(mag.mean()))
        s = self.grid
        ys, xs = np.mgrid[s // 2:h:s, s // 2:w:s]
        src = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float32)
        dst = src + flow[ys.ravel(), xs.ravel()]
        m, inl = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=1.0,
                                             maxIters=200, confidence=0.95)
        if m is None:
            self.fits.append((0.0, 0.0, 0.0, 0.0))
            return
        scale = float(np.hypot(m[0, 0], m[1, 0]))
        cx, cy = w / 2.0, h / 2.0
        tx = m[0, 0] * cx + m[0, 1] * cy + m[0, 2] - cx  # displacement of the frame centre
        ty = m[1, 0] * cx + m[1, 1] * cy + m[1, 2] - cy
        self.fits.append((float(tx), float(ty), scale - 1.0, float(inl.mean()) if inl is not None else 0.0))

    def result(self) -> dict[str, Any]:
        if not self.mags:
            return {"motion_score": None, "motion_px_per_frame": None, "camera_motion": None,
                    "camera_pan": None, "camera_tilt": None, "camera_zoom": None}
        norm = REF_WIDTH / self.width
        px = float(np.mean(self.mags))
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
