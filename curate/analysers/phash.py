"""Perceptual hashes of frames sampled through the clip, for near-duplicate detection.

``phash`` holds one 64-bit DCT perceptual hash (as a signed int64) per frame sampled every
``1/per_s`` seconds (at most ``max_hashes``, first frame included). pHash: luma resized to
32x32 (area filter), 2-D DCT, the 8x8 lowest frequencies compared with their median (DC
excluded) -> 64 bits. Nearly flat frames (luma std < ``min_std``) are not hashed: every black
or single-colour frame would otherwise match every other. Many hashes per clip make matching
robust to trimming (``curate.dedup``); re-encoding and resizing barely move pHash bits.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from curate.analysers.frames import Frame

_WEIGHTS = (1 << np.arange(64, dtype=np.uint64)).astype(np.uint64)


def phash(gray: np.ndarray) -> int | None:
    """64-bit pHash of a grey image as a signed int64 (None for a flat image)."""
    small = cv2.resize(gray, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    if small.std() < 1e-3:
        return None
    low = cv2.dct(small)[:8, :8].ravel()
    bits = (low > np.median(low[1:])).astype(np.uint64)
    return int(np.int64(np.uint64((bits * _WEIGHTS).sum())))


def hamming(a: int, b: int) -> int:
    return int((a ^ b) & 0xFFFFFFFFFFFFFFFF).bit_count()


class PhashAnalyser:
    name = "phash"

    def __init__(self, per_s: float = 1.0, max_hashes: int = 32, min_std: float = 4.0) -> None:
        self.per_s, self.max_hashes, self.min_std = per_s, max_hashes, min_std

    def start(self, n: int, fps: float) -> set[int]:
        step = max(1, int(round(fps / self.per_s)))
        offs = list(range(0, n, step))
        if len(offs) > self.max_hashes:
            offs = [offs[int(j * len(offs) / self.max_hashes)] for j in range(self.max_hashes)]
        self.frames = set(offs)
        self.hashes: list[int] = []
        return self.frames

    def update(self, i: int, frame: Frame) -> None:
        if i in self.frames and frame.gray.std() >= self.min_std:
            h = phash(frame.gray)
            if h is not None:
                self.hashes.append(h)

    def result(self) -> dict[str, Any]:
        return {"phash": list(self.hashes)}
