"""Benchmark: full CPU analysis (one decode per clip) vs. the decode floor, and peak memory.

    python benchmarks/bench_analyze.py                 # 60 s 720p30 H.264 (synthesised)
    python benchmarks/bench_analyze.py --long 600 --long-height 1080   # + 10 min 1080p as 60 clips: ratio, peak RSS

Prints, measured in the same run on the same file:
  * ``ffmpeg -i X -f null -`` wall time (decode floor, FFmpeg's default threads);
  * the analyse stage's work (motion + camera, quality, overlay, pHash, and with/without
    PP-OCR on 3 frames per clip) over the whole video as one clip and as 10 s clips (one
    decoder for the video carried from clip to clip, as the analyse stage does), and the
    ratio to the floor - wall time, and CPU time (user + sys, far less sensitive to the
    load of a shared machine);
  * with ``--long``: the long video cut into ``--clip-s`` clips with OCR on, analysed in a
    child process (``--repeat`` bracketed runs): ratio to the floor and peak RSS (bounded
    memory check).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from curate.config import AnalyzeConfig
from curate.media import ffmpeg_exe, probe, run_ffmpeg


def synth(path: str, secs: int, height: int, preset: str = "veryfast") -> str:
    """A panning window over a larger testsrc2 pattern plus a moving overlay (cheap to generate)."""
    if not os.path.exists(path):
        w = height * 16 // 9
        big = f"testsrc2=size={w * 4 // 3 // 2 * 2}x{height * 4 // 3 // 2 * 2}:rate=30"
        run_ffmpeg(["-f", "lavfi", "-i", big, "-f", "lavfi", "-i", f"rgbtestsrc=size={w // 4}x{height // 4}:rate=30",
                    "-filter_complex",
                    f"[0:v]crop={w}:{height}:x='mod(t*40,iw-{w})':y='mod(t*15,ih-{height})'[bg];"
                    "[bg][1:v]overlay=x='mod(t*120,W-w)':y='H/2',format=yuv420p",
                    "-t", str(secs), "-c:v", "libx264", "-preset", preset, "-crf", "23", "-g", "60", path],
                   timeout=3600)
    return path


LAST_FLOOR_CPU: list[float] = []  # CPU seconds (user + sys) of each decode_floor run


def _cpu(who: int) -> float:
    import resource

    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def decode_floor(path: str) -> float:
    import resource

    c = _cpu(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", path, "-f", "null", "-"], check=True)
    LAST_FLOOR_CPU.append(_cpu(resource.RUSAGE_CHILDREN) - c)
    return time.perf_counter() - t


def analyse(path: str, clip_s: float | None, ocr: bool, rss_every: int = 0, overlap: bool = True,
            cpu_out: list[float] | None = None, reuse: bool = True) -> tuple[float, int]:
    """Wall seconds and clip count of analysing ``path``; its CPU seconds go to ``cpu_out``."""
    from curate.analysers.frames import SpanReader
    from curate.stages.analyze import analyse_span, build_analysers

    cfg = AnalyzeConfig(ocr=ocr)
    engine = None
    if ocr:
        from curate.analysers.ocr import RapidOcrEngine

        engine = RapidOcrEngine(cfg.ocr_width, cfg.ocr_threads, cfg.ocr_min_score)
        import numpy as np

        engine(np.zeros((360, 640, 3), np.uint8))  # warm-up (first ONNX run allocates)
    an = build_analysers(cfg, engine)
    p = probe(path)
    n = p.num_frames
    step = n if clip_s is None else int(clip_s * p.fps)
    import resource

    c0 = _cpu(resource.RUSAGE_SELF)
    t = time.perf_counter()
    clips = 0
    reader = SpanReader(path, cfg.width, cfg.threads) if reuse else None  # as the stage: one per video
    for a in range(0, n, step):
        analyse_span(path, a, min(n, a + step), p.fps, an, cfg.width, cfg.threads, overlap=overlap, reader=reader)
        clips += 1
        if rss_every and clips % rss_every == 0:
            import resource

            print(f"rss after {clips} clips: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB",
                  flush=True)
    wall = time.perf_counter() - t
    if reader is not None:
        reader.close()
    if cpu_out is not None:
        cpu_out.append(_cpu(resource.RUSAGE_SELF) - c0)
    return wall, clips


def child_rss(path: str, clip_s: float | None, ocr: bool, rss_every: int = 0) -> dict:
    code = (f"import resource,json,sys;sys.path.insert(0,{os.path.dirname(os.path.abspath(__file__))!r});"
            f"import bench_analyze as b;cpu=[];w,c=b.analyse({path!r},{clip_s!r},{ocr!r},{rss_every!r},cpu_out=cpu);"
            "print(json.dumps({'wall_s':w,'cpu_s':cpu[0],'clips':c,"
            "'peak_rss_mb':resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024}))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    lines = out.strip().splitlines()
    res = json.loads(lines[-1])
    res["timeline"] = [ln.split(": ")[1] for ln in lines[:-1] if ln.startswith("rss after")]
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default=os.path.join(tempfile.gettempdir(), "curate-bench"))
    ap.add_argument("--secs", type=int, default=60)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--repeat", type=int, default=3, help="bracketed runs per measurement (median ratio kept)")
    ap.add_argument("--long", type=int, default=0, help="also measure peak RSS on a video this many seconds long")
    ap.add_argument("--long-height", type=int, default=1080)
    ap.add_argument("--clip-s", type=float, default=10.0, help="clip length for the clip-wise cases")
    ap.add_argument("--skip-short", action="store_true", help="only the --long measurement")
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    path = synth(os.path.join(args.dir, f"bench_{args.secs}s_{args.height}p.mp4"), args.secs, args.height)
    p = probe(path)
    print(f"video: {path} {p.width}x{p.height} {p.fps:g} fps {p.num_frames} frames; cpus={os.cpu_count()}")
    # the machine is shared (load swings 2x within a minute): each analysis run is bracketed
    # by two decode-floor runs and compared with their mean; the median ratio is reported
    cases = () if args.skip_short else ((None, False), (args.clip_s, False), (args.clip_s, True))
    for clip_s, ocr in cases:
        ratios, walls, floors, cpu_ratios = [], [], [], []
        for _ in range(args.repeat):
            cpu: list[float] = []
            f0 = decode_floor(path)
            w, c = analyse(path, clip_s, ocr, cpu_out=cpu)
            f1 = decode_floor(path)
            ratios.append(w / ((f0 + f1) / 2))
            cpu_ratios.append(cpu[0] / statistics.mean(LAST_FLOOR_CPU[-2:]))
            walls.append(w)
            floors += [f0, f1]
        label = f"{'one clip' if clip_s is None else f'{c} x {clip_s:g} s clips'}, OCR {'on' if ocr else 'off'}"
        print(f"analysis ({label}): median {statistics.median(ratios):.2f}x the decode floor "
              f"(ratios {', '.join(f'{r:.2f}' for r in ratios)}; analysis {', '.join(f'{x:.2f}' for x in walls)} s; "
              f"floor {', '.join(f'{x:.2f}' for x in floors)} s); CPU time ratio median "
              f"{statistics.median(cpu_ratios):.2f} ({', '.join(f'{x:.2f}' for x in cpu_ratios)}); "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)
    if args.long:
        lp = synth(os.path.join(args.dir, f"bench_{args.long}s_{args.long_height}p.mp4"), args.long, args.long_height,
                   "ultrafast")
        ratios, walls, floors, peaks, cpu_ratios = [], [], [], [], []
        for _ in range(args.repeat):
            f0 = decode_floor(lp)
            r = child_rss(lp, args.clip_s, True, rss_every=10)
            f1 = decode_floor(lp)
            ratios.append(r["wall_s"] / ((f0 + f1) / 2))
            cpu_ratios.append(r["cpu_s"] / statistics.mean(LAST_FLOOR_CPU[-2:]))
            walls.append(r["wall_s"])
            floors += [f0, f1]
            peaks.append(r["peak_rss_mb"])
            print(f"  run: {r['clips']} clips, analysis {r['wall_s']:.1f} s (CPU {r['cpu_s']:.1f} s), floor "
                  f"{f0:.1f}/{f1:.1f} s (CPU {LAST_FLOOR_CPU[-2]:.1f}/{LAST_FLOOR_CPU[-1]:.1f} s), "
                  f"load average {os.getloadavg()[0]:.1f}, "
                  f"peak RSS every 10 clips: {', '.join(r['timeline'])}", flush=True)
        print(f"long video {args.long} s {args.long_height}p as {args.clip_s:g} s clips, OCR on: median "
              f"{statistics.median(ratios):.2f}x the decode floor (ratios {', '.join(f'{x:.2f}' for x in ratios)}; "
              f"analysis {', '.join(f'{x:.1f}' for x in walls)} s; floor {', '.join(f'{x:.1f}' for x in floors)} s); "
              f"CPU time ratio median {statistics.median(cpu_ratios):.2f} ({', '.join(f'{x:.2f}' for x in cpu_ratios)}); "
              f"peak RSS {max(peaks):.0f} MB (runs: {', '.join(f'{x:.0f}' for x in peaks)})")


if __name__ == "__main__":
    main()
