"""On-screen text: PP-OCR (det + rec ONNX models shipped in ``rapidocr-onnxruntime``).

Runs on ``frames`` frames spread over the clip, decoded at up to ``max_width`` pixels wide
(the same decode as every other analyser: only those frames are converted at that size).
The engine runs in a thread of its own (``update`` only converts the frame and queues it;
``result`` waits): a 40 ms PP-OCR call then never stalls the decoder or the other
analysers, and at most ``frames`` images of ``max_width`` wait per clip.

* ``text_area_ratio`` - mean over the OCR frames of the fraction of the frame covered by
  recognised text boxes (union of the box polygons, so overlaps are not counted twice).
* ``ocr_boxes`` - the largest number of text boxes found in one OCR frame.
* ``ocr_texts`` - distinct recognised strings in order of appearance (at most ``max_texts``).

The engine is any callable ``engine(bgr) -> [(polygon 4x2, text, score), ...]``; the
default :class:`RapidOcrEngine` is loaded once per actor by the analyse stage.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

import cv2
import numpy as np

from curate.analysers.frames import Frame, evenly_spaced


class TextEngine(Protocol):
    def __call__(self, bgr: np.ndarray) -> list[tuple[Any, str, float]]: ...


class RapidOcrEngine:
    """PP-OCRv4 det + rec via rapidocr-onnxruntime (models ship in the wheel: runs offline)."""

    def __init__(self, max_side: int = 640, threads: int = 1, min_score: float = 0.5) -> None:
        from rapidocr_onnxruntime import RapidOCR

        self.min_score = min_score
        self.engine = RapidOCR(det_limit_side_len=max_side, det_limit_type="max", text_score=min_score,
                               intra_op_num_threads=threads, inter_op_num_threads=1)

    def __call__(self, bgr: np.ndarray) -> list[tuple[Any, str, float]]:
        result, _ = self.engine(bgr, use_cls=False)
        return [(box, text, float(score)) for box, text, score in (result or []) if float(score) >= self.min_score]


class OcrAnalyser:
    name = "ocr"

    def __init__(self, engine: TextEngine, frames: int = 3, max_width: int = 640, max_texts: int = 32,
                 background: bool = True) -> None:
        self.engine, self.k, self.max_width, self.max_texts = engine, frames, max_width, max_texts
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="curate-ocr") if background else None
        self.pending: list[Future] = []

    def start(self, n: int, fps: float) -> set[int]:
        for fut in self.pending:  # an interrupted clip (decode error): drop its work
            fut.cancel()
        self.pending = []
        self.frames = set(evenly_spaced(n, self.k))
        self.areas: list[float] = []
        self.boxes = 0
        self.texts: list[str] = []
        return self.frames

    def update(self, i: int, frame: Frame) -> None:
        if i not in self.frames:
            return
        img = frame.hires(self.max_width)
        if self.pool is None:
            self._add(img, self.engine(img))
        else:
            self.pending.append(self.pool.submit(lambda im=img: (im, self.engine(im))))

    def _add(self, img: np.ndarray, found: list[tuple[Any, str, float]]) -> None:
        mask = np.zeros(img.shape[:2], np.uint8)
        for box, text, _score in found:
            cv2.fillPoly(mask, [np.round(np.asarray(box, np.float32)).astype(np.int32)], 1)
            t = str(text).strip()
            if t and t not in self.texts and len(self.texts) < self.max_texts:
                self.texts.append(t)
        self.areas.append(float(mask.mean()))
        self.boxes = max(self.boxes, len(found))

    def result(self) -> dict[str, Any]:
        pending, self.pending = self.pending, []
        for fut in pending:  # in frame order: ocr_texts keep their order of appearance
            self._add(*fut.result())
        if not self.areas:
            return {"text_area_ratio": None, "ocr_boxes": None, "ocr_texts": None}
        return {"text_area_ratio": float(np.mean(self.areas)), "ocr_boxes": self.boxes, "ocr_texts": list(self.texts)}
