"""Near-duplicate detection on real camera footage: copies found, hard negatives not paired.

Builds a dev set from the real footage of ``benchmarks/eval/footage.py`` with ffmpeg:

* originals (2.4-6 s single-shot stretches of handheld, static-camera, dark, timelapse, screen
  footage) and, of each, copies re-encoded (x264 crf 32; MPEG-4 part 2 q 8), resized
  (scale=iw/2:-2), start-trimmed by 0.5 s and 1.0 s, trimmed + resized, and mirrored (hflip);
* hard negatives: the same static scene at another moment (vtest 10-16 / 30-36 / 60-66 s, tree
  0-5 / 20-25 s, ball 0-5 / 5-10 s, cockatoo 0-6 / 8-12 s), other shots of the same source
  (bikes, launch, city);
* clips spanning two sources (a missed cut): cockatoo 0-3 s + vtest 40-43 s, and bikes shot 2 +
  ball 5-7.4 s (with a ball 5-7.4 s clip on its own, so a chain bikes ~ X ~ ball exists).

Then runs the real analyse-stage decode (:func:`stages.analyze.analyse_span` with the
:class:`PhashAnalyser` the stage builds from ``AnalyzeConfig``) on every clip and
:func:`curate.dedup.find_duplicates`, and scores the groups against the ground truth: a pair
is *found* when both clips end in the same group (one kept, or both duplicates of the same kept
clip), *false* when two clips of different ground-truth groups share a group (pairs with a
two-source clip and a clip it contains are neither). Also reports whether a two-source clip is
ever kept as a representative, and the driver cost of ``find_duplicates`` on synthetic hash sets.

    python benchmarks/bench_dedup.py [--dir /tmp/dedup_dev] [--scale 100000]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "eval"))

from footage import fetch

from curate.analysers.phash import PhashAnalyser
from curate.config import AnalyzeConfig, DedupConfig
from curate.dedup import find_duplicates
from curate.media import probe, run_ffmpeg

X264 = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-an"]
ORIGINALS = {  # name: (source, start_s, end_s)
    "cockatoo": ("cockatoo", 0.0, 6.0), "diver": ("diver", 0.0, 6.0), "vtest": ("vtest", 10.0, 16.0),
    "tree": ("tree", 0.0, 5.0), "ball": ("ball", 0.0, 5.0), "coin": ("coin", 0.0, 6.0),
    "launch": ("launch", 3.2, 8.0), "city": ("city", 0.0, 4.5), "bikes2": ("bikes", 3.08, 5.44),
    "screencast": ("screencast", 0.0, 6.0),
}
NEGATIVES = {
    "vtest_30": ("vtest", 30.0, 36.0), "vtest_60": ("vtest", 60.0, 66.0), "tree_20": ("tree", 20.0, 25.0),
    "ball_5": ("ball", 5.0, 10.0), "cockatoo_8": ("cockatoo", 8.0, 12.0), "bikes1": ("bikes", 1.24, 3.0),
    "bikes3": ("bikes", 5.52, 7.44), "bikes4": ("bikes", 7.52, 9.64), "launch0": ("launch", 0.0, 3.0),
    "city1": ("city", 4.8, 7.6), "ball_5s": ("ball", 5.0, 7.4), "coin_late": ("coin", 6.0, 8.0),
    "vtest_20": ("vtest", 20.0, 26.0), "vtest_40": ("vtest", 40.0, 46.0), "vtest_50": ("vtest", 50.0, 56.0),
    "vtest_70": ("vtest", 70.0, 76.0), "tree_6": ("tree", 6.0, 11.0), "tree_12": ("tree", 12.0, 17.0),
    # overlapping half or less of an original: not a duplicate (the match must cover most of the shorter clip)
    "cockatoo_3": ("cockatoo", 3.0, 9.0), "diver_4": ("diver", 4.0, 10.0), "vtest_13": ("vtest", 13.0, 19.0),
    "diver_turbulent": ("diver", 10.4, 16.0),
}
COPIES = {  # name: (input args before -i, filter/codec args)
    "reenc": ([], ["-c:v", "libx264", "-crf", "32", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-an"]),
    "mpeg4": ([], ["-c:v", "mpeg4", "-q:v", "8", "-an"]),
    "resize": ([], ["-vf", "scale=iw/2:-2", *X264]),
    "trim037": (["-ss", "0.37"], X264),
    "trim05": (["-ss", "0.5"], X264),
    "trim10": (["-ss", "1.0"], X264),
    "trim05_resize": (["-ss", "0.5"], ["-vf", "scale=iw/2:-2", *X264]),
    "mirror": ([], ["-vf", "hflip", *X264]),
    "fps30": ([], ["-vf", "fps=30", *X264]),
    "trim13_crf36": (["-ss", "1.3"], ["-c:v", "libx264", "-crf", "36", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-an"]),
}
TWO_SOURCE = {  # name: [(source, start, end), ...], ground-truth groups it contains
    "x_cockatoo_vtest": ([("cockatoo", 0.0, 3.0), ("vtest", 40.0, 43.0)], []),
    "x_bikes2_ball": ([("bikes", 3.08, 5.44), ("ball", 5.0, 7.4)], ["bikes2", "ball_5"]),
}


def _cut(src: str, a: float, b: float, out: str, scale: str | None = None) -> None:
    vf = ["-vf", f"scale={scale},setsar=1,fps=25" if scale else "scale=trunc(iw/2)*2:trunc(ih/2)*2"]
    run_ffmpeg(["-ss", f"{a}", "-i", src, "-t", f"{b - a}", *vf, "-crf", "18", *X264, out])


def build(d: str) -> list[dict]:
    """Make the clips (cached in ``d``); return [{name, path, group, mirror, two_source}]."""
    os.makedirs(d, exist_ok=True)
    paths = fetch(sorted({s for s, *_ in [*ORIGINALS.values(), *NEGATIVES.values()]}))
    clips = []
    for name, (s, a, b) in {**ORIGINALS, **NEGATIVES}.items():
        p = os.path.join(d, f"{name}.mp4")
        if not os.path.exists(p):
            _cut(str(paths[s]), a, b, p)
        # ball 5-7.4 s is the first half of ball 5-10 s (an end-trimmed copy of it)
        clips.append({"name": name, "path": p, "group": "ball_5" if name == "ball_5s" else name, "mirror": False,
                      "two_source": False})
    for name in ORIGINALS:
        for c, (pre, args) in COPIES.items():
            p = os.path.join(d, f"{name}__{c}.{'avi' if c == 'mpeg4' else 'mp4'}")
            if not os.path.exists(p):
                run_ffmpeg([*pre, "-i", os.path.join(d, f"{name}.mp4"), *args, p])
            clips.append({"name": f"{name}__{c}", "path": p, "group": name, "mirror": c == "mirror",
                          "two_source": False})
    for name, (parts, _) in TWO_SOURCE.items():
        p = os.path.join(d, f"{name}.mp4")
        if not os.path.exists(p):
            segs = []
            for k, (s, a, b) in enumerate(parts):
                segs.append(os.path.join(d, f"{name}_{k}.mp4"))
                _cut(str(paths[s]), a, b, segs[-1], scale="640:360")
            lst = os.path.join(d, f"{name}.txt")
            with open(lst, "w") as f:
                f.writelines(f"file '{x}'\n" for x in segs)
            run_ffmpeg(["-f", "concat", "-safe", "0", "-i", lst, *X264, p])
        clips.append({"name": name, "path": p, "group": name, "mirror": False, "two_source": True})
    return clips


def hashes(clips: list[dict], cfg: AnalyzeConfig) -> None:
    from curate.stages.analyze import analyse_span

    for c in clips:
        pr = probe(c["path"])
        a = [x for x in build_phash(cfg)]
        analyse_span(c["path"], 0, pr.num_frames, pr.fps, a, width=cfg.width)
        c.update(a[0].result())
        c["frames"] = pr.num_frames


def build_phash(cfg: AnalyzeConfig) -> list[PhashAnalyser]:
    from curate.stages.analyze import build_analysers

    return [a for a in build_analysers(cfg.model_copy(update={"overlay": False})) if a.name == "phash"]


def score(clips: list[dict], dups: list[tuple], mirror: bool) -> dict:
    name = [c["name"] for c in clips]
    by = {c["name"]: c for c in clips}
    rep = {n: n for n in name}
    for d in dups:
        rep[d[0]] = d[1]
    contains = {n: set(g) for n, (_, g) in TWO_SOURCE.items()}
    found, missed, false, dontcare = [], [], [], 0
    for a, b in itertools.combinations(name, 2):
        ca, cb = by[a], by[b]
        together = rep[a] == rep[b] or rep[a] == b or rep[b] == a
        if ca["two_source"] or cb["two_source"]:
            x, o = (a, b) if ca["two_source"] else (b, a)
            if by[o]["group"] in contains.get(x, set()) and (mirror or not by[o]["mirror"]):
                dontcare += 1
                continue
        same = ca["group"] == cb["group"] and (mirror or not (ca["mirror"] or cb["mirror"]))
        if same and ca["mirror"] and cb["mirror"]:
            same = False  # two mirrored copies only meet through the original; not scored
            continue
        if same:
            (found if together else missed).append((a, b))
        elif together:
            false.append((a, b))
    reps = {rep[n] for n in name if rep[n] != n}
    return {"found": len(found), "missed": missed, "false": false, "dontcare": dontcare,
            "two_source_kept_as_rep": sorted(r for r in reps if by[r]["two_source"])}


def cost(n: int, seed: int = 0) -> dict:
    """CPU seconds of find_duplicates over ``n`` synthetic clips (random walks of 64-bit hashes)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    k = 24  # hashes per clip (6 s at 4/s)
    base = rng.integers(0, 2**63, size=(n, 1), dtype=np.int64)
    flips = rng.integers(0, 64, size=(n, k))
    steps = (np.int64(1) << flips.astype(np.int64)) * (rng.random((n, k)) < 0.5)
    hs = base ^ np.bitwise_xor.accumulate(steps, axis=1)
    ts = [list(np.arange(k) / 4.0) for _ in range(n)]
    ids = [f"c{i}" for i in range(n)]
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.time()
    out = find_duplicates(ids, [list(map(int, h)) for h in hs], times=ts)
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    return {"clips": n, "cpu_s": round(r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime, 2),
            "wall_s": round(time.time() - t0, 2), "duplicates": len(out),
            "max_rss_mb": round(r1.ru_maxrss / 1024)}


