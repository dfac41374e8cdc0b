"""captions: hierarchical dense captions on the GPU actor pool (one model load per actor).

Reads: caption_frames (from ``caption_frames``, decoded on CPU ahead of this stage),
duration_s, is_long_take, and — when present — camera_motion, motion_score, ocr_texts as
hints. Adds: every ``caption_*`` column of ``schemas/captions.py``; drops caption_frames.
Needs: ``captions.num_gpus`` GPUs (fractional allowed) and ``captions.num_cpus`` per actor,
``captions.concurrency`` actors, ``captions.batch_size`` rows per call.

All clips of a call are captioned together, level by level (``curate/captioners/hierarchy.py``),
so every generate call is a batch across windows and clips. When the model cannot be loaded
the actor says so once (which model, how to provide it) and marks clips
caption_status='skipped' with the reason; nothing is invented.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import pyarrow as pa
from curate.schemas.captions import CAPTION_FIELDS

from curate.captioners import Captioner, ModelUnavailable, load_captioner
from curate.captioners.hierarchy import ClipJob, Hierarchy
from curate.captioners.prompts import load_prompts
from curate.config import CaptionsConfig
from curate.stage import Resources, RunContext, Stage, rows_to_table, share_stage_seconds

log = logging.getLogger("curate")
_REPORTED: set[str] = set()  # one clear message per process, not one per batch
HINTS = ("camera_motion", "motion_score", "ocr_texts")


class Captions(Stage):
    name = "captions"
    level = "clip"
    requires = ("clip_id", "duration_s", "is_long_take", "caption_frames", "caption_keyframes_s")
    adds = tuple(CAPTION_FIELDS)

    @classmethod
    def resources(cls, cfg: CaptionsConfig, ray_cfg: Any) -> Resources:
        gpus = 0.0 if cfg.backend == "openai" else cfg.num_gpus
        return Resources(num_cpus=cfg.num_cpus, num_gpus=gpus, batch_size=cfg.batch_size,
                         concurrency=cfg.concurrency, actor=True, memory=cfg.memory_gb * 1024**3)

    def __init__(self, cfg: CaptionsConfig, ctx: RunContext | None = None, captioner: Captioner | None = None) -> None:
        self.cfg, self.ctx = cfg, ctx
        self.prompts = load_prompts(cfg.prompts)  # a bad prompt file is a config error: fail loudly
        self.unavailable: str | None = None
        self.hierarchy: Hierarchy | None = None
        if captioner is None:
            try:
                captioner = load_captioner(cfg)
            except ModelUnavailable as exc:
                self.unavailable = str(exc)
            except Exception as exc:  # noqa: BLE001 - e.g. CUDA errors at load: skip captions, keep the run
                self.unavailable = (f"captions: loading model '{cfg.model}' with backend '{cfg.backend}' failed: "
                                    f"{type(exc).__name__}: {exc}")
            if self.unavailable and self.unavailable not in _REPORTED:
                _REPORTED.add(self.unavailable)
                log.error("%s", self.unavailable)
        if captioner is not None:
            self.hierarchy = Hierarchy(captioner, self.prompts, cfg)

    def _eligible(self, row: dict[str, Any]) -> bool:
        return row.get("record") == "clip" and row.get("status") == "ok" and not row.get("caption_status")

    def __call__(self, batch: pa.Table) -> pa.Table:
        t0 = time.perf_counter()
        rows = batch.to_pylist()
        todo = [r for r in rows if self._eligible(r)]
        ready = [r for r in todo if r.get("caption_frames")]
        for r in todo:
            if not r.get("caption_frames"):
                r.update(caption_status="failed", caption_error="no_frames",
                         caption_error_detail="captions: the caption_frames stage produced no frames for this clip")
        if ready and self.hierarchy is None:
            for r in ready:
                r.update(caption_status="skipped", caption_error="model_unavailable",
                         caption_error_detail=self.unavailable, caption_backend=self.cfg.backend,
                         caption_model=self.cfg.model)
        elif ready:
            assert self.hierarchy is not None
            jobs = [ClipJob(key=r["clip_id"], duration_s=float(r["duration_s"]), frames=r["caption_frames"],
                            long_take=bool(r.get("is_long_take")), hints={k: r.get(k) for k in HINTS})
                    for r in ready]
            try:
                results = self.hierarchy.run(jobs)
            except Exception as exc:  # noqa: BLE001 - never crash the run: mark the batch's clips
                log.exception("captions: hierarchy failed on a batch of %d clips", len(jobs))
                results = [{"caption_status": "failed", "caption_error": "captions_error",
                            "caption_error_detail": f"captions: {type(exc).__name__}: {exc}"} for _ in jobs]
            for r, cols in zip(ready, results):
                r.update(cols)
        for r in rows:
            r.pop("caption_frames", None)
        share_stage_seconds(rows, self.name, self.level, time.perf_counter() - t0)
        names = [n for n in batch.schema.names if n != "caption_frames"]
        return rows_to_table(rows, pa.schema([batch.schema.field(n) for n in names]), self.adds)
