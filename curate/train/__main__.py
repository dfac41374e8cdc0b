"""``python -m curate.train --shards OUTPUT_DIR --config X`` == ``curate train ...`` (for ``ray job submit``)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from curate.cli import app

    args = list(sys.argv[1:] if argv is None else argv)
    try:
        app(["train", *args], standalone_mode=True)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