def long_clips(d: str, phash_max: int | None = None) -> list[tuple]:
    """Longer originals (14 s handheld cockatoo, 60 s static vtest, 10.2 s diver) and copies
    start-trimmed by 0.37 / 1.0 s (crf 28): the duplicates found (``phash_max`` overrides)."""
    os.makedirs(d, exist_ok=True)
    p = fetch(["cockatoo", "vtest", "diver"])
    x = ["-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2", *X264]
    jobs = {"cock14": (p["cockatoo"], 0, 14), "vtest60": (p["vtest"], 0, 60), "diver10": (p["diver"], 0, 10.2)}
    clips = []
    for n, (src, a, b) in jobs.items():
        orig = os.path.join(d, f"{n}.mp4")
        if not os.path.exists(orig):
            run_ffmpeg(["-ss", str(a), "-i", str(src), "-t", str(b - a), *x, orig])
        clips.append({"name": n, "path": orig})
        for tr in (0.37, 1.0):
            cp = os.path.join(d, f"{n}_trim{tr}.mp4")
            if not os.path.exists(cp):
                run_ffmpeg(["-ss", str(tr), "-i", orig, "-crf", "28", *x, cp])
            clips.append({"name": f"{n}_trim{tr}", "path": cp})
    hashes(clips, AnalyzeConfig(**({"phash_max": phash_max} if phash_max else {})))
    return find_duplicates([c["name"] for c in clips], [c["phash"] for c in clips], None, DedupConfig(),
                           times=[c["phash_t"] for c in clips], motion=[c["phash_motion"] for c in clips])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default="/tmp/dedup_dev")
    ap.add_argument("--scale", type=int, nargs="*", default=[])
    ap.add_argument("--set", nargs="*", default=[], help="dedup.KEY=VALUE overrides")
    ap.add_argument("--dump", help="write the per-clip hashes as JSON here")
    ap.add_argument("--long", action="store_true", help="also the longer clips (long_clips)")
    args = ap.parse_args()
    clips = build(args.dir)
    hashes(clips, AnalyzeConfig())
    if args.dump:
        with open(args.dump, "w") as f:
            json.dump(clips, f)
    over = dict(kv.split("=", 1) for kv in args.set)
    for mirror in (False, True):
        cfg = DedupConfig(**{**over, "mirror": mirror})
        dups = find_duplicates([c["name"] for c in clips], [c["phash"] for c in clips],
                               [(len(c["phash"]), c["frames"]) for c in clips], cfg, times=[c.get("phash_t") for c in clips],
                               motion=[c.get("phash_motion") for c in clips])
        s = score(clips, dups, mirror)
        print(f"mirror={mirror}: {len(clips)} clips, pairs found {s['found']}, missed {len(s['missed'])}, "
              f"false {len(s['false'])}, two-source clip kept as representative: {s['two_source_kept_as_rep']}")
        for kind in ("missed", "false"):
            for p in s[kind]:
                print(f"  {kind}: {p[0]} ~ {p[1]}")
    if args.long:
        for pm in (None, 64):
            found = long_clips(os.path.join(args.dir, "long"), pm)
            print(f"long clips (phash_max={pm or AnalyzeConfig().phash_max}): {len(found)} of 6 marked (3 groups of 3):",
                  sorted(f[0] for f in found))
    for n in args.scale:
        print("cost", cost(n))


if __name__ == "__main__":
    main()
