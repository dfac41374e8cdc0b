"""``curate topics``: fit topics from prompts, show per-topic queries, report coverage."""

from __future__ import annotations

import logging
import os
import sys
from typing import Annotated, Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="User-focused topics (VideoUFO): cluster prompts, collect per topic, report coverage.")

ConfigOpt = Annotated[Optional[str], typer.Option("--config", "-c", help="Pipeline YAML.")]
SetOpt = Annotated[Optional[list[str]], typer.Option("--set", "-s", help="Override: section.key=value (repeatable).")]


def _cfg(config: Optional[str], set_: Optional[list[str]]):
    from curate.config import ConfigError, load_config

    try:
        return load_config(config, set_ or [])
    except ConfigError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None


def _fail(msg: str) -> None:
    typer.secho(f"error: {msg}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


def _topics_or_fail(cfg):
    """The fitted topics table of ``cfg.topics.dir``, or a CLI error saying to run `fit` first."""
    from curate.topics.fit import load_topics

    try:
        return load_topics(cfg.topics.dir)
    except FileNotFoundError as exc:
        _fail(str(exc))


@app.command()
def fit(
    prompts: Annotated[Optional[str], typer.Option("--prompts", "-p", help="CSV / Parquet / JSONL / .txt of prompts (default topics.prompts).")] = None,
    out: Annotated[Optional[str], typer.Option("--out", "-o", help="Output folder (default topics.dir).")] = None,
    k: Annotated[Optional[int], typer.Option("--k", help="k-means clusters (default topics.cluster.k).")] = None,
    ray: Annotated[bool, typer.Option("--ray", help="Embed with Ray Data actors (topics.embed.use_ray).")] = False,
    config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Cluster prompts into named topics: writes topics.parquet + prompt_topics.parquet."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    cfg = _cfg(config, set_)
    tc = cfg.topics
    if k is not None:
        tc.cluster.k = k
    if ray:
        tc.embed.use_ray = True
    from curate.topics.embed import ModelUnavailable
    from curate.topics.fit import fit_topics, write_fit

    path = prompts or tc.prompts
    try:
        result = fit_topics(tc, path)
    except (FileNotFoundError, ValueError, ModelUnavailable) as exc:
        _fail(str(exc))
    dest = out or tc.dir
    write_fit(result, dest)
    info = result.info
    typer.echo(f"{info['prompts_read']} prompts read, {info['prompts_unique']} unique -> {info['topics']} topics "
               f"(k={info['k_used']}, {info['prompts_unassigned']} prompts in dropped clusters); written to {dest}")
    typer.echo("timings: " + ", ".join(f"{k}={v}" for k, v in info["timings"].items()))
    for t in result.topics.select(["topic_id", "size", "name"]).to_pylist()[:30]:
        typer.echo(f"{t['topic_id']:>5} {t['size']:>8}  {t['name']}")


@app.command()
def queries(
    output: Annotated[Optional[str], typer.Option("--output", "-o", help="Dataset output dir (default output.dir).")] = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Print the search queries the next run would issue (topics under quota); searches nothing."""
    cfg = _cfg(config, set_)
    from curate.topics.collect import CollectionState, collection_status, topic_queries, topic_quotas

    out_dir = output or cfg.output.dir
    topics = _topics_or_fail(cfg)
    st = collection_status(out_dir)
    rows = topic_queries(topics, topic_quotas(topics, cfg.topics.collect), st.seen, cfg=cfg.topics.collect,
                         counts=st.counts, state=CollectionState.load(out_dir) if os.path.isdir(out_dir) else None,
                         clips_per_video=st.clips_per_video)
    for r in rows:
        typer.echo(f"{r['query_topic_id']}\t{r['videos_wanted']}\t{r['source']}")


@app.command()
def report(
    output: Annotated[Optional[str], typer.Option("--output", "-o", help="Dataset output dir (default output.dir).")] = None,
    to: Annotated[Optional[str], typer.Option("--to", help="Folder for topics_coverage.md/.html (default <output>/reports).")] = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Clips per topic against quota, empty topics, most over-represented: prints, writes Markdown + HTML."""
    cfg = _cfg(config, set_)
    from curate.storage import Output
    from curate.topics.collect import collection_status, topic_quotas
    from curate.topics.report import coverage, to_html, to_markdown

    out_dir = output or cfg.output.dir
    topics = _topics_or_fail(cfg)
    cov = coverage(topics, collection_status(out_dir).counts, topic_quotas(topics, cfg.topics.collect))
    md = to_markdown(cov)
    dest = Output(to or os.path.join(out_dir, "reports"))
    dest.makedirs("")
    dest.write_bytes("topics_coverage.md", md.encode())
    dest.write_bytes("topics_coverage.html", to_html(cov).encode())
    typer.echo(to_markdown(cov, max_rows=40))
    typer.echo(f"written: {dest.path('topics_coverage.md')} and {dest.path('topics_coverage.html')}")


@app.command()
def assign(
    output: Annotated[Optional[str], typer.Argument(help="Dataset output dir (default output.dir).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Reassign shards already assigned with this fit.")] = False,
    config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Write topic columns for clips already in the shards (atomic per shard, resumable)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    cfg = _cfg(config, set_)
    from curate.config import ConfigError
    from curate.topics.assign import assign_output
    from curate.topics.embed import ModelUnavailable

    out_dir = output or cfg.output.dir
    if "://" not in out_dir and not os.path.exists(os.path.join(out_dir, "manifest.json")):
        _fail(f"no curate output at {out_dir} (manifest.json missing)")
    try:
        res = assign_output(out_dir, cfg.topics, force=force, lock_wait_s=cfg.output.lock_wait_s)
    except FileNotFoundError as exc:
        _fail(f"{exc} (run `curate topics fit` first or set topics.dir)")
    except (ConfigError, ModelUnavailable) as exc:
        _fail(str(exc))
    methods = ", ".join(f"{k}={v}" for k, v in sorted(res.methods.items())) or "none"
    typer.echo(f"{res.rewritten} of {res.shards} clip shard(s) assigned ({res.skipped} already done with this fit); "
               f"{res.clips} ok clips: {methods}")
    typer.echo(f"coverage: curate topics report --output {out_dir}")
