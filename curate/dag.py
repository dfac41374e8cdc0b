"""Build the Ray Data DAG: a readable loop of ``map_batches`` over declared stages.

``plan(cfg)`` lists the stages with their config sections; ``check_chain`` verifies, before
any data flows, that every stage's required columns are produced upstream; ``build``
turns the plan into a lazy, streaming Ray Dataset.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from curate.config import Config, ConfigError
from curate.stage import Resources, RunContext, Stage, run_stage_task
from curate.stages.aesthetics import Aesthetics
from curate.stages.analyze import Analyze
from curate.stages.caption_frames import CaptionFrames
from curate.stages.captions import Captions
from curate.stages.clips import Clips
from curate.stages.cuts import Cuts
from curate.stages.download import Download
from curate.stages.fetch import Fetch
from curate.stages.filter import Filter
from curate.stages.probe import Probe
from curate.stages.topics import AssignTopics

log = logging.getLogger("curate")

DISCOVER_COLUMNS = ("record", "video_id", "source", "source_kind", "status", "error", "error_detail")


@dataclass
class StageSpec:
    """A stage class, its config section and its resources: all that is shipped to Ray."""

    cls: type[Stage]
    cfg: Any
    resources: Resources


def plan(cfg: Config) -> list[StageSpec]:
    """The stages of this config, in data-flow order."""
    chain: list[tuple[type[Stage], Any]] = [
        (Download, cfg.download),  # yt-dlp sources (source_kind=ytdl); others pass through
        (Fetch, cfg.fetch),
        (Probe, cfg.probe),
        (Cuts, cfg.cuts),
        (Clips, cfg.clips),
    ]
    if cfg.analyze.enabled:
        chain.append((Analyze, cfg.analyze))
    if cfg.aesthetics.enabled:
        chain.append((Aesthetics, cfg.aesthetics))
    if cfg.filter.enabled:  # after every scorer: thresholds see all score columns
        chain.append((Filter, cfg.filter))
    if cfg.captions.enabled:  # captions only what the filter kept
        from curate.captioners.prompts import PromptError, load_prompts

        try:  # a bad prompt file fails at start-up, not in a GPU actor hours later
            load_prompts(cfg.captions.prompts)
        except PromptError as exc:
            raise ConfigError(f"captions.prompts: {exc}") from None
        chain += [(CaptionFrames, cfg.captions), (Captions, cfg.captions)]
    if cfg.topics.assign.enabled:  # after captions: caption embeddings decide the topic when present
        chain.append((AssignTopics, cfg.topics))
    return [StageSpec(cls, section, cls.resources(section, cfg.ray)) for cls, section in chain]


def check_chain(specs: list[StageSpec], initial: tuple[str, ...] = DISCOVER_COLUMNS) -> list[str]:
    """Raise ConfigError if a stage reads a column nothing upstream produces; return final columns."""
    available = list(initial)
    for spec in specs:
        missing = [c for c in spec.cls.requires if c not in available]
        if missing:
            raise ConfigError(
                f"stage '{spec.cls.name}' needs columns {missing} that no earlier stage produces; "
                f"enable the stage that adds them or disable '{spec.cls.name}'"
            )
        available += [f.name for f in spec.cls.adds if f.name not in available]
    return available


def block_size(n: int, parallelism: int) -> int:
    """Videos per input block: small enough to spread over actors, large enough to scale."""
    return max(1, min(64, n // max(1, parallelism * 4)))


def actor_cpu_scale(specs: list[StageSpec], cpus: int) -> float:
    """Factor for actor CPU reservations so that at least one CPU stays free for task stages.

    Actor pools hold their CPUs for the whole run; on a small machine (2 cores, several model
    stages) they would take every CPU and the decode/cut tasks upstream could never run: a
    deadlock. Actors still use the cores (the OS shares them); only Ray's bookkeeping shrinks.
    """
    reserved = sum(s.resources.num_cpus * _max_actors(s.resources, cpus) for s in specs if s.resources.actor)
    budget = max(0.0, cpus - 1.0)  # one whole CPU for tasks; 0-CPU actors are fine for Ray
    if reserved <= budget:
        return 1.0
    log.warning("actor stages reserve %.1f of %d CPUs; scaling their reservations by %.2f so tasks can run",
                reserved, cpus, budget / reserved)
    return budget / reserved


def _max_actors(r: Resources, default: int) -> int:
    c = r.concurrency or default
    return int(c[1] if isinstance(c, tuple) else c)


def _min_actors(r: Resources) -> int:
    c = r.concurrency or 1
    return int(c[0] if isinstance(c, tuple) else c)


def fit_gpus(specs: list[StageSpec], node_gpus: list[float], autoscale: bool) -> list[StageSpec]:
    """Check every stage's GPU request against the cluster before any data flows.

    ``node_gpus``: GPUs of each live node (a request larger than the biggest node can never be
    placed, whatever the cluster total). ``autoscale``: joined an existing cluster
    (``ray.address``), whose autoscaler may still add GPU nodes -- there a shortfall is a
    warning, and nothing is moved to CPU behind the user's back. On a private local instance:
    a caption actor larger than any node runs on CPU with a warning (the transformers backend
    works there; vLLM then reports it cannot load); any other stage larger than a node, or GPU
    actor pools whose smallest sizes add up to more GPUs than exist (the last actors would stay
    pending forever), is a ConfigError naming the settings.
    """
    import dataclasses

    from curate.stages.captions import Captions

    biggest, total = max(node_gpus, default=0.0), sum(node_gpus)
    out: list[StageSpec] = []
    for spec in specs:
        g = spec.resources.num_gpus
        if g > biggest + 1e-9:
            where = f"{spec.cls.name} asks for {g:g} GPUs per {'actor' if spec.resources.actor else 'task'}"
            if autoscale:
                log.warning("%s but no live node has that many (largest: %g): it waits for the autoscaler "
                            "to add a GPU node", where, biggest)
            elif spec.cls is Captions:
                log.warning("%s but this machine has %g: caption actors run on CPU (set captions.num_gpus=0 to "
                            "silence this)", where, biggest)
                spec = dataclasses.replace(spec, resources=dataclasses.replace(spec.resources, num_gpus=0.0))
            else:
                raise ConfigError(f"{where} but no node of this Ray instance has more than {biggest:g}; "
                                  f"lower {spec.cls.name}.num_gpus or run on a GPU machine")
        out.append(spec)
    pools = [(s.cls.name, s.resources.num_gpus * _min_actors(s.resources)) for s in out
             if s.resources.actor and s.resources.num_gpus]
    need = sum(n for _, n in pools)
    if need > total + 1e-9:
        msg = (f"GPU actor pools need {need:g} GPUs ({', '.join(f'{name}: {n:g}' for name, n in pools)}; "
               f"num_gpus x concurrency) but the Ray cluster has {total:g}: the last actors would stay pending "
               "forever. Lower captions.concurrency / *.num_gpus, or add GPUs.")
        if autoscale:
            log.warning("%s (continuing: the cluster may autoscale)", msg)
        else:
            raise ConfigError(msg)
    return out


def build(table: pa.Table, specs: list[StageSpec], ctx: RunContext, parallelism: int):
    """Lazy streaming dataset: input table -> every stage's map_batches."""
    import ray

    size = block_size(table.num_rows, parallelism)
    blocks = [table.slice(i, size) for i in range(0, table.num_rows, size)] or [table]
    ds = ray.data.from_arrow(blocks)
    scale = actor_cpu_scale(specs, parallelism)
    for spec in specs:
        kwargs = spec.resources.map_batches_kwargs(parallelism)
        if spec.resources.actor and scale < 1.0:
            kwargs["num_cpus"] = round(kwargs["num_cpus"] * scale, 3)
        if spec.resources.actor:  # model-holding stage: one load per actor
            ds = ds.map_batches(spec.cls, fn_constructor_kwargs={"cfg": spec.cfg, "ctx": ctx},
                                batch_format="pyarrow", **kwargs)
        else:
            ds = ds.map_batches(run_stage_task, fn_kwargs={"cls": spec.cls, "cfg": spec.cfg, "ctx": ctx},
                                batch_format="pyarrow", **kwargs)
    return ds
