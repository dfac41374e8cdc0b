"""The stage contract.

A stage is a callable class that Ray instantiates once per actor (heavy setup in
``__init__``), then calls with Arrow batches. It declares:

* ``name`` - stable name used in logs, summaries and timings;
* ``requires`` - stream columns it reads (``dag.py`` checks the chain before data flows);
* ``adds`` - Arrow fields it adds or fills (types come from ``curate.schemas``);
* ``resources(cfg)`` - CPUs/GPUs per actor, batch size and concurrency for ``map_batches``.

Most stages work row by row: subclass :class:`RowStage` and implement ``process(row)``.
Rows whose ``status`` is not ``ok`` pass through untouched; an exception inside
``process`` turns the row into ``status=failed`` with a reason instead of crashing the run.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from dataclasses import dataclass
from typing import Any, ClassVar

import pyarrow as pa

log = logging.getLogger("curate")


class StageError(Exception):
    """An expected failure of one row: ``reason`` is a short code, the message a detail."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason
        self.detail = detail or reason


@dataclass(frozen=True)
class Resources:
    """What one actor of a stage needs; translated to ``map_batches`` kwargs in one place."""

    num_cpus: float = 1.0
    num_gpus: float = 0.0
    batch_size: int = 1
    concurrency: int | tuple[int, int] | None = None

    actor: bool = False  # True: a pool of long-lived actors (model loaded once); False: stateless tasks
    # Heap bytes reserved per actor. Declaring it on a model actor also keeps Ray Data from fusing
    # the upstream CPU task chain (decode, ffmpeg) INTO the actor, where it would wait behind the model.
    memory: float | None = None

    def map_batches_kwargs(self, default_concurrency: int = 1) -> dict[str, Any]:
        kw: dict[str, Any] = {"num_cpus": self.num_cpus, "batch_size": self.batch_size}
        if self.num_gpus:
            kw["num_gpus"] = self.num_gpus
        if self.memory:
            kw["memory"] = self.memory
        kw["compute"] = self.compute(default_concurrency)
        return kw

    def compute(self, default_concurrency: int = 1) -> Any:
        """The Ray Data compute strategy (``concurrency=`` is deprecated in Ray 2.60, removed in 2.64).

        Actors: a fixed pool of ``concurrency`` (default ``default_concurrency``), or an autoscaling
        pool for a ``(min, max)`` tuple. Tasks: at most ``concurrency`` at once (None = as resources allow).
        """
        from ray.data import ActorPoolStrategy, TaskPoolStrategy

        c = self.concurrency
        if self.actor:
            c = c or default_concurrency
            if isinstance(c, tuple):
                return ActorPoolStrategy(min_size=c[0], max_size=c[1])
            return ActorPoolStrategy(size=c)
        if isinstance(c, tuple):
            return TaskPoolStrategy(size=c[1])
        return TaskPoolStrategy(size=c) if c else TaskPoolStrategy()


@dataclass
class RunContext:
    """Run-wide facts every stage may need (picklable; shipped to actors)."""

    run_id: str
    output_dir: str
    work_dir: str  # local scratch directory on the worker host

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickled on a worker: with a remote output the scratch folder is this node's own.

        The driver's scratch path means nothing on another node (nodes share only the store),
        so each process resolves it where it runs: ``CURATE_WORK_DIR``, else
        ``<tempdir>/curate-work`` (``TMPDIR`` of that node). See docs/storage.md.
        """
        self.__dict__.update(state)
        if "://" in self.output_dir and not self.output_dir.startswith("file://"):
            self.work_dir = node_scratch_dir()


def node_scratch_dir() -> str:
    """This node's scratch folder for a run with a remote output (created)."""
    import tempfile

    d = os.environ.get("CURATE_WORK_DIR") or os.path.join(tempfile.gettempdir(), "curate-work")
    os.makedirs(d, exist_ok=True)
    return d


