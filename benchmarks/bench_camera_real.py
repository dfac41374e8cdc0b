"""Camera label agreement on REAL camera footage across a crf 35 re-encode and a 0.5x resize.

    python benchmarks/bench_camera_real.py OLD_MOTION_PY [--out /tmp/camera-real]

Every single-shot stretch of ``benchmarks/eval/footage.py`` (handheld street footage, a diver,
a cockatoo, timelapses, static cameras, ...) is analysed in the original file, in a crf 35
re-encode and in a half-size re-encode (same frames); the label should not change. The true
camera motion of these shots is not known, so this measures stability, not correctness.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "eval"))
from curate.stages.analyze import analyse_span
from footage import SHOTS, fetch

from curate.analysers.motion import MotionAnalyser
from curate.media import probe, run_ffmpeg


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("old_motion")
    ap.add_argument("--out", default="/tmp/camera-real")
    a = ap.parse_args()
    spec = importlib.util.spec_from_file_location("baseline_motion", a.old_motion)
    old = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(old)
    os.makedirs(a.out, exist_ok=True)
    paths = {k: str(v) for k, v in fetch().items()}
    variants: dict[str, dict[str, str]] = {}
    print("| shot | traits | before: orig / crf35 / half | after: orig / crf35 / half |\n|---|---|---|---|")
    agree = {"before": 0, "after": 0}
    n = 0
    for shot in SHOTS:
        src = paths[shot.source]
        p = probe(src)
        if p.vfr:
            continue  # frame indices of a re-encode would not match
        if shot.source not in variants:
            v = {"orig": src}
            for name, args in (("crf35", ["-vf", "crop=trunc(iw/2)*2:trunc(ih/2)*2:0:0", "-crf", "35"]),
                               ("half", ["-vf", "scale=trunc(iw/4)*2:-2", "-crf", "18"])):
                v[name] = os.path.join(a.out, f"{shot.source}-{name}.mp4")
                if not os.path.exists(v[name]):
                    run_ffmpeg(["-i", src, *args, "-c:v", "libx264", "-preset", "veryfast", "-fps_mode", "passthrough",
                                "-an", v[name]])
            variants[shot.source] = v
        s = int(shot.start_s * p.fps) + 2
        e = min(int(shot.end_s * p.fps) - 2, s + int(10 * p.fps))
        if e - s < 2 * p.fps:
            continue
        n += 1
        cells = {}
        for name, cls in (("before", old.MotionAnalyser), ("after", MotionAnalyser)):
            labels = [str(analyse_span(f, s, e, p.fps, [cls()], overlap=False)["camera_motion"])
                      for f in variants[shot.source].values()]
            agree[name] += len(set(labels)) == 1
            cells[name] = " / ".join(labels)
        print(f"| {shot.name} | {', '.join(shot.traits)} | {cells['before']} | {cells['after']} |")
    print(f"\nsame label across variants: before {agree['before']}/{n}, after {agree['after']}/{n}")


if __name__ == "__main__":
    main()
