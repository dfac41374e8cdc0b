"""CLI commands that look at a finished output: ``curate report``, ``card``, ``serve``, ``export``.

Registered on the main app by one line in :mod:`curate.cli`.
"""

from __future__ import annotations

import os
from typing import Annotated, Optional

import typer

OutArg = Annotated[str, typer.Argument(help="A curate output directory (holds manifest.json).")]


def _need_output(out_dir: str) -> None:
    if "://" not in out_dir and not os.path.exists(os.path.join(out_dir, "manifest.json")):
        typer.secho(f"error: no curate output at {out_dir} (manifest.json missing); run `curate run` first",
                    fg=typer.colors.RED, err=True)
        raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    @app.command()
    def report(
        output_dir: OutArg,
        out: Annotated[str | None, typer.Option("--out", help="Where to write (default OUTPUT_DIR/report.html).")] = None,
        top_n: Annotated[Optional[int], typer.Option(help="Clips per top/bottom contact sheet (default report.top_n).")] = None,
        config: Annotated[Optional[str], typer.Option("--config", "-c", help="Pipeline YAML: the filter's thresholds are drawn and get contact sheets.")] = None,
        set_: Annotated[Optional[list[str]], typer.Option("--set", "-s", help="Override: section.key=value (repeatable).")] = None,
    ) -> None:
        """Write the HTML report (images in report_files/ beside it): runs, failures, histograms, duplicates, contact sheets."""
        _need_output(output_dir)
        from curate.config import ConfigError, load_config
        from curate.report import build_report, report_options

        resolved = os.path.join(output_dir, "config.resolved.yaml")
        if config is None and "://" not in output_dir and os.path.exists(resolved):
            config = resolved  # the run's own configuration: its filter thresholds
        try:
            opts = report_options(load_config(config, set_ or []))
        except ConfigError as exc:
            typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
            raise typer.Exit(2) from None
        if top_n is not None:
            opts["top_n"] = top_n
        typer.echo(build_report(output_dir, out, **opts))

    @app.command()
    def card(
        output_dir: OutArg,
        force: Annotated[bool, typer.Option("--force", help="Overwrite a README.md not written by curate.")] = False,
    ) -> None:
        """Write a Hugging Face dataset card (OUTPUT_DIR/README.md) so the folder can be published as-is."""
        _need_output(output_dir)
        from curate.card import write_card

        try:
            typer.echo(write_card(output_dir, force=force))
        except FileExistsError as exc:
            typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
            raise typer.Exit(2) from None

    @app.command()
    def serve(
        output_dir: OutArg,
        host: Annotated[str, typer.Option(help="Interface to bind (keep 127.0.0.1 unless you mean to share it).")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="TCP port.")] = 8765,
    ) -> None:
        """Browse the clips in a local web gallery: filters, playback, scores, captions, labels (accept/reject/tags), export the filter."""
        _need_output(output_dir)
        try:
            import starlette  # noqa: F401
            import uvicorn  # noqa: F401
        except ImportError:
            typer.secho("error: curate serve needs starlette and uvicorn: pip install 'curate[serve]'",
                        fg=typer.colors.RED, err=True)
            raise typer.Exit(2) from None
        if host not in ("127.0.0.1", "localhost", "::1"):
            typer.secho(f"warning: binding {host}: anyone who can reach it can browse this dataset and write labels",
                        fg=typer.colors.YELLOW, err=True)
        from curate.serve import serve as _serve

        _serve(output_dir, host=host, port=port)

    @app.command()
    def export(
        output_dir: OutArg,
        dest: Annotated[str, typer.Argument(help="Folder (or URL) to write the export to.")],
        format: Annotated[str, typer.Option("--format", "-f", help="webdataset (tar shards: mp4 + json + txt) or hf (Parquet with a datasets Video column).")] = "webdataset",
        where: Annotated[Optional[str], typer.Option("--where", help="DuckDB condition over clips columns + licence, ANDed to train.select.where.")] = None,
        shard_mb: Annotated[float, typer.Option("--shard-mb", help="Target shard size in MB (of clip bytes).")] = 500.0,
        accepted: Annotated[bool, typer.Option("--accepted", help="Only clips labelled accept in `curate serve`.")] = False,
        config: Annotated[Optional[str], typer.Option("--config", "-c", help="Pipeline YAML (its train.select is the selection).")] = None,
        set_: Annotated[Optional[list[str]], typer.Option("--set", "-s", help="Override: section.key=value (repeatable).")] = None,
    ) -> None:
        """Export the training selection (status ok, licences, thresholds, no duplicates or rejected labels) for other trainers."""
        _need_output(output_dir)
        from curate.config import ConfigError, load_config
        from curate.export import export as _export

        try:
            cfg = load_config(config, set_ or [])
            res = _export(output_dir, dest, format, cfg.train, where=where, shard_mb=shard_mb, accepted_only=accepted,
                          name=cfg.name)
        except ConfigError as exc:
            typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
            raise typer.Exit(2) from None
        typer.echo(f"{res.samples} clips from {res.videos} videos -> {len(res.shards)} {format} shard(s), "
                   f"{res.bytes / 1e6:.1f} MB in {res.dest}")
        if res.skipped:
            typer.secho(f"{len(res.skipped)} clip(s) skipped (file unreadable); see {res.dest}/export.json",
                        fg=typer.colors.YELLOW, err=True)
