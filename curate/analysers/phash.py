"""Perceptual hashes of frames sampled through the clip, for near-duplicate detection.

Three lists, one entry per sampled frame (every ``1/per_s`` s from the first frame; a clip
longer than ``max_hashes / per_s`` s is sampled at a regular coarser step so that
``max_hashes`` cover it; nearly flat frames - luma std < ``min_std`` - are skipped, since every
black or single-colour frame would otherwise match every other):

* ``phash``: a 64-bit DCT perceptual hash (signed int64). Luma resized to 32x32 (area filter),
  2-D DCT; the bits are the signs of the 64 lowest-frequency AC coefficients (rows 0..7,
  horizontal frequencies 0..8, DC excluded). Signs instead of a comparison with the median make
  the hash of the MIRRORED frame exact and free: a horizontal flip negates exactly the
  coefficients of odd horizontal frequency, so ``mirror_hash(h) == h ^ ODD_COLUMNS`` (what
  ``dedup.mirror`` uses; nothing extra is stored).
* ``phash_t``: the sample's time in seconds from the clip's first frame. Dedup aligns two clips
  by a consistent time offset between matching samples, so a start-trimmed copy (whose samples
  fall between the original's) still lines up.
* ``phash_motion``: an 8x8 mask (64 bits, row-major, bit ``8*row + col``) of the cells where the
  sampled frame differs from the clip's per-pixel temporal median (its static background) by
  more than ``max(motion_min, motion_k * median cell difference)`` grey levels at 32x32. It
  says WHERE things move at that moment. A static camera filmed at two moments gives nearly
  the same pHash (the background dominates) but different masks; a copy gives the same masks.
  On handheld footage nearly every cell moves and the mask says little (the pHash does).

pHash of a frame moves by 10-25 of 64 bits within 1-3 frames on handheld footage, so copies
are only matched reliably when some samples of the two clips are within about a frame of each
other: hence the dense default sampling (``analyze.phash_per_s`` 8).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from curate.analysers.frames import Frame

_WEIGHTS = (1 << np.arange(64, dtype=np.uint64)).astype(np.uint64)
# the 64 coefficients (row v = vertical frequency, column u = horizontal frequency) whose signs are the bits
_COEFS = [(v, u) for v in range(8) for u in range(9) if (v, u) != (0, 0)][:64]
_ROWS = np.array([v for v, _ in _COEFS])
_COLS = np.array([u for _, u in _COEFS])
# bits that flip when the frame is mirrored left-right (odd horizontal frequency)
ODD_COLUMNS = int(np.int64(np.uint64(((_COLS % 2 == 1).astype(np.uint64) * _WEIGHTS).sum())))


def _pack(bits: np.ndarray) -> int:
    return int(np.int64(np.uint64((bits.astype(np.uint64) * _WEIGHTS).sum())))


def phash(gray: np.ndarray) -> int | None:
    """64-bit pHash of a grey image as a signed int64 (None for a flat image)."""
    small = cv2.resize(gray, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    if small.std() < 1e-3:
        return None
    return _pack(cv2.dct(small)[_ROWS, _COLS] > 0)


def mirror_hash(h: int) -> int:
    """The pHash of the left-right mirrored frame, from the frame's pHash (exact)."""
    return int(np.int64(h) ^ np.int64(ODD_COLUMNS))


def mirror_mask(m: int) -> int:
    """The motion mask of the mirrored frame (columns reversed)."""
    bits = np.unpackbits(np.array([m], dtype=np.int64).view(np.uint8), bitorder="little").reshape(8, 8)
    return _pack(bits[:, ::-1].ravel())


def hamming(a: int, b: int) -> int:
    return int((a ^ b) & 0xFFFFFFFFFFFFFFFF).bit_count()


class PhashAnalyser:
    name = "phash"

    def __init__(self, per_s: float = 1.0, max_hashes: int = 32, min_std: float = 4.0,
                 motion_min: float = 3.0, motion_k: float = 3.0) -> None:
        self.per_s, self.max_hashes, self.min_std = per_s, max_hashes, min_std
        self.motion_min, self.motion_k = motion_min, motion_k

    def start(self, n: int, fps: float) -> set[int]:
        # a regular step, coarser for clips longer than max_hashes / per_s (dedup aligns samples
        # by time, so uneven spacing would break the alignment of trimmed copies)
        step = max(1, int(round(fps / self.per_s)), -(-n // self.max_hashes))
        offs = list(range(0, n, step))[: self.max_hashes]
        self.frames, self.fps = set(offs), fps or 25.0
        self.hashes: list[int] = []
        self.times: list[float] = []
        self.thumbs: list[np.ndarray] = []  # 32x32 float32 per sample (4 KB each, max_hashes of them)
        return self.frames

    def update(self, i: int, frame: Frame) -> None:
        if i in self.frames and frame.gray.std() >= self.min_std:
            small = cv2.resize(frame.gray, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
            if small.std() < 1e-3:
                return
            self.hashes.append(_pack(cv2.dct(small)[_ROWS, _COLS] > 0))
            self.times.append(round(i / self.fps, 3))
            self.thumbs.append(small)

    def motion_masks(self) -> list[int]:
        if not self.thumbs:
            return []
        th = np.stack(self.thumbs)
        cells = np.abs(th - np.median(th, axis=0)).reshape(len(th), 8, 4, 8, 4).mean((2, 4))
        thr = max(self.motion_min, self.motion_k * float(np.median(cells)))
        return [_pack(c.ravel() > thr) for c in cells]

    def result(self) -> dict[str, Any]:
        return {"phash": list(self.hashes), "phash_t": list(self.times), "phash_motion": self.motion_masks()}
