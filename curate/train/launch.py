"""Launch the training loop on the shards with Ray Train and link the checkpoint to the data.

``train(cfg)`` = select clips (DuckDB) -> streaming Ray Dataset (decode) -> ``TorchTrainer``
(``train.loop`` on ``train.num_workers`` workers) -> a training record appended to the
output's ``manifest.json`` (``trainings``) and written next to the checkpoints
(``<storage>/<name>/train_record.json``): checkpoint path and step, the exact clip shard files
with their row counts and selected rows, the selection query, samples seen and skip reasons.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from curate.config import Config, ConfigError, TrainConfig

log = logging.getLogger("curate")

CKPT_RE = re.compile(r"^checkpoint_step_(\d+)$")


@dataclass
class TrainSummary:
    """What a training run did; printed by ``curate train`` and stored in the manifest."""

    name: str
    run_dir: str
    loop: str
    checkpoint: str | None
    step: int
    start_step: int
    resumed_from: str | None
    selected_rows: int
    shards: list[dict[str, Any]]
    captions: dict[str, int]
    samples_seen: int
    samples_per_s: float
    loss: float | None
    skipped: dict[str, int] = field(default_factory=dict)
    buckets: dict[str, int] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0
    finished_at: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def resolve_loop(path: str) -> Callable[[dict[str, Any]], None]:
    """``module:function`` -> the function; ConfigError naming ``train.loop`` otherwise."""
    mod_name, _, fn_name = path.partition(":")
    if not mod_name or not fn_name:
        raise ConfigError(f"train.loop must be 'module:function', got {path!r}")
    try:
        mod = importlib.import_module(mod_name)
    except Exception as exc:
        raise ConfigError(f"train.loop: cannot import module {mod_name!r} ({type(exc).__name__}: {exc})") from None
    fn = getattr(mod, fn_name, None)
    if not callable(fn):
        raise ConfigError(f"train.loop: module {mod_name!r} has no function {fn_name!r}")
    return fn


def check_resumable(checkpoint_dir: str, tc: TrainConfig) -> None:
    """Refuse to resume a reference-model checkpoint into a differently shaped model (a clear
    config error instead of a wall of ``load_state_dict`` size mismatches from every worker)."""
    from curate.train.loop import META_FILE

    try:
        with open(os.path.join(checkpoint_dir, META_FILE)) as f:
            saved = json.load(f).get("model")
    except (OSError, ValueError):
        return  # a custom loop's checkpoint: its loop decides
    if not isinstance(saved, dict):
        return
    now = tc.model.model_dump(mode="json")
    shape_keys = ("dim", "depth", "heads", "patch", "vocab_size", "max_tokens")  # text_dropout may change
    diff = {k: (saved.get(k), now.get(k)) for k in shape_keys if saved.get(k) != now.get(k)}
    if diff:
        what = ", ".join(f"train.model.{k}: checkpoint {a} vs config {b}" for k, (a, b) in diff.items())
        raise ConfigError(f"cannot resume from {checkpoint_dir}: the model differs ({what}); restore those "
                          "values, or start a new run next to it (train.name=<new name>, or train.resume=false)")


def latest_checkpoint(run_dir: str) -> str | None:
    """The newest ``checkpoint_step_*`` directory under ``run_dir`` (local storage), if any."""
    if not os.path.isdir(run_dir):
        return None
    found = [(int(m.group(1)), n) for n in os.listdir(run_dir) if (m := CKPT_RE.match(n))
             and os.path.isfile(os.path.join(run_dir, n, "state.pt"))]
    return os.path.join(run_dir, max(found)[1]) if found else None


def storage_path(cfg: Config, output_dir: str) -> str:
    from curate.storage import Output

    if cfg.train.storage_path:
        sp = cfg.train.storage_path
        return sp if "://" in sp else os.path.abspath(sp)
    return Output(output_dir).path("train")


LAST_REPORT = "last_report.json"


def _report_callback(run_dir: str):
    """A Ray Train callback (runs in the controller) that keeps rank 0's latest metrics in
    ``<run_dir>/last_report.json``: Ray Train's ``Result.metrics`` only holds metrics that came
    with a checkpoint, and a custom loop may report without one."""
    from ray.train import UserCallback

    class _LastReport(UserCallback):
        def after_report(self, run_context, metrics, checkpoint):
            if not metrics:
                return
            try:
                import fsspec

                with fsspec.open(f"{run_dir}/{LAST_REPORT}", "w") as f:
                    json.dump(metrics[0], f, default=str)
            except Exception as exc:  # never fail training for a progress file
                log.warning("train: could not write %s/%s: %s", run_dir, LAST_REPORT, exc)

    return _LastReport()


def _last_report(run_dir: str) -> dict[str, Any]:
    try:
        import fsspec

        with fsspec.open(f"{run_dir}/{LAST_REPORT}", "r") as f:
            return json.load(f)
    except Exception:
        return {}


def check_resources(cfg: Config) -> None:
    """Fail fast instead of hanging or running out of memory half-way.

    * CPUs: the workers' reservation must leave room for decode tasks. Ray Train workers hold
      their CPUs for the whole run; Ray Data decode tasks need ``train.decode_cpus`` each. If
      the workers take every CPU the feed never produces a batch and training waits forever.
    * GPUs (``use_gpu``): ``num_workers x gpus_per_worker`` must exist (else the workers stay
      pending forever), and several workers must not share one GPU (NCCL needs a GPU per rank).
    * Memory (``use_gpu``): the estimate of :mod:`curate.train.plan` must fit ``train.gpu_memory_gb``.

    A private local Ray instance cannot grow, so a shortfall is an error; on a cluster
    (``ray.address``/``RAY_ADDRESS``) the autoscaler may add nodes: a warning.
    """
    import ray

    from curate.train.plan import check_fits

    tc = cfg.train
    resources = ray.cluster_resources()
    problems: list[str] = []
    total = float(resources.get("CPU", 0.0))
    reserved = tc.num_workers * tc.cpus_per_worker
    if total - reserved < tc.decode_cpus - 1e-9:
        problems.append(
            f"train.num_workers x train.cpus_per_worker = {tc.num_workers} x {tc.cpus_per_worker} reserves "
            f"{reserved:g} of the {total:g} CPUs, leaving less than train.decode_cpus = {tc.decode_cpus:g} for the "
            f"Ray Data decode tasks: training would wait for data forever. Lower train.cpus_per_worker "
            f"(e.g. {max(0.0, (total - tc.decode_cpus) / tc.num_workers):g}) or train.num_workers, or add CPUs.")
    if tc.use_gpu:
        if tc.num_workers > 1 and tc.gpus_per_worker < 1:
            raise ConfigError(f"train.gpus_per_worker = {tc.gpus_per_worker:g} with train.num_workers = {tc.num_workers}: "
                              "several distributed (NCCL) workers cannot share one GPU; use 1 GPU per worker.")
        gpus = float(resources.get("GPU", 0.0))
        wanted = tc.num_workers * tc.gpus_per_worker
        if gpus + 1e-9 < wanted:
            problems.append(f"train asks for {tc.num_workers} x {tc.gpus_per_worker:g} = {wanted:g} GPUs but the Ray "
                            f"cluster has {gpus:g}: the workers would wait forever. Lower train.num_workers, "
                            "or set train.use_gpu: false, or add GPU nodes.")
        try:
            est = check_fits(tc)
            log.info("train: %s", est.describe())
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    if not problems:
        return
    msg = " ".join(problems)
    if cfg.ray.address or os.environ.get("RAY_ADDRESS"):
        log.warning("%s (continuing: the cluster may autoscale)", msg)
    else:
        raise ConfigError(msg)


def train(cfg: Config, output_dir: str | None = None) -> TrainSummary:
    """Train ``cfg.train.loop`` on the shards of ``output_dir`` (default ``cfg.output.dir``).

    Raises :class:`ConfigError` for anything the user must fix (no shards, empty selection,
    bad ``where`` clause, bad ``train.loop``) and RuntimeError when training itself failed.
    """
    from curate.ray_session import init_ray
    from curate.shards import read_manifest, write_manifest
    from curate.storage import Output
    from curate.train.feed import build_dataset, select_clips

    t0 = time.perf_counter()
    output_dir = output_dir or cfg.output.dir
    out = Output(output_dir)
    if not out.exists("manifest.json"):
        raise ConfigError(f"no curate output at {output_dir} (manifest.json missing); run `curate run` first "
                          "or pass --shards OUTPUT_DIR")
    tc: TrainConfig = cfg.train
    loop_fn = resolve_loop(tc.loop)
    storage = storage_path(cfg, output_dir)
    name = tc.name
    if not tc.resume:
        name = f"{name}-{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%SZ}"
    run_dir = f"{storage.rstrip('/')}/{name}"
    local_run = "://" not in run_dir
    if local_run:
        os.makedirs(run_dir, exist_ok=True)
    import tempfile

    sel_dir = os.path.join(run_dir, "selection") if local_run else tempfile.mkdtemp(prefix="curate-selection-")
    selection = select_clips(output_dir, tc, sel_dir)
    if not local_run:  # workers on other nodes read the selection from the remote storage
        import fsspec

        fs, root = fsspec.core.url_to_fs(run_dir + "/selection")
        fs.put(sel_dir + "/", root, recursive=True)
        selection.files = [f"{run_dir}/selection/{os.path.basename(f)}" for f in selection.files]
    log.info("train: %d clips selected from %d shards (captions: %s)", selection.rows, len(selection.shards),
             selection.captions)

    init_ray(cfg)
    import ray.train
    from ray.train import CheckpointConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    check_resources(cfg)
    ds = build_dataset(selection, tc)
    resume_from = latest_checkpoint(run_dir) if (tc.resume and local_run) else None
    if resume_from:
        check_resumable(resume_from, tc)
    resources = {"CPU": tc.cpus_per_worker}
    if tc.use_gpu:
        resources["GPU"] = tc.gpus_per_worker
    loop_config = {**tc.loop_config, "train": tc.model_dump(mode="json"), "resume_from": resume_from,
                   "selected_rows": selection.rows, "output_dir": out.path("")}
    trainer = TorchTrainer(
        loop_fn,
        train_loop_config=loop_config,
        scaling_config=ScalingConfig(num_workers=tc.num_workers, use_gpu=tc.use_gpu, resources_per_worker=resources),
        run_config=RunConfig(name=name, storage_path=storage, callbacks=[_report_callback(run_dir)],
                             checkpoint_config=CheckpointConfig(num_to_keep=tc.keep_checkpoints)),
        datasets={"train": ds},
    )
    if local_run and os.path.exists(os.path.join(run_dir, LAST_REPORT)):
        os.remove(os.path.join(run_dir, LAST_REPORT))  # a previous run's
    try:
        result = trainer.fit()
    except ray.train.TrainingFailedError as exc:
        raise RuntimeError(f"training failed: {exc}") from exc
    metrics = dict(result.metrics or {})
    last = _last_report(run_dir)
    if last and int(last.get("step", -1)) >= int(metrics.get("step", -1)):
        metrics = last  # the latest report, with or without a checkpoint
    ckpt = result.checkpoint.path if result.checkpoint is not None else None
    if ckpt and not local_run and "://" not in ckpt:  # Ray gives the store path without its scheme
        ckpt = f"{run_dir.split('://', 1)[0]}://{ckpt.lstrip('/')}"
    summary = TrainSummary(
        name=name, run_dir=run_dir, loop=tc.loop, checkpoint=ckpt,
        step=int(metrics.get("step", 0)), start_step=int(metrics.get("start_step", 0)),
        resumed_from=metrics.get("resumed_from"), selected_rows=selection.rows, shards=selection.shards,
        captions=selection.captions, samples_seen=int(metrics.get("samples_seen", 0)),
        samples_per_s=float(metrics.get("run_samples_per_s", metrics.get("samples_per_s", 0.0))),
        loss=metrics.get("loss"),
        skipped=dict(metrics.get("skipped") or {}), buckets=dict(metrics.get("buckets") or {}),
        metrics={k: v for k, v in metrics.items() if isinstance(v, (int, float, str)) or v is None},
        wall_s=round(time.perf_counter() - t0, 3),
        finished_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    )
    record = {**summary.as_dict(), "selection_sql": selection.sql, "train_config": tc.model_dump(mode="json")}
    if local_run:
        with open(os.path.join(run_dir, "train_record.json"), "w") as f:
            json.dump(record, f, indent=2, default=str)
    else:  # next to the checkpoints on the store
        import fsspec

        with fsspec.open(f"{run_dir}/train_record.json", "w") as f:
            json.dump(record, f, indent=2, default=str)
    manifest = read_manifest(out)  # the shards' ledger links to the checkpoint too
    manifest.setdefault("trainings", []).append(record)
    write_manifest(out, manifest)
    return summary


def print_train_summary(s: TrainSummary) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"curate train {s.name}", show_header=False)
    t.add_row("loop", s.loop)
    t.add_row("clips selected", f"{s.selected_rows} from {len(s.shards)} shards")
    for src, n in sorted(s.captions.items()):
        t.add_row(f"  text from {src}", str(n))
    t.add_row("steps", f"{s.start_step} -> {s.step}" + (f" (resumed from {s.resumed_from})" if s.resumed_from else ""))
    t.add_row("samples seen", str(s.samples_seen))
    if s.loss is not None:
        t.add_row("last loss", f"{s.loss:.4f}")
    t.add_row("samples/s (this run, all workers)", f"{s.samples_per_s:.2f}")
    for reason, n in sorted(s.skipped.items()):
        t.add_row(f"  skipped: {reason}", str(n))
    for b, n in sorted(s.buckets.items()):
        t.add_row(f"  bucket {b}", f"{n} samples")
    t.add_row("checkpoint", str(s.checkpoint))
    t.add_row("wall time", f"{s.wall_s:.1f} s")
    Console().print(t)
