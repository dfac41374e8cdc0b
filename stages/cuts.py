"""cuts: shot boundaries, streaming, memory bounded whatever the video length.

Reads: local_path, fps. Adds: cut_frames (hard cuts), transitions (gradual: [start, end] blended
frames + kind), cut_detector, num_frames (frame count), analysis_s.
Needs: 1 CPU per task (it runs fused with fetch/probe/clips; ``cuts.threads: 0`` then decodes
each video with one single-threaded decoder, videos running side by side).

``decode: fast`` (default, adaptive/content): ``curate/cutdetect.py`` -- a coarse pass decodes
only reference frames (``skip_frame=NONREF``), demuxing every packet for the exact frame count,
timestamps and keyframes, split at keyframes into segments decoded in parallel when
``cuts.threads`` > 1; candidate jumps are then decoded exactly in a small window and judged by
the detector's own rule (AdaptiveDetector / ContentDetector semantics and thresholds).
``decode: exact``: every frame is decoded with PyAV, scaled by swscale to
``cuts.analysis_width`` and fed to PySceneDetect's detector. ``detector: transnetv2`` decodes
to 48x27 and runs TransNetV2 (``curate/transnet.py``; the model is loaded once per worker).
"""

from __future__ import annotations

import time
from typing import Any

import cv2
import numpy as np

from scenedetect import AdaptiveDetector, ContentDetector, FrameTimecode

from curate.config import CutsConfig
from curate.cutdetect import Fallback, Stats, detect_shots_fast, finish, params_from
from curate.media import iter_frames
from curate.schemas import VIDEOS
from curate.stage import Resources, RowStage, StageError
from curate.transitions import Transition, grid, spread


def make_detector(cfg: CutsConfig):
    """Build the PySceneDetect detector named by ``cfg.detector`` (None for 'none')."""
    if cfg.detector == "content":
        return ContentDetector(threshold=cfg.threshold, min_scene_len=cfg.min_scene_len)
    if cfg.detector == "adaptive":
        return AdaptiveDetector(
            adaptive_threshold=cfg.adaptive_threshold,
            min_scene_len=cfg.min_scene_len,
            window_width=cfg.window_width,
            min_content_val=cfg.min_content_val,
        )
    return None


def detect_cuts(path: str, fps: float, cfg: CutsConfig, stats: Stats | None = None) -> tuple[list[int], int]:
    """Return (hard-cut frame indices, frame count) for the video at ``path`` (see :func:`detect_shots`)."""
    cuts, _, n = detect_shots(path, fps, cfg, stats)
    return cuts, n


def detect_shots(path: str, fps: float, cfg: CutsConfig,
                 stats: Stats | None = None) -> tuple[list[int], list[Transition], int]:
    """Return (hard-cut frames, gradual transitions, frame count) for the video at ``path``.

    A gradual transition is one interval of blended frames (``cuts.transitions``), never also
    a cut. ``stats`` (optional) is filled with what the fast path did (frames decoded, refinements).
    """
    if cfg.detector == "transnetv2":
        from curate.transnet import SIZE, predict, probs_to_shots

        frames = (img for _, _, img in iter_frames(path, SIZE[0], fmt="rgb24", threads=cfg.threads, size=SIZE))
        from curate.devices import resolve_device

        probs = predict(frames, device=resolve_device(cfg.device))  # auto: cuda only if Ray reserved a GPU
        cuts, trans = probs_to_shots(probs, cfg.transnet_threshold, transitions=cfg.transitions)
        return cuts, trans, len(probs)
    if cfg.detector in ("adaptive", "content") and cfg.decode == "fast":
        try:
            return detect_shots_fast(path, params_from(cfg), float(fps or 0), stats)
        except Fallback as exc:  # no reliable timestamps: decode every frame instead
            if stats is not None:
                stats.fallback = str(exc)
    return detect_exact(path, fps, cfg)


def detect_exact(path: str, fps: float, cfg: CutsConfig) -> tuple[list[int], list[Transition], int]:
    """Decode and score every frame with PySceneDetect's own detector (``decode: exact``);
    gradual transitions from every frame's colour grid."""
    detector = make_detector(cfg)
    want_grids = cfg.transitions and detector is not None and fps
    cuts: list[int] = []
    grids: list[np.ndarray] = []
    spreads: list[float] = []
    n = 0
    tc = None
    for i, _pts, img in iter_frames(path, cfg.analysis_width, threads=cfg.threads):
        n = i + 1
        if detector is None:
            continue
        tc = FrameTimecode(i, fps=float(fps))
        cuts.extend(c.frame_num for c in detector.process_frame(tc, img))
        if want_grids:
            grids.append(grid(img))
            spreads.append(spread(cv2.cvtColor(img, cv2.COLOR_BGR2HSV)))
    if detector is not None and tc is not None:
        cuts.extend(c.frame_num for c in detector.post_process(tc))
    cuts = sorted({c for c in cuts if 0 < c < n})
    trans: list[Transition] = []
    if want_grids and grids:
        return finish(cuts, np.arange(len(grids)), np.stack(grids), np.array(spreads), float(fps), n,
                      cfg.min_scene_len, params_from(cfg).transition)
    return cuts, trans, n


class Cuts(RowStage):
    name = "cuts"
    requires = ("local_path", "fps")
    adds = tuple(f for f in VIDEOS if f.name in ("cut_frames", "transitions", "cut_detector", "num_frames",
                                                  "analysis_s"))

    cfg: CutsConfig

    @classmethod
    def resources(cls, cfg: CutsConfig, ray_cfg: Any) -> Resources:
        """CPU tasks fused with fetch/probe/clips; with TransNetV2 on a GPU each task reserves ``num_gpus``."""
        gpus = cfg.num_gpus if cfg.detector == "transnetv2" else 0.0
        return Resources(batch_size=ray_cfg.batch_size, concurrency=ray_cfg.video_concurrency, num_gpus=gpus)

    def process(self, row: dict[str, Any]) -> dict[str, Any]:
        t0 = time.perf_counter()
        cuts, trans, n = detect_shots(row["local_path"], row["fps"], self.cfg)
        expected = row.get("num_frames") or 0
        if expected > 10 and n < 0.9 * expected:
            raise StageError("truncated", f"decoded {n} of {expected} frames the container declares")
        row.update(cut_frames=cuts, transitions=[t.as_dict() for t in trans], num_frames=n, cut_detector=self.cfg.detector,
                   analysis_s=time.perf_counter() - t0)
        return row
