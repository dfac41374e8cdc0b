"""static_ratio before/after on real footage: frame-rate conversion repeats vs held stills.

    python benchmarks/bench_static_ratio.py OLD_QUALITY_PY [--out /tmp/static-bench]

``OLD_QUALITY_PY``: a baseline quality.py (e.g. ``git show 516afe8:curate/analysers/quality.py``).
Cases are cut from bikes.mp4 and the Debian footage of ``benchmarks/eval/footage.py`` with
ffmpeg (``fps=10,fps=25`` = a 10 fps camera in a 25 fps file, a frame held 3 s, ...).
Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "eval"))
from curate.stages.analyze import analyse_span
from footage import fetch

from curate.analysers.quality import QualityAnalyser
from curate.media import probe, run_ffmpeg

ENC = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("old_quality")
    ap.add_argument("--out", default="/tmp/static-bench")
    a = ap.parse_args()
    spec = importlib.util.spec_from_file_location("baseline_quality", a.old_quality)
    old = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(old)
    os.makedirs(a.out, exist_ok=True)
    src = {k: str(v) for k, v in fetch().items()}
    made = {
        "bikes_10in25": (src["bikes"], ["-vf", "fps=10,fps=25"]),
        "vtest_in25": (src["vtest"], ["-t", "20", "-vf", "fps=25"]),
        "cockatoo_in30": (src["cockatoo"], ["-vf", "fps=30"]),
        "still": (src["bikes"], ["-vf", "trim=start_frame=100:end_frame=101,loop=loop=75:size=1,setpts=N/25/TB", "-r", "25"]),
        "move_then_still": (src["bikes"], ["-vf", "select='lt(n,40)+eq(n,100)',setpts=N/25/TB,loop=loop=50:size=1:start=40",
                                           "-r", "25"]),
        "bikes_2in25": (src["bikes"], ["-vf", "fps=2,fps=25"]),
    }
    path = {}
    for name, (inp, args) in made.items():
        path[name] = os.path.join(a.out, f"{name}.mp4")
        if not os.path.exists(path[name]):
            run_ffmpeg(["-i", inp, *args, *ENC, path[name]])
    cases = [
        ("bikes shot (frames 78-135)", src["bikes"], 78, 135, "moving"),
        ("bikes 10 fps in 25, frames 78-135", path["bikes_10in25"], 78, 135, "moving"),
        ("bikes 10 fps in 25, frames 139-185", path["bikes_10in25"], 139, 185, "moving"),
        ("vtest (10 fps camera) in 25 fps, 10 s", path["vtest_in25"], 0, 250, "moving"),
        ("cockatoo (20 fps) in 30 fps", path["cockatoo_in30"], 0, 420, "moving"),
        ("launch_0 (static camera)", src["launch"], 0, 70, "slow motion"),
        ("bikes frame held 3 s", path["still"], 0, 76, "frozen"),
        ("bikes 1.6 s moving, then held 2 s", path["move_then_still"], 0, 90, "55 % frozen"),
        ("bikes 2 fps in 25", path["bikes_2in25"], 78, 135, "stutter"),
    ]
    print("| clip | truth | static_ratio before | after |\n|---|---|---|---|")
    for name, p, s, e, truth in cases:
        fps = probe(p).fps
        before = analyse_span(p, s, e, fps, [old.QualityAnalyser()], overlap=False)["static_ratio"]
        after = analyse_span(p, s, e, fps, [QualityAnalyser()], overlap=False)["static_ratio"]
        print(f"| {name} | {truth} | {before:.2f} | {after:.2f} |")


if __name__ == "__main__":
    main()
