"""Frames for a later stage, taken from the analyse stage's one decode.

The aesthetics stage scores ``k`` frames per clip, first..last (``aesthetics.frames``). When
the analyse stage runs too, this analyser picks exactly those frames from its own decode,
upright and box-filtered to ``min_side`` on the shorter side (what
:func:`curate.aesthetic_model.sample_frames` would produce), and hands them on as JPEG bytes
in the stream-only ``aesthetic_frames`` column. The aesthetics stage then needs no decode of
its own; without the column it decodes the clip itself.
"""

from __future__ import annotations

from typing import Any

import cv2

from curate.analysers.frames import Frame, spread_picks


class AestheticFramesAnalyser:
    name = "aesthetic_frames"

    def __init__(self, frames: int = 3, min_side: int = 448, quality: int = 95) -> None:
        self.k, self.min_side, self.quality = frames, min_side, quality

    def start(self, n: int, fps: float) -> set[int]:
        self.frames = set(spread_picks(n, self.k))
        self.jpegs: list[bytes] = []
        return self.frames

    def update(self, i: int, frame: Frame) -> None:
        if i in self.frames:
            ok, buf = cv2.imencode(".jpg", frame.short_side(self.min_side), [cv2.IMWRITE_JPEG_QUALITY, self.quality])
            if ok:
                self.jpegs.append(buf.tobytes())

    def result(self) -> dict[str, Any]:
        return {"aesthetic_frames": list(self.jpegs) if len(self.jpegs) == len(self.frames) else None}
