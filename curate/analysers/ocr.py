"""On-screen text: PP-OCR (det + rec ONNX models shipped in ``rapidocr-onnxruntime``).

Text detection runs on ``frames`` frames spread over the clip, more on long clips (``per_s``
a second, at most ``max_frames``), so a subtitle line that changes every second is seen. The
detector works on the frame scaled to ``det_width`` pixels wide (the dominant cost of OCR is
the detector, ~quadratic in the width); recognition runs on crops of the same frame at up to
``max_width`` pixels wide, and only for boxes that are new: a box at the place of a box
recognised earlier in the clip whose pixels did not change reuses that text. Static text
(a logo, a shop sign) is therefore recognised once, changing subtitles once per line
("did not change": correlation >= ``same_corr`` of the crops' gradient magnitude).
The engine runs in a thread of its own (``update`` only converts the frame and queues it;
``result`` waits): a PP-OCR call then never stalls the decoder or the other analysers.

* ``text_area_ratio`` - mean over the OCR frames of the fraction of the frame covered by
  recognised text boxes (union of the box polygons, so overlaps are not counted twice).
* ``ocr_boxes`` - the largest number of text boxes found in one OCR frame.
* ``ocr_texts`` - distinct recognised strings in order of appearance (at most ``max_texts``).
* ``ocr_regions`` - every recognised box: ``{x, y, w, h}`` normalised to [0, 1] (origin
  top-left, axis-aligned box of the text polygon), ``text``, ``score``, ``frame`` (offset in
  the clip) and ``t`` (seconds from the clip start); at most ``max_regions``.

The engine is any callable ``engine(bgr) -> [(polygon 4x2, text, score), ...]``; an engine
that also has ``detect(bgr) -> [polygon 4x2]`` and ``recognise([crop]) -> [(text, score)]``
(the default :class:`RapidOcrEngine`, loaded once per actor by the analyse stage) gets the
cheaper split path described above.
"""

from __future__ import annotations

