"""Entry point of a pipeline run: ``python -m curate.run --config X`` == ``curate run --config X``.

Also the script ``ray job submit --working-dir . -- python -m curate.run --config X`` runs on a
cluster's head node (``ray.init()`` then attaches to that cluster). With ``train.enabled: true``
the run ends by training on the shards (Ray Train); ``python -m curate.train --shards OUT
--config X`` submits training alone. The pipeline itself is :mod:`curate.pipeline`.
"""

from __future__ import annotations

import sys

from curate.pipeline import RunSummary, print_summary, run_pipeline

__all__ = ["RunSummary", "main", "print_summary", "run_pipeline"]


def main(argv: list[str] | None = None) -> int:
    """``python -m curate.run`` shares the ``curate run`` command."""
    from curate.cli import app

    args = list(sys.argv[1:] if argv is None else argv)
    try:
        app(["run", *args], standalone_mode=True)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
