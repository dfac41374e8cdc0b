"""A pipeline run: discover -> stages (Ray Data) -> Parquet shards -> after-run steps -> training.

:func:`run_pipeline` is what ``curate run`` / ``python -m curate.run`` call (the entry points
live in :mod:`curate.cli` and :mod:`curate.run`). With ``train.enabled: true`` the run ends by
training on the shards (Ray Train).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from curate.config import Config, ConfigError
from curate.ray_session import init_ray, node_gpus

log = logging.getLogger("curate")


@dataclass
class RunSummary:
    """What a run did; printed at the end and appended to the manifest's ``runs``."""

    run_id: str
    output_dir: str
    videos_discovered: int = 0
    videos_skipped_done: int = 0
    videos_retried: int = 0
    videos: int = 0
    videos_ok: int = 0
    videos_failed: int = 0
    videos_rejected: int = 0
    clips: int = 0
    clips_ok: int = 0
    clips_failed: int = 0
    clips_rejected: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    clip_failures: dict[str, int] = field(default_factory=dict)
    stage_outcomes: dict[str, int] = field(default_factory=dict)  # e.g. {"aesthetic_status=skipped": 11}
    wall_s: float = 0.0
    video_seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    captions: list[dict[str, Any]] = field(default_factory=list)  # per model: clips/s, tokens/s
    train: dict[str, Any] | None = None  # the training record when train.enabled (see curate.train.launch)
    train_error: str | None = None  # why training did not run or failed; the shards are still written
    train_failed: bool = False  # True: training ran and failed; False with train_error: it did not start
    after_errors: dict[str, str] = field(default_factory=dict)  # after-run steps that failed: {step: error}

    @property
    def realtime_factor(self) -> float:
        """Video-seconds processed per wall-second."""
        return self.video_seconds / self.wall_s if self.wall_s else 0.0

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["video_seconds_per_wall_second"] = round(self.realtime_factor, 3)
        return d


def open_output(cfg: Config):
    """The output folder, created; a path that cannot be one is a ConfigError (one line, not a traceback)."""
    from curate.storage import Output

    out = Output(cfg.output.dir)
    try:
        if out.local and os.path.exists(out.root) and not os.path.isdir(out.root):
            raise ConfigError(f"output.dir {out.root} exists and is not a folder; choose another output.dir")
        out.makedirs("")
        if out.local and not os.access(out.root, os.W_OK | os.X_OK):
            raise PermissionError(f"no write permission on {out.root}")
    except (PermissionError, FileExistsError, NotADirectoryError) as exc:
        raise ConfigError(f"cannot write to output.dir {cfg.output.dir}: {exc}") from None
    return out


def run_pipeline(cfg: Config) -> RunSummary:
    """Run discover -> stages -> shards -> after-run steps for ``cfg``; never raises for bad inputs.

    Holds the output's lock (one writer per output, :mod:`curate.lock`) from before the
    leftovers of a killed run are cleaned until the last manifest write.
    """
    from curate.lock import output_lock

    t0 = time.perf_counter()
    out = open_output(cfg)
    run_id = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]
    with output_lock(out, run_id, cfg.output.lock_wait_s, cfg.output.lock_stale_s):
        return _run_locked(cfg, out, run_id, t0)


def _run_locked(cfg: Config, out: Any, run_id: str, t0: float) -> RunSummary:
    work_dir = out.path("_work") if out.local else os.path.join(tempfile.gettempdir(), "curate-work")
    os.makedirs(work_dir, exist_ok=True)
    with _log_file(out, run_id, work_dir):
        return _run_stages(cfg, out, run_id, t0, work_dir)


@contextlib.contextmanager
def _log_file(out: Any, run_id: str, work_dir: str):
    """Everything curate logs during the run also goes to ``<output>/logs/<run id>.log``."""
    path = out.path(f"logs/{run_id}.log") if out.local else os.path.join(work_dir, f"{run_id}.log")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    log.addHandler(handler)
    level = log.level
    if log.getEffectiveLevel() > logging.INFO:  # the file gets INFO even when the console is quieter
        log.setLevel(logging.INFO)
    try:
        yield path
    finally:
        log.setLevel(level)
        log.removeHandler(handler)
        handler.close()
        if not out.local:
            with contextlib.suppress(Exception):
                out.put_file(path, f"logs/{run_id}.log")