import math
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

    def detect(self, bgr: np.ndarray) -> list[np.ndarray]:
        """Text polygons (4x2, pixel coordinates of ``bgr``) from the detector alone."""
        result, _ = self.engine(bgr, use_cls=False, use_rec=False)
        return [np.asarray(b, np.float32).reshape(4, 2) for b in (result or [])]

    def recognise(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        """(text, score) of each upright text crop (scores below ``min_score`` come back as '')."""
        if not crops:
            return []
        res, _ = self.engine.text_rec(crops)
        return [(str(t), float(s)) if float(s) >= self.min_score else ("", float(s)) for t, s in res]


def crop_box(img: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """The text polygon warped to an upright rectangle (what the recogniser reads)."""
    p = poly.astype(np.float32)
    w = int(max(np.linalg.norm(p[0] - p[1]), np.linalg.norm(p[2] - p[3])))
    h = int(max(np.linalg.norm(p[0] - p[3]), np.linalg.norm(p[1] - p[2])))
    w, h = max(w, 2), max(h, 2)
    m = cv2.getPerspectiveTransform(p, np.float32([[0, 0], [w, 0], [w, h], [0, h]]))
    out = cv2.warpPerspective(img, m, (w, h), borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC)
    return np.rot90(out) if h / w >= 1.5 else out


def _signature(crop: np.ndarray) -> np.ndarray:
    """Zero-mean, unit-norm gradient magnitude of the crop at 96x16: the strokes of the text
    dominate it, so a semi-transparent line over moving footage keeps its signature."""
    g = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    g = cv2.resize(g, (96, 16), interpolation=cv2.INTER_AREA).astype(np.float32)
    m = np.hypot(cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1))
    m -= m.mean()
    return m / (np.linalg.norm(m) + 1e-6)


def _iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / max(1e-9, a[2] * a[3] + b[2] * b[3] - inter)


class OcrAnalyser:
    name = "ocr"

    def __init__(self, engine: TextEngine, frames: int = 4, max_width: int = 640, max_texts: int = 32,
                 background: bool = True, per_s: float = 1.0, max_frames: int = 8, det_width: int = 480,
                 max_regions: int = 64, same_corr: float = 0.8) -> None:
        self.engine, self.k, self.max_width, self.max_texts = engine, frames, max_width, max_texts
        self.per_s, self.max_frames, self.det_width = per_s, max(frames, max_frames), det_width
        self.max_regions, self.same_corr = max_regions, same_corr
        self.split = hasattr(engine, "detect") and hasattr(engine, "recognise")
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="curate-ocr") if background else None
        self.pending: list[Future] = []

    def start(self, n: int, fps: float) -> set[int]:
        for fut in self.pending:  # an interrupted clip (decode error): drop its work
            fut.cancel()
        self.pending = []
        self.fps = fps or 25.0
        k = min(n, self.max_frames, max(self.k, math.ceil(n / self.fps * self.per_s)))
        self.frames = set(evenly_spaced(n, k))
        self.areas: list[float] = []
        self.boxes = 0
        self.texts: list[str] = []
        self.regions: list[dict[str, Any]] = []
        self.known: list[tuple[tuple[float, float, float, float], np.ndarray, str, float]] = []
        self.done: dict[str, Any] | None = None
        return self.frames

    def update(self, i: int, frame: Frame) -> None:
        if i not in self.frames:
            return
        img = frame.hires(self.max_width)
        if self.pool is None:
            self._add(i, img, self._find(img))
        else:
            self.pending.append(self.pool.submit(lambda im=img, j=i: (j, im, self._find(im))))

    def _find(self, img: np.ndarray) -> list[tuple[Any, str, float]]:
        if not self.split:
            return self.engine(img)
        h, w = img.shape[:2]
        s = min(1.0, self.det_width / w)
        det_img = img if s >= 1.0 else cv2.resize(img, (max(2, round(w * s)), max(2, round(h * s))),
                                                 interpolation=cv2.INTER_AREA)
        polys = [p / s for p in self.engine.detect(det_img)]
        out: list[tuple[Any, str, float] | None] = []
        todo: list[int] = []
        crops: list[np.ndarray] = []
        for p in polys:
            crop = crop_box(img, p)
            sig = _signature(crop)
            x0, y0 = p.min(0)
            x1, y1 = p.max(0)
            box = (x0 / w, y0 / h, (x1 - x0) / w, (y1 - y0) / h)
            hit = next((k for k in self.known if _iou(k[0], box) >= 0.6
                        and float((k[1] * sig).sum()) >= self.same_corr), None)
            if hit is not None:
                out.append((p, hit[2], hit[3]))
            else:
                out.append(None)
                todo.append(len(out) - 1)
                crops.append(crop)
        for j, (text, score) in zip(todo, self.engine.recognise(crops)):
            p = polys[j]
            x0, y0 = p.min(0)
            x1, y1 = p.max(0)
            self.known.append(((x0 / w, y0 / h, (x1 - x0) / w, (y1 - y0) / h), _signature(crops[todo.index(j)]),
                               text, score))
            out[j] = (p, text, score)
        return [r for r in out if r is not None and r[1]]

    def _add(self, i: int, img: np.ndarray, found: list[tuple[Any, str, float]]) -> None:
        h, w = img.shape[:2]
        mask = np.zeros((h, w), np.uint8)
        for box, text, score in found:
            poly = np.asarray(box, np.float32).reshape(4, 2)
            cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 1)
            t = str(text).strip()
            if t and t not in self.texts and len(self.texts) < self.max_texts:
                self.texts.append(t)
            if len(self.regions) < self.max_regions:
                x0, y0 = np.clip(poly.min(0), 0, None)
                x1, y1 = poly.max(0)
                x1, y1 = min(float(x1), w), min(float(y1), h)
                self.regions.append({"x": float(x0 / w), "y": float(y0 / h), "w": float((x1 - x0) / w),
                                     "h": float((y1 - y0) / h), "text": t, "score": float(score), "frame": int(i),
                                     "t": float(i / self.fps)})
        self.areas.append(float(mask.mean()))
        self.boxes = max(self.boxes, len(found))

    def finish(self) -> dict[str, Any]:
        """Wait for the queued frames (in frame order) and return the columns; idempotent per clip."""
        if self.done is None:
            pending, self.pending = self.pending, []
            for fut in pending:  # in frame order: ocr_texts keep their order of appearance
                self._add(*fut.result())
            if not self.areas:
                self.done = {"text_area_ratio": None, "ocr_boxes": None, "ocr_texts": None, "ocr_regions": None}
            else:
                self.done = {"text_area_ratio": float(np.mean(self.areas)), "ocr_boxes": self.boxes,
                             "ocr_texts": list(self.texts), "ocr_regions": list(self.regions)}
        return self.done

    def result(self) -> dict[str, Any]:
        return self.finish()
