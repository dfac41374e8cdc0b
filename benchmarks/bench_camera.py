"""Camera-motion accuracy on real footage with KNOWN camera moves, and label stability.

Ground truth is made, not guessed: frames of static-camera real footage (the Debian footage of
``benchmarks/eval/footage.py``: ball, coin, vtest, launch, tree) are warped frame by frame with
an exact similarity transform -- a zoom about the centre by a constant factor per frame, a
window moving a constant number of px per frame (pan / tilt), random jitter (shaky), or
nothing (static) -- and encoded with x264 (crf 18, 480x270, 25 fps). Each case is analysed as
is, re-encoded at crf 35, and resized to 0.5x; the label should not change.

    python benchmarks/bench_camera.py [--out /tmp/camera-bench] [--baseline OLD_MOTION_PY]

Prints a Markdown table (zoom error, pan error, labels across variants). ``--baseline`` runs a
second MotionAnalyser loaded from another motion.py (e.g. ``git show main:curate/analysers/motion.py``)
on the same files, with CPU seconds of both.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import subprocess
import sys

import av
import cv2
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "eval"))
from curate.stages.analyze import analyse_span
from footage import fetch

from curate.analysers.motion import MotionAnalyser
from curate.media import ffmpeg_exe

OUT_W, OUT_H, FPS, N = 480, 270, 25, 50
SOURCES = {"ball": 0.0, "coin": 0.0, "vtest": 10.0, "launch": 3.3, "tree": 0.0}  # name: start second (static cameras)
# name: (zoom factor per frame, pan px/frame, tilt px/frame, jitter px) in OUTPUT pixels
MOVES = {
    "static": (1.0, 0.0, 0.0, 0.0),
    "zoom_in_0.5%": (1.005, 0, 0, 0), "zoom_in_1%": (1.01, 0, 0, 0), "zoom_in_2%": (1.02, 0, 0, 0),
    "zoom_out_1%": (1 / 1.01, 0, 0, 0), "zoom_out_2%": (1 / 1.02, 0, 0, 0),
    "pan_right_1px": (1.0, 1.0, 0, 0), "pan_left_3px": (1.0, -3.0, 0, 0), "tilt_down_2px": (1.0, 0, 2.0, 0),
    "shaky_3px": (1.0, 0, 0, 3.0),
}
LABEL = {k: k for k in ("static", "zoom_in", "zoom_out", "pan_right", "pan_left", "tilt_down", "shaky")}


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def base_frames(path: str, start_s: float, n: int) -> list[np.ndarray]:
    out = []
    with av.open(path) as c:
        vs = c.streams.video[0]
        for f in c.decode(vs):
            if f.time is not None and f.time < start_s:
                continue
            out.append(f.to_ndarray(format="bgr24"))
            if len(out) == n:
                break
    return out


def warp_case(frames: list[np.ndarray], zoom: float, pan: float, tilt: float, jitter: float, seed: int) -> list[np.ndarray]:
    """Output frame k shows the base frame k through a virtual camera: scale z_k = z0 * zoom^k about
    the view centre, centre moving by (pan, tilt) OUTPUT px per frame (the window moves, so the
    content moves the other way), plus uniform random jitter."""
    h, w = frames[0].shape[:2]
    r = np.random.RandomState(seed)
    # view size in base pixels at z = 1 (16:9), leaving room for the moves
    vw = min(w * 0.62, h * 0.62 * 16 / 9)
    zs = zoom ** np.arange(len(frames))
    zs = zs / zs.min()  # smallest zoom = 1 (the widest view)
    px = vw / OUT_W  # base px per output px at z = 1
    out = []
    cx0, cy0 = w / 2 - pan * px * len(frames) / 2, h / 2 - tilt * px * len(frames) / 2
    for k, (f, z) in enumerate(zip(frames, zs)):
        s = px / z  # base px per output px
        jx, jy = (r.uniform(-jitter, jitter, 2) if jitter else (0.0, 0.0))
        cx = cx0 + (pan * k + jx) * px
        cy = cy0 + (tilt * k + jy) * px
        m = np.array([[s, 0, cx - s * OUT_W / 2], [0, s, cy - s * OUT_H / 2]], np.float32)
        src = f
        if s > 1.5:  # pre-shrink (area) so the warp does not alias
            k2 = s / 1.2
            src = cv2.resize(f, (int(w / k2), int(h / k2)), interpolation=cv2.INTER_AREA)
            m = np.array([[s / k2, 0, (cx - s * OUT_W / 2) / k2], [0, s / k2, (cy - s * OUT_H / 2) / k2]], np.float32)
        out.append(cv2.warpAffine(src, m, (OUT_W, OUT_H), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                  borderMode=cv2.BORDER_REFLECT))
    return out


def encode(frames: list[np.ndarray], path: str, crf: int = 18) -> None:
    h, w = frames[0].shape[:2]
    p = subprocess.Popen([ffmpeg_exe(), "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24",
                          "-s", f"{w}x{h}", "-r", str(FPS), "-i", "-", "-c:v", "libx264", "-preset", "veryfast",
                          "-crf", str(crf), "-pix_fmt", "yuv420p", path], stdin=subprocess.PIPE)
    for f in frames:
        p.stdin.write(f.tobytes())
    p.stdin.close()
    if p.wait():
        raise RuntimeError(f"ffmpeg failed for {path}")


def variant(src: str, path: str, args: list[str]) -> str:
    if not os.path.exists(path):
        subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-y", "-i", src, *args, "-c:v", "libx264",
                        "-preset", "veryfast", "-pix_fmt", "yuv420p", path], check=True)
    return path


def build(out: str) -> list[tuple[str, str, dict[str, str]]]:
    os.makedirs(out, exist_ok=True)
    paths = {k: str(v) for k, v in fetch().items()}
    cases = []
    for si, (src, start) in enumerate(SOURCES.items()):
        frames = None
        for mi, (move, spec) in enumerate(MOVES.items()):
            p = os.path.join(out, f"{src}-{move}.mp4")
            if not os.path.exists(p):
                frames = frames or base_frames(paths[src], start, N)
                encode(warp_case(frames, *spec, seed=si * 100 + mi), p)
            files = {"orig": p,
                     "crf35": variant(p, p.replace(".mp4", "-crf35.mp4"), ["-crf", "35"]),
                     "half": variant(p, p.replace(".mp4", "-half.mp4"), ["-vf", "scale=240:136", "-crf", "18"])}
            cases.append((src, move, files))
    return cases


def load_motion(path: str):
    spec = importlib.util.spec_from_file_location("motion_baseline", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.MotionAnalyser


def analyse(cls, path: str) -> dict:
    return analyse_span(path, 0, N, FPS, [cls()], overlap=False)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="/tmp/camera-bench")
    ap.add_argument("--baseline", default=None)
    a = ap.parse_args()
    cases = build(a.out)
    analysers = {"new": MotionAnalyser}
    if a.baseline:
        analysers = {"old": load_motion(a.baseline), "new": MotionAnalyser}
    rows: dict[str, list] = {k: [] for k in analysers}
    secs = {k: 0.0 for k in analysers}
    for src, move, files in cases:
        zoom, pan, tilt, _ = MOVES[move]
        for name, cls in analysers.items():
            res = {}
            for v, p in files.items():
                t = cpu()
                res[v] = analyse(cls, p)
                secs[name] += cpu() - t
            rows[name].append((src, move, zoom, pan, tilt, res))
    for name, rs in rows.items():
        print(f"\n### {name} motion.py (analysis CPU {secs[name]:.1f} s for {len(rs) * 3} clips)\n")
        print("| source | move | true zoom | camera_zoom | err | true pan, tilt (256 px) | pan, tilt | labels orig / crf35 / half |")
        print("|---|---|---|---|---|---|---|---|")
        zerr, perr, agree, right, unmeasured = [], [], 0, 0, 0
        for src, move, zoom, pan, tilt, res in rs:
            o = res["orig"]
            tz = zoom - 1
            tp, tt = -pan * 256 / OUT_W, -tilt * 256 / OUT_W  # window moves right -> content moves left
            labels = [str(res[v]["camera_motion"]) for v in ("orig", "crf35", "half")]
            agree += len(set(labels)) == 1
            truth = LABEL[move.rsplit("_", 1)[0]] if move != "static" else "static"
            right += sum(lab == truth for lab in labels)
            unmeasured += labels.count("None")
            if o["camera_zoom"] is None:
                print(f"| {src} | {move} | {tz:+.4f} | null | | {tp:+.2f}, {tt:+.2f} | null | {' / '.join(labels)} |")
                continue
            err = (o["camera_zoom"] - tz) / tz if tz else float("nan")
            if tz:
                zerr.append(abs(err))
            if pan or tilt:
                perr.append(abs(np.hypot(o["camera_pan"] - tp, o["camera_tilt"] - tt)) / np.hypot(tp, tt))
            print(f"| {src} | {move} | {tz:+.4f} | {o['camera_zoom']:+.4f} | {err:+.0%} | {tp:+.2f}, {tt:+.2f} | "
                  f"{o['camera_pan']:+.2f}, {o['camera_tilt']:+.2f} | {' / '.join(labels)} |")
        print(f"\n{name}: zoom |error| mean {np.mean(zerr):.1%}, median {np.median(zerr):.1%}, max {np.max(zerr):.1%} "
              f"({len(zerr)} zooms measured); pan/tilt |error| mean {np.mean(perr):.1%}; same label across "
              f"orig/crf35/half {agree}/{len(rs)}; correct labels {right}/{3 * len(rs)}; null (unmeasurable) {unmeasured}")


if __name__ == "__main__":
    main()
