"""Hook for a learned watermark classifier (no such weights ship in any package).

``analyze.watermark_model`` names a model: a local ``.onnx`` file or a Hugging Face image
classification model (hub id or local folder, loaded with ``local_files_only=True`` - nothing
is downloaded at run time). Any object with ``predict(frames: list[BGR uint8 arrays]) -> float``
(probability that the clip carries a watermark) can be passed to the analyse stage instead.

ONNX contract: one input ``NCHW float32`` RGB in [0, 1] at the model's fixed H x W (from the
input shape; 224 if dynamic), output ``N x 2`` logits (class 1 = watermark) or ``N x 1``
probabilities. The clip probability is the max over ``frames`` sampled frames.

When the model cannot be loaded, :func:`load_watermark_model` raises
:class:`ModelUnavailable` with a message that says which model and how to provide it; the
stage then leaves ``watermark_prob`` null and records the reason in ``scores_skipped``.
"""

from __future__ import annotations

import os
from typing import Any, Protocol

import cv2
import numpy as np

from curate.analysers.frames import Frame, evenly_spaced


class WatermarkModel(Protocol):
    def predict(self, frames: list[np.ndarray]) -> float: ...


class ModelUnavailable(RuntimeError):
    """The configured model cannot be loaded; the message says how to provide it."""


def _softmax_p1(logits: np.ndarray) -> np.ndarray:
    if logits.ndim == 2 and logits.shape[1] >= 2:
        e = np.exp(logits - logits.max(1, keepdims=True))
        return e[:, 1] / e.sum(1)
    return logits.reshape(len(logits), -1)[:, 0]


class OnnxWatermarkModel:
    def __init__(self, path: str) -> None:
        import onnxruntime as ort

        self.sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        inp = self.sess.get_inputs()[0]
        self.input = inp.name
        h, w = inp.shape[2:4]
        self.size = (w if isinstance(w, int) else 224, h if isinstance(h, int) else 224)

    def predict(self, frames: list[np.ndarray]) -> float:
        x = np.stack([cv2.resize(f, self.size)[..., ::-1] for f in frames]).astype(np.float32) / 255.0
        out = self.sess.run(None, {self.input: x.transpose(0, 3, 1, 2)})[0]
        return float(_softmax_p1(np.asarray(out, np.float32)).max())


class HfWatermarkModel:
    def __init__(self, name: str) -> None:
        import torch  # noqa: F401 - fail early with ImportError when torch is missing
        from transformers import AutoImageProcessor, AutoModelForImageClassification

        self.proc = AutoImageProcessor.from_pretrained(name, local_files_only=True)
        self.model = AutoModelForImageClassification.from_pretrained(name, local_files_only=True).eval()
        labels = {i: str(v).lower() for i, v in self.model.config.id2label.items()}
        hits = [i for i, v in labels.items() if "water" in v or v in ("1", "positive", "yes")]
        self.pos = hits[0] if hits else 1

    def predict(self, frames: list[np.ndarray]) -> float:
        import torch

        with torch.no_grad():
            inputs = self.proc(images=[f[..., ::-1] for f in frames], return_tensors="pt")
            probs = self.model(**inputs).logits.softmax(-1)[:, self.pos]
        return float(probs.max())


def load_watermark_model(name: str) -> WatermarkModel:
    how = (f"provide it as a local .onnx file or a local Hugging Face folder (analyze.watermark_model=/path), "
           f"pre-fill the Hugging Face cache (HF_HOME) with '{name}', or set analyze.watermark_model=null")
    try:
        if name.endswith(".onnx"):
            if not os.path.isfile(name):
                raise FileNotFoundError(name)
            return OnnxWatermarkModel(name)
        return HfWatermarkModel(name)
    except Exception as exc:  # noqa: BLE001 - any failure means: not loadable here
        raise ModelUnavailable(f"watermark model '{name}' cannot be loaded ({type(exc).__name__}: "
                               f"{str(exc)[:200]}); {how}") from None


class WatermarkAnalyser:
    name = "watermark"

    def __init__(self, model: WatermarkModel, frames: int = 3, max_width: int = 640) -> None:
        self.model, self.k, self.max_width = model, frames, max_width

    def start(self, n: int, fps: float) -> set[int]:
        self.frames = set(evenly_spaced(n, self.k))
        self.imgs: list[np.ndarray] = []
        return self.frames

    def update(self, i: int, frame: Frame) -> None:
        if i in self.frames:
            self.imgs.append(frame.hires(self.max_width))

    def result(self) -> dict[str, Any]:
        p = self.model.predict(self.imgs) if self.imgs else None
        self.imgs = []
        return {"watermark_prob": p}
