"""cuts: shot boundaries from ONE streaming, downscaled decode per video.

Reads: local_path, fps. Adds: cut_frames, cut_detector, num_frames (decoded count),
analysis_s. Needs: 1 CPU per actor.

Frames are decoded with PyAV (FFmpeg threads) and scaled by swscale straight to
``cuts.analysis_width`` pixels wide, then fed to PySceneDetect's ContentDetector or
AdaptiveDetector. Memory stays constant whatever the video length (only the current frame
and the detector's small window are alive). ``detector: transnetv2`` instead decodes to 48x27
and runs TransNetV2 (``curate/transnet.py``; the model is loaded once per worker process).
"""

from __future__ import annotations

import time
from typing import Any

from scenedetect import AdaptiveDetector, ContentDetector, FrameTimecode

from curate.config import CutsConfig
from curate.media import iter_frames
from curate.schemas import VIDEOS
from curate.stage import RowStage, StageError


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


def detect_cuts(path: str, fps: float, cfg: CutsConfig) -> tuple[list[int], int]:
    """Return (cut frame indices, decoded frame count) for the video at ``path``."""
    if cfg.detector == "transnetv2":
        from curate.transnet import SIZE, predict, probs_to_cuts

        frames = (img for _, _, img in iter_frames(path, SIZE[0], fmt="rgb24", threads=cfg.threads, size=SIZE))
        probs = predict(frames, device=cfg.device)
        return probs_to_cuts(probs, cfg.transnet_threshold), len(probs)
    detector = make_detector(cfg)
    cuts: list[int] = []
    n = 0
    tc = None
    for i, _pts, img in iter_frames(path, cfg.analysis_width, threads=cfg.threads):
        n = i + 1
        if detector is None:
            continue
        tc = FrameTimecode(i, fps=fps)
        cuts.extend(c.frame_num for c in detector.process_frame(tc, img))
    if detector is not None and tc is not None:
        cuts.extend(c.frame_num for c in detector.post_process(tc))
    return sorted({c for c in cuts if 0 < c < n}), n


class Cuts(RowStage):
    name = "cuts"
    requires = ("local_path", "fps")
    adds = tuple(f for f in VIDEOS if f.name in ("cut_frames", "cut_detector", "num_frames", "analysis_s"))

    cfg: CutsConfig

    def process(self, row: dict[str, Any]) -> dict[str, Any]:
        t0 = time.perf_counter()
        cuts, n = detect_cuts(row["local_path"], row["fps"], self.cfg)
        expected = row.get("num_frames") or 0
        if expected > 10 and n < 0.9 * expected:
            raise StageError("truncated", f"decoded {n} of {expected} frames the container declares")
        row.update(cut_frames=cuts, num_frames=n, cut_detector=self.cfg.detector,
                   analysis_s=time.perf_counter() - t0)
        return row
