"""CPU of the motion + quality analysers (and the decode they drive), before/after, on real footage.

    python benchmarks/bench_motion_cpu.py OLD_MOTION_PY OLD_QUALITY_PY [FILE ...]

Loads the baseline analysers from the given files (e.g. ``git show main:curate/analysers/motion.py``),
runs ``analyse_span`` over each whole file with [motion, quality] of each version, interleaved,
``--repeat`` times, and prints the minimum CPU seconds (user + sys of this process, all threads).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "eval"))

from curate.stages.analyze import analyse_span

from curate.analysers.motion import MotionAnalyser
from curate.analysers.overlay import OverlayAnalyser
from curate.analysers.phash import PhashAnalyser
from curate.analysers.quality import QualityAnalyser
from curate.media import probe


def load(path: str, cls: str):
    spec = importlib.util.spec_from_file_location(f"baseline_{cls}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return getattr(mod, cls)


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("old_motion")
    ap.add_argument("old_quality")
    ap.add_argument("files", nargs="*")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--with-others", action="store_true",
                    help="also run the pHash and overlay analysers (as the stage does; OCR left out)")
    a = ap.parse_args()
    files = a.files
    if not files:
        from footage import fetch

        files = [str(p) for k, p in fetch().items() if k in ("bikes", "city", "diver", "vtest", "megamind", "screencast")]
    versions = {"before": (load(a.old_motion, "MotionAnalyser"), load(a.old_quality, "QualityAnalyser")),
                "after": (MotionAnalyser, QualityAnalyser)}
    print("| file | frames | before CPU s | after CPU s | after/before |\n|---|---|---|---|---|")
    tot = {k: 0.0 for k in versions}
    for f in files:
        p = probe(f)
        best = {k: float("inf") for k in versions}
        for _ in range(a.repeat):
            for k, (m, q) in versions.items():
                t = cpu()
                others = [PhashAnalyser(), OverlayAnalyser()] if a.with_others else []
                analyse_span(f, 0, p.num_frames, p.fps, [m(), q(), *others], overlap=False)
                best[k] = min(best[k], cpu() - t)
        for k in versions:
            tot[k] += best[k]
        print(f"| {os.path.basename(f)} ({p.width}x{p.height}) | {p.num_frames} | {best['before']:.3f} | "
              f"{best['after']:.3f} | {best['after'] / best['before']:.2f} |")
    print(f"| total | | {tot['before']:.3f} | {tot['after']:.3f} | {tot['after'] / tot['before']:.2f} |")


if __name__ == "__main__":
    main()
