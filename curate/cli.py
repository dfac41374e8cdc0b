"""curate: turn raw video into a training-ready text-to-video dataset (Ray + Parquet + DuckDB)."""

from __future__ import annotations

import logging
import os
import sys
from typing import Annotated, Optional

import typer

from curate.config import ConfigError, load_config

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__ or "curate")
app.add_typer(__import__("curate.topics.cli", fromlist=["app"]).app, name="topics")

ConfigOpt = Annotated[Optional[str], typer.Option("--config", "-c", help="Pipeline YAML (e.g. configs/local.yaml).")]
SetOpt = Annotated[Optional[list[str]], typer.Option("--set", "-s", help="Override: section.key=value (repeatable).")]


def _version(value: bool) -> None:
    if value:
        from curate import __version__

        typer.echo(f"curate {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                 help="Print the version and exit.")] = False) -> None:
    """curate: turn raw video into a training-ready text-to-video dataset (Ray + Parquet + DuckDB)."""


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("urllib3", "fsspec", "ray", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _fail(msg: str, code: int = 2) -> None:
    typer.secho(f"error: {msg}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def os_error_line(exc: OSError, output_dir: str) -> str:
    """One line for an OSError that ended a run (the manifest only lists complete shards)."""
    import errno

    where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        what = f"disk full while writing to {output_dir}{where}: free space (or point output.dir elsewhere) and re-run"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        what = f"no permission to write to {output_dir}{where}: fix the permissions or choose another output.dir"
    else:
        what = f"I/O error on {output_dir}{where}: {exc.strerror or exc}"
    return (f"{what}. Every shard listed in {output_dir}/manifest.json is complete; a re-run resumes "
            "from there without duplicates.")


def _load(config: Optional[str], overrides: Optional[list[str]]):
    try:
        return load_config(config, overrides or [])
    except ConfigError as exc:
        _fail(str(exc))


@app.command()
def run(
    config: ConfigOpt = None,
    set_: SetOpt = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the pipeline: discover -> fetch -> probe -> cuts -> clips -> ... -> Parquet shards."""
    _setup_logging(verbose)
    cfg = _load(config, set_)
    if not config:
        typer.secho(f"note: no --config given: running the built-in defaults (input.sources={cfg.input.sources}) "
                    f"into {cfg.output.dir}; see configs/local.yaml", err=True)
    from curate.pipeline import print_summary, run_pipeline

    try:
        summary = run_pipeline(cfg)
    except ConfigError as exc:
        _fail(str(exc))
    except OSError as exc:  # disk full, permissions, I/O errors on the output: one line, committed shards intact
        _fail(os_error_line(exc, cfg.output.dir), code=1)
    print_summary(summary)
    if summary.failures.get("disk_full"):
        _fail(f"disk full while writing clip files to {cfg.output.dir}: {summary.failures['disk_full']} videos failed "
              "with disk_full; free space and re-run: they are retried (output.retry_errors), every committed shard "
              "is complete", code=1)
    if summary.after_errors:
        _fail("the shards were written, but " + "; ".join(f"{k} failed ({v})" for k, v in summary.after_errors.items())
              + "; re-run `curate run` (it redoes only these steps) or the step's own command", code=1)
    if summary.train_error:
        what = "training failed" if summary.train_failed else "training did not start"
        _fail(f"the shards were written, but {what}: {summary.train_error}", code=1 if summary.train_failed else 2)


@app.command()
def train(
    shards: Annotated[Optional[str], typer.Option("--shards", help="Output directory of a curate run (default: the config's output.dir).")] = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Train the generator on the shards with Ray Train (the `train` section; docs/training.md)."""
    _setup_logging(verbose)
    cfg = _load(config, set_)
    from curate.train.launch import print_train_summary
    from curate.train.launch import train as run_training

    out_dir = shards or cfg.output.dir
    if not os.path.exists(os.path.join(out_dir, "manifest.json")) and "://" not in out_dir:
        _fail(f"no curate output at {out_dir} (manifest.json missing); run `curate run` first or pass --shards")
    try:
        summary = run_training(cfg, out_dir)
    except ConfigError as exc:
        _fail(str(exc))
    except RuntimeError as exc:
        _fail(str(exc), code=1)
    print_train_summary(summary)


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="SQL over the views videos, clips, rejects.")],
    output: Annotated[Optional[str], typer.Option("--output", "-o", help="Output dir (default: the config's output.dir).")] = None,
    config: ConfigOpt = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table | csv | json")] = "table",
) -> None:
    """Run DuckDB SQL over the shards, e.g. curate query "SELECT count(*) FROM clips"."""
    import duckdb

    from curate.query import connect

    out_dir = output or _load(config, None).output.dir
    if not os.path.exists(os.path.join(out_dir, "manifest.json")) and "://" not in out_dir:
        _fail(f"no curate output at {out_dir} (manifest.json missing); run `curate run` first or pass --output")
    con = connect(out_dir)
    try:
        rel = con.sql(sql)
    except duckdb.Error as exc:
        _fail(f"query failed: {exc}")
    if rel is None:
        return
    if fmt == "csv":
        sys.stdout.write(_csv(rel))
    elif fmt == "json":
        import json

        cols = rel.columns
        for row in rel.fetchall():
            sys.stdout.write(json.dumps(dict(zip(cols, row)), default=str) + "\n")
    else:
        rel.show(max_width=200, max_rows=100)


def _csv(rel) -> str:
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(rel.columns)
    w.writerows(rel.fetchall())
    return buf.getvalue()


@app.command()
def dedup(
    output: Annotated[str, typer.Argument(help="Output directory of a curate run.")],
    config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Mark near-duplicate clips (pHash) over all shards: writes dedup/ (DuckDB view `duplicates`)."""
    _setup_logging(False)
    from curate.dedup import dedup_output

    if not os.path.exists(os.path.join(output, "manifest.json")) and "://" not in output:
        _fail(f"no curate output at {output} (manifest.json missing)")
    n = dedup_output(output, _load(config, set_).dedup)
    typer.echo(f"{n} near-duplicate clips marked in {output}/dedup (view: duplicates)")


@app.command()
def schema(table: Annotated[str, typer.Argument(help="videos | clips")] = "clips") -> None:
    """Print a table's Arrow schema with field descriptions."""
    from curate.schemas import SCHEMA_VERSION, TABLES, schema_table

    if table not in TABLES:
        _fail(f"unknown table {table!r}; choose one of {sorted(TABLES)}")
    typer.echo(f"# {table} (schema {SCHEMA_VERSION})")
    for name, typ, desc in schema_table(TABLES[table]):
        typer.echo(f"{name:<18} {typ:<28} {desc}")


@app.command("check-config")
def check_config(config: ConfigOpt = None, set_: SetOpt = None) -> None:
    """Validate a config and print it fully resolved (defaults filled in)."""
    cfg = _load(config, set_)
    from curate.dag import check_chain, plan

    try:
        check_chain(plan(cfg))
    except ConfigError as exc:
        _fail(str(exc))
    typer.echo(cfg.to_yaml())


@app.command()
def doctor(config: ConfigOpt = None, set_: SetOpt = None) -> None:
    """Before a long run: which stages and models will run or be skipped (and why), ffmpeg, Ray, GPU, output."""
    cfg = _load(config, set_)
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from curate.doctor import diagnose

    checks = diagnose(cfg)
    t = Table(title=f"curate doctor ({config or 'built-in defaults'})", show_header=True)
    t.add_column("check")
    t.add_column("status")
    t.add_column("detail", overflow="fold")
    colour = {"ok": "green", "skip": "yellow", "fail": "red"}
    for c in checks:
        t.add_row(c.name, f"[{colour[c.status]}]{c.status}[/]", escape(c.detail))
    Console().print(t)
    if any(c.status == "fail" for c in checks):
        raise typer.Exit(1)


@app.command()
def attribution(
    output_dir: Annotated[str, typer.Argument(help="A curate output directory (with manifest.json).")],
    dest: Annotated[Optional[str], typer.Option("--dest", help="Write the files here (default: OUTPUT_DIR).")] = None,
) -> None:
    """Write ATTRIBUTION.csv and ATTRIBUTION.md (title, author, source URL, licence) for every
    video with clips in the shards."""
    if not os.path.exists(os.path.join(output_dir, "manifest.json")) and "://" not in output_dir:
        _fail(f"no curate output at {output_dir} (manifest.json missing)")
    from curate.attribution import write_attribution

    csv_path, md_path, n = write_attribution(output_dir, dest)
    typer.echo(f"{n} videos -> {csv_path}, {md_path}")


def config_reference() -> str:
    """Markdown tables of every config section, key, default and description."""
    from pydantic import BaseModel

    from curate.config import Config

    lines: list[str] = []
    for section, finfo in Config.model_fields.items():
        model = finfo.annotation
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            lines.append(f"- `{section}` (default `{finfo.default}`): {finfo.description or ''}")
            continue
        lines += ["", f"### `{section}`", ""]
        if model.__doc__:
            lines += [" ".join(model.__doc__.split()), ""]
        lines += ["| key | default | description |", "|---|---|---|"]
        for key, f in model.model_fields.items():
            default = f.default_factory() if f.default_factory is not None else f.default
            desc = (f.description or "").replace("|", "\\|")
            lines.append(f"| `{key}` | `{default!r}` | {desc} |")
    return "\n".join(lines) + "\n"


@app.command("config-reference")
def config_reference_cmd() -> None:
    """Print the config reference (Markdown) used in the README."""
    typer.echo(config_reference())


from curate.cli_dataset import register as _register_dataset_commands  # noqa: E402

_register_dataset_commands(app)  # report, card, serve


if __name__ == "__main__":  # pragma: no cover
    app()