def _run_stages(cfg: Config, out: Any, run_id: str, t0: float, work_dir: str) -> RunSummary:
    from curate.after_run import run_after_steps
    from curate.dag import build, check_chain, fit_gpus, plan
    from curate.schemas import stream_schema
    from curate.shards import ShardWriter, write_manifest
    from curate.stage import RunContext
    from curate.stages.discover import discover

    specs = plan(cfg)
    check_chain(specs)  # fail before any data flows
    out.write_bytes("config.resolved.yaml", cfg.to_yaml().encode())

    writer = ShardWriter(out, run_id, cfg.hash(), cfg.output.shard_clips, cfg.output.shard_videos,
                         cfg.output.compression)
    prev = {s.get("config_hash") for s in writer.manifest["shards"]}
    if prev and prev != {cfg.hash()}:
        log.warning("output %s holds shards made with a different config; new rows use this one", cfg.output.dir)
    summary = RunSummary(run_id=run_id, output_dir=out.path(""))
    table = discover(cfg.input, os.path.join(work_dir, "samples"), stream_schema(), cfg.download)
    if cfg.topics.collect.enabled:  # per-topic searches for topics still under quota
        import pyarrow as pa

        from curate.topics.collect import discover_topic_sources

        table = pa.concat_tables([table, discover_topic_sources(cfg.topics, out.path(""), table.schema)])
    summary.videos_discovered = table.num_rows
    retry = writer.failed_video_ids(set(cfg.output.retry_errors))
    if retry:
        writer.drop_videos(retry)
        summary.videos_retried = len(retry)
        log.info("resume: retrying %d videos that failed with %s", len(retry), cfg.output.retry_errors)
    done = writer.done_video_ids()
    if done:
        import pyarrow.compute as pc

        keep = pc.invert(pc.is_in(table.column("video_id"), value_set=__import__("pyarrow").array(sorted(done))))
        table = table.filter(keep)
        summary.videos_skipped_done = summary.videos_discovered - table.num_rows
        log.info("resume: %d videos already in %s are skipped", summary.videos_skipped_done, cfg.output.dir)

    if table.num_rows:
        parallelism = init_ray(cfg)
        specs = fit_gpus(specs, node_gpus(), autoscale=bool(cfg.ray.address or os.environ.get("RAY_ADDRESS")))
        ctx = RunContext(run_id=run_id, output_dir=out.path(""), work_dir=work_dir)
        ds = build(table, specs, ctx, parallelism)
        from curate.progress import RunProgress

        progress = RunProgress(table.num_rows)
        try:
            for batch in ds.iter_batches(batch_format="pyarrow", batch_size=None):
                writer.add(batch)
                progress.add(batch)
        finally:
            progress.close()
        writer.flush(final=True)

    st = writer.stats
    summary.videos, summary.videos_ok = st["videos"], st["videos_ok"]
    summary.videos_failed, summary.videos_rejected = st["videos_failed"], st["videos_rejected"]
    summary.clips, summary.clips_ok, summary.clips_failed = st["clips"], st["clips_ok"], st["clips_failed"]
    summary.clips_rejected = st["clips_rejected"]
    summary.failures = dict(writer.errors.most_common())
    summary.clip_failures = dict(writer.clip_errors.most_common())
    summary.stage_outcomes = dict(writer.stage_outcomes.most_common())
    summary.video_seconds = round(writer.video_seconds, 3)
    summary.stage_seconds = {k: round(v, 3) for k, v in writer.stage_seconds.items()}
    if cfg.captions.enabled:
        from curate.captioners.stats import caption_stats

        summary.captions = caption_stats(out.path(""), run_id)
    summary.wall_s = round(time.perf_counter() - t0, 3)
    writer.record_run(summary.as_dict())
    # dedup, report, card: rebuilt whenever missing or older than the shard set (also on a no-op re-run)
    summary.after_errors = run_after_steps(cfg, out, writer.manifest, lambda: write_manifest(out, writer.manifest))
    if cfg.train.enabled:  # the last stage: train on the shards just written (all of them, not only this run's)
        from curate.train.launch import train

        try:
            summary.train = train(cfg).as_dict()
        except ConfigError as exc:  # e.g. empty selection: the shards are written, say why training did not run
            log.error("train: %s", exc)
            summary.train_error = str(exc)
        except RuntimeError as exc:  # the training run itself failed (details logged by Ray Train)
            log.error("train: %s", exc)
            summary.train_error, summary.train_failed = f"training failed: {exc}", True
    return summary


def print_summary(s: RunSummary) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console(stderr=False)
    t = Table(title=f"curate run {s.run_id}", show_header=False)
    t.add_column(overflow="fold")
    t.add_column(overflow="fold")  # paths (output, checkpoint) are shown whole, never cut with an ellipsis
    t.add_row("output", s.output_dir)
    t.add_row("videos discovered", str(s.videos_discovered))
    if s.videos_skipped_done:
        t.add_row("already done (skipped)", str(s.videos_skipped_done))
    if s.videos_retried:
        t.add_row("retried (transient failures)", str(s.videos_retried))
    t.add_row("videos processed", f"{s.videos} (ok {s.videos_ok}, failed {s.videos_failed}, rejected {s.videos_rejected})")
    for reason, n in s.failures.items():
        t.add_row(f"  failed/rejected: {reason}", str(n))
    t.add_row("clips", f"{s.clips} (ok {s.clips_ok}, rejected {s.clips_rejected}, failed {s.clips_failed})")
    for reason, n in s.clip_failures.items():
        t.add_row(f"  clip failed: {reason}", str(n))
    for outcome, n in s.stage_outcomes.items():
        t.add_row(f"  clips with {outcome}", str(n))
    t.add_row("wall time", f"{s.wall_s:.1f} s")
    t.add_row("video seconds / wall second", f"{s.realtime_factor:.2f}")
    for k, v in s.stage_seconds.items():
        t.add_row(f"  stage {k} (worker s)", f"{v:.1f}")
    for c in s.captions:
        t.add_row(f"captions {c['backend']}:{c['model']}",
                  f"{c['captioned']}/{c['clips']} clips (flagged {c['flagged']}, failed {c['failed']}, skipped "
                  f"{c['skipped']}); {c['clips_per_s']:.2f} clips/s, {c['output_tokens_per_s']:.0f} out tok/s, "
                  f"{c['tokens_per_s']:.0f} tok/s per actor")
        if c.get("skip_reason"):
            t.add_row("  captions skipped because", c["skip_reason"])
    if s.train:
        tr = s.train
        t.add_row("train", f"{tr['selected_rows']} clips, steps {tr['start_step']} -> {tr['step']}, "
                           f"{tr['samples_seen']} samples seen, loss {tr['loss'] if tr['loss'] is None else round(tr['loss'], 4)}")
        for reason, n in sorted((tr.get("skipped") or {}).items()):
            t.add_row(f"  train skipped: {reason}", str(n))
        t.add_row("  checkpoint", str(tr["checkpoint"]))
    if s.train_error:
        t.add_row("train not run", s.train_error)
    for step, err in s.after_errors.items():
        t.add_row(f"{step} FAILED (shards intact)", err)
    con.print(t)
