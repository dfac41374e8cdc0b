"""aesthetics: open_clip image embeddings + LAION-style aesthetic score per clip.

Reads: clip_path (or local_path + start_frame/end_frame). Adds: aesthetic_score,
clip_embedding, clip_model, aesthetic_status, aesthetic_error. Needs: an actor per model
(GPU fraction from config, CPU fallback); one model load per actor.

Frames: ``aesthetics.frames`` frames spread over the clip (first/middle/last by default, as
Open-Sora), upright, box-filtered to 448 px on the shorter side (2x CLIP's input), then
preprocessed by the model's own transform. When the analyse stage ran, it already sampled
them from its own decode (``analyze.aesthetic_frames``, the stream-only ``aesthetic_frames``
JPEG column, consumed and dropped here); otherwise the clip is decoded here (one seek and
decode of the clip file, or of the span of the source). All
frames of a batch of clips go through the model in one forward pass. Per-clip score =
``reduce`` (mean, as Open-Sora; or min, as NeMo) over frames. A model that cannot be loaded
is reported once, rows get ``aesthetic_status='skipped'`` and the run goes on.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from typing import Any

import cv2
import numpy as np
import pyarrow as pa

from curate.aesthetic_model import AestheticScorer, ModelUnavailable, sample_frames
from curate.config import AestheticsConfig
from curate.schemas.aesthetics import AESTHETIC_FIELDS, AESTHETIC_FRAMES
from curate.stage import Resources, RunContext, Stage, add_stage_seconds, rows_to_table

log = logging.getLogger("curate")
_REPORTED: set[str] = set()


class Aesthetics(Stage):
    name = "aesthetics"
    level = "clip"
    requires = ("clip_id", "local_path", "start_frame", "end_frame")
    adds = tuple(AESTHETIC_FIELDS)

    @classmethod
    def resources(cls, cfg: AestheticsConfig, ray_cfg: Any) -> Resources:
        return Resources(num_cpus=cfg.num_cpus, num_gpus=cfg.num_gpus, batch_size=cfg.batch_size,
                         concurrency=cfg.concurrency, actor=True, memory=cfg.memory_gb * 1024**3)

    def __init__(self, cfg: AestheticsConfig, ctx: RunContext, scorer: AestheticScorer | None = None) -> None:
        self.cfg, self.ctx = cfg, ctx
        self.unavailable: str | None = None
        self.model_name = f"{cfg.model}/{cfg.pretrained}"
        self.scorer = scorer
        if scorer is None:
            try:
                self.scorer = AestheticScorer(cfg.model, cfg.pretrained, cfg.head_path, cfg.device, cfg.quick_gelu)
            except ModelUnavailable as exc:
                self.unavailable = str(exc)
            except Exception as exc:  # noqa: BLE001 - e.g. CUDA errors: skip this stage, keep the run
                self.unavailable = f"aesthetics: loading '{self.model_name}' failed: {type(exc).__name__}: {exc}"
            if self.unavailable and self.unavailable not in _REPORTED:
                _REPORTED.add(self.unavailable)
                log.error("%s", self.unavailable)

    def _frames(self, row: dict[str, Any]) -> list[np.ndarray]:
        shared = row.get("aesthetic_frames")
        if shared and len(shared) == self.cfg.frames:  # sampled by the analyse stage from its decode
            out = [cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_COLOR) for b in shared]
            if all(f is not None for f in out):
                return [np.ascontiguousarray(f[..., ::-1]) for f in out]
        if row.get("clip_path"):
            return sample_frames(os.path.join(self.ctx.output_dir, row["clip_path"]), self.cfg.frames)
        return sample_frames(row["local_path"], self.cfg.frames, row["start_frame"], row["end_frame"])

    def __call__(self, batch: pa.Table) -> pa.Table:
        rows = batch.to_pylist()
        todo = [r for r in rows if r.get("record") == "clip" and r.get("status") == "ok"]
        if todo and self.scorer is None:
            for r in todo:
                r.update(aesthetic_status="skipped", aesthetic_error="model_unavailable", clip_model=self.model_name)
        elif todo:
            # stage_seconds: each clip's own frame sampling plus its share (by frame count) of
            # the batched forward pass, so the run summary and report time this stage too
            frames: list[np.ndarray] = []
            owners: list[int] = []
            own_s: list[float] = []
            for i, r in enumerate(todo):
                t0 = time.perf_counter()
                try:
                    fr = self._frames(r)
                except Exception as exc:  # noqa: BLE001 - one unreadable clip must not fail the batch
                    fr = []
                    r["aesthetic_error"] = f"frames: {type(exc).__name__}: {exc}"
                if not fr:
                    r.update(aesthetic_status="failed", aesthetic_error=r.get("aesthetic_error") or "no_frames")
                frames += fr
                owners += [i] * len(fr)
                own_s.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            emb, scores = self.scorer.embed_and_score(frames)
            model_s = time.perf_counter() - t0
            counts = Counter(owners)
            for i, r in enumerate(todo):
                share = model_s * counts[i] / len(frames) if frames else 0.0
                add_stage_seconds(r, self.name, own_s[i] + share)
            owners_arr = np.asarray(owners)
            for i, r in enumerate(todo):
                sel = owners_arr == i
                if not sel.any():
                    continue
                e = emb[sel].mean(axis=0)
                r["clip_embedding"] = (e / max(float(np.linalg.norm(e)), 1e-6)).astype(np.float32).tolist()
                if scores is not None:
                    s = scores[sel]
                    r["aesthetic_score"] = float(s.min() if self.cfg.reduce == "min" else s.mean())
                r.update(aesthetic_status="ok", clip_model=self.model_name)
        for r in rows:
            r.pop(AESTHETIC_FRAMES.name, None)  # stream-only: consumed here
        schema = pa.schema([f for f in batch.schema if f.name != AESTHETIC_FRAMES.name])
        return rows_to_table(rows, schema, self.adds)
