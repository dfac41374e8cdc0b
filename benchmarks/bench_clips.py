"""Clip-file cutting: one ffmpeg run per video (forced keyframes + segment muxer) vs. one
ffmpeg run per clip (accurate seek + re-encode), same spans, same encoder settings.

    python benchmarks/bench_clips.py [--video X.mp4] [--seconds 60]

Prints wall time, clips/s and the ratio one-pass / per-clip, and checks frame counts.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

import av

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_cuts import synth  # noqa: E402

from curate.config import ClipsConfig  # noqa: E402
from curate.stage import RunContext  # noqa: E402
from curate.stages.clips import Clips, compute_spans  # noqa: E402


def frames(path: str) -> int:
    with av.open(path) as c:
        return sum(1 for _ in c.decode(video=0))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--video")
    ap.add_argument("--seconds", type=int, default=60)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp()
    try:
        path = a.video or os.path.join(tmp, "v.mp4")
        cuts = [] if a.video else synth(path, a.seconds)
        with av.open(path) as c:
            vs = c.streams.video[0]
            fps, n, w, h = float(vs.average_rate), vs.frames, vs.codec_context.width, vs.codec_context.height
        cfg = ClipsConfig(min_s=1.0, max_s=10.0)
        spans = compute_spans(cuts, n, fps, cfg)
        times = {}
        for mode in ("per_clip", "one_pass"):
            out = os.path.join(tmp, mode)
            st = Clips(cfg, RunContext("b", out, os.path.join(tmp, "work-" + mode)))
            rels = [(f"c{i}.mp4", f"t{i}.jpg") for i in range(len(spans))]
            t0 = time.perf_counter()
            if mode == "one_pass":
                st._cut_all(path, spans, rels, (w, h), False)
            else:
                for sp, (c, t) in zip(spans, rels):
                    st._cut(path, sp, fps, c, (w, h), False)
                    st._thumb(path, sp, fps, t)
            times[mode] = time.perf_counter() - t0
            bad = [i for i, sp in enumerate(spans) if frames(os.path.join(out, rels[i][0])) != sp.end - sp.start]
            print(f"{mode:9s}: {times[mode]:6.2f} s  {len(spans) / times[mode]:5.2f} clips/s  "
                  f"frame-exact: {len(spans) - len(bad)}/{len(spans)}")
        print(f"video {w}x{h} {n} frames, {len(spans)} clips; one_pass / per_clip = "
              f"{times['one_pass'] / times['per_clip']:.2f}x")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
