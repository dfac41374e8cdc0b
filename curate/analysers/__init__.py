"""CPU analysers fed by ONE streaming low-resolution decode per clip (``stages/analyze.py``).

The protocol is tiny so a new scorer is one small module:

* ``start(n, fps) -> set[int]`` - reset for a clip of ``n`` frames at ``fps``; return the
  0-based frame offsets (within the clip) it wants to see. The decoder only converts the
  union of wanted frames to pixels, so frames nobody samples cost a decode and nothing else.
* ``update(i, frame)`` - called once per wanted offset, in order, with a :class:`Frame`
  (lazy, cached conversions: ``frame.bgr``/``frame.gray`` at the analysis width,
  ``frame.hires(width)`` for OCR-style consumers).
* ``result() -> dict`` - column values for the clip (names declared in ``schemas/scores.py``).

Analysers keep only running sums and at most a couple of frames, so memory is bounded
whatever the clip length.
"""

from __future__ import annotations

from typing import Any, Protocol

from curate.analysers.frames import Frame, evenly_spaced, pair_starts


class Analyser(Protocol):
    name: str

    def start(self, n: int, fps: float) -> set[int]: ...

    def update(self, i: int, frame: Frame) -> None: ...

    def result(self) -> dict[str, Any]: ...


__all__ = ["Analyser", "Frame", "evenly_spaced", "pair_starts"]
