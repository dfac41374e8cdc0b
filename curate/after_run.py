"""After-run steps: tables and files derived from the whole shard set, rebuilt when stale.

Dedup, the report and the dataset card are functions of ALL committed shards, not of one
run. Each step declares what it writes; after every run (also a re-run that found nothing
new, and a run that resumes after being killed between the last shard commit and these
steps) the loop below runs a step when its outputs are missing or were built from a
different shard set. The shard set's fingerprint is recorded per step in the manifest
(``derived``) after the step succeeded, so a step that failed or was killed runs again next
time. Training is not derived data (it is the run's last stage) and stays out of this list.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from curate.config import Config
from curate.storage import Output

log = logging.getLogger("curate")


@dataclass(frozen=True)
class AfterStep:
    name: str
    enabled: Callable[[Config], bool]
    outputs: Callable[[], tuple[str, ...]]  # paths relative to the output that the step writes
    run: Callable[[Config], str | None]  # returns a line for the log
    hint: str  # how to run it by hand


def _dedup(cfg: Config) -> None:
    from curate.dedup import dedup_output

    dedup_output(cfg.output.dir, cfg.dedup)  # logs what it found


def _report(cfg: Config) -> str:
    from curate.report import build_report, report_options

    return f"report: {build_report(cfg.output.dir, **report_options(cfg))}"


def _card(cfg: Config) -> str | None:
    from curate.card import write_card

    try:
        return f"dataset card: {write_card(cfg.output.dir)}"
    except FileExistsError as exc:  # a README.md the user wrote: never overwritten
        log.warning("dataset card not written: %s", exc)
        return None


def _dedup_outputs() -> tuple[str, ...]:
    from curate.dedup import DEDUP_PATH

    return (DEDUP_PATH,)


STEPS: list[AfterStep] = [
    AfterStep("dedup", lambda c: c.dedup.enabled and c.analyze.enabled, _dedup_outputs, _dedup,
              "curate dedup OUTPUT_DIR"),
    AfterStep("report", lambda c: c.report.enabled, lambda: ("report.html",), _report, "curate report OUTPUT_DIR"),
    AfterStep("card", lambda c: c.report.card, lambda: (), _card, "curate card OUTPUT_DIR"),
]


def fingerprint(manifest: dict) -> str:
    """Identity of the committed shard set (the paths the manifest lists, in order)."""
    listed = [[s.get("videos"), s.get("clips")] for s in manifest.get("shards", [])]
    return hashlib.sha256(json.dumps(listed).encode()).hexdigest()[:16]


def run_after_steps(cfg: Config, out: Output, manifest: dict, save: Callable[[], None],
                    steps: list[AfterStep] | None = None) -> dict[str, str]:
    """Run every enabled, stale step; returns {step: error} for the steps that failed.

    ``manifest`` is the writer's in-memory manifest; ``save`` writes it (the caller holds the
    output lock). A failure is logged with the command that retries it and leaves the step
    stale, so the next run tries again.
    """
    fp = fingerprint(manifest)
    derived = manifest.setdefault("derived", {})
    errors: dict[str, str] = {}
    for step in steps or STEPS:
        if not step.enabled(cfg):
            continue
        if derived.get(step.name) == fp and all(out.exists(p) for p in step.outputs()):
            log.info("%s: up to date with the %d committed shards", step.name, len(manifest.get("shards", [])))
            continue
        try:
            line = step.run(cfg)
        except Exception as exc:  # noqa: BLE001 - the shards are written; say what to re-run
            log.exception("%s failed (the shards are intact); retry with `%s` or re-run", step.name, step.hint)
            errors[step.name] = f"{type(exc).__name__}: {exc}"
            continue
        if line:
            log.info("%s", line)
        derived[step.name] = fp
        save()
    return errors