class Stage:
    """Base class: subclasses set the class attributes and implement ``__call__``."""

    name: ClassVar[str] = "stage"
    level: ClassVar[str] = "video"  # "video" stages see video records, "clip" stages clip records
    requires: ClassVar[tuple[str, ...]] = ()
    adds: ClassVar[tuple[pa.Field, ...]] = ()

    @classmethod
    def resources(cls, cfg: Any, ray_cfg: Any) -> Resources:
        """Default: stateless CPU tasks (Ray fuses consecutive task stages into one operator,
        so fetch -> probe -> cuts -> clips run back to back on the same worker and file)."""
        return Resources(batch_size=ray_cfg.batch_size, concurrency=ray_cfg.video_concurrency)

    def __call__(self, batch: pa.Table) -> pa.Table:  # pragma: no cover - abstract
        raise NotImplementedError


def run_stage_task(batch: pa.Table, cls: type[Stage], cfg: Any, ctx: RunContext) -> pa.Table:
    """Task adapter: build the (cheap) stage and apply it to one batch."""
    return cls(cfg, ctx)(batch)


class RowStage(Stage):
    """A stage that maps each eligible row to one or more rows (dicts)."""

    def __init__(self, cfg: Any, ctx: RunContext) -> None:
        self.cfg = cfg
        self.ctx = ctx

    def eligible(self, row: dict[str, Any]) -> bool:
        return row.get("status") == "ok" and row.get("record", "video") == self.level

    def process(self, row: dict[str, Any]) -> dict[str, Any] | list[dict[str, Any]]:
        raise NotImplementedError

    def __call__(self, batch: pa.Table) -> pa.Table:
        out: list[dict[str, Any]] = []
        for row in batch.to_pylist():
            if not self.eligible(row):
                out.append(row)
                continue
            t0 = time.perf_counter()
            try:
                result = self.process(row)
            except StageError as exc:
                row.update(status="failed", error=exc.reason, error_detail=f"{self.name}: {exc.detail}")
                result = row
            except Exception as exc:  # noqa: BLE001 - a bad input must never crash the run
                log.debug("stage %s failed on %s: %s", self.name, row.get("source"), traceback.format_exc())
                row.update(
                    status="failed",
                    error=f"{self.name}_error",
                    error_detail=f"{self.name}: {type(exc).__name__}: {exc}",
                )
                result = row
            dt = time.perf_counter() - t0
            rows = result if isinstance(result, list) else [result]
            for r in rows:
                # the time goes on the row of this stage's level: one video row for video
                # stages (even when they emit clips), each clip row for clip stages
                if r.get("record", "video") == self.level:
                    add_stage_seconds(r, self.name, dt)
            out.extend(rows)
        return rows_to_table(out, batch.schema, self.adds)


def add_stage_seconds(row: dict[str, Any], stage: str, seconds: float) -> None:
    """Add ``seconds`` of ``stage`` work to the row's ``stage_seconds`` map (summed by the
    run summary and report). RowStage does this per row; actor stages with their own
    ``__call__`` (batched models) call it with each row's share of the batch."""
    timings = dict(row.get("stage_seconds") or {})
    timings[stage] = timings.get(stage, 0.0) + seconds
    row["stage_seconds"] = timings


def share_stage_seconds(rows: list[dict[str, Any]], stage: str, level: str, seconds: float) -> None:
    """Split a batched call's wall ``seconds`` equally over the batch's rows of ``level``."""
    mine = [r for r in rows if r.get("record", level) == level]
    for r in mine:
        add_stage_seconds(r, stage, seconds / len(mine))


def rows_to_table(rows: list[dict[str, Any]], schema: pa.Schema, adds: tuple[pa.Field, ...] = ()) -> pa.Table:
    """Build a table with ``schema`` plus the ``adds`` fields (stable types across batches)."""
    fields = list(schema)
    names = {f.name for f in fields}
    for f in adds:
        if f.name not in names:
            fields.append(f)
            names.add(f.name)
    if "stage_seconds" not in names:
        fields.append(STAGE_SECONDS)
    out_schema = pa.schema(fields)
    cols = {f.name: [r.get(f.name) for r in rows] for f in out_schema}
    return pa.Table.from_pydict(cols, schema=out_schema)


STAGE_SECONDS = pa.field("stage_seconds", pa.map_(pa.string(), pa.float64()))
