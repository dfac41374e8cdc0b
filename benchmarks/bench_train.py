"""Training feed throughput: the full loader (DuckDB selection -> Ray Data decode tasks ->
worker-side buckets -> batches) versus raw PyAV decode of the same clips in this process.

    python benchmarks/bench_train.py [--output OUT] [--repeat 8] [--frames 16] [--resolution 64]

Without ``--output`` a curate run over the bundled samples (``samples://``, scores off) is
made first in a temp dir. The selected clips are repeated ``--repeat`` times (distinct ids,
same files) so the measurement is not dominated by Ray start-up. Three numbers, same clips,
same run:

* ``raw decode (PyAV, 1 process)``: :func:`curate.train.feed.decode_clip` on every clip in a
  loop (only the sampled frames converted) - what one core does without Ray;
* ``naive decode (every frame scaled)``: ``curate.media.iter_frames`` at the bucket size,
  then subsampled - a loader that converts every frame;
* ``loader``: the training feed exactly as a Ray Train worker consumes it (on the driver
  here, as one worker), first batch included and steady state (after the first batch).

Prints samples/s of each and the ratios loader / raw.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time

import pyarrow as pa
import pyarrow.parquet as pq

os.environ.setdefault("RAY_DATA_DISABLE_PROGRESS_BARS", "1")


def make_output(tmp: str) -> str:
    from curate.config import load_config
    from curate.pipeline import run_pipeline

    out = os.path.join(tmp, "out")
    cfg = load_config(None, [f"output.dir={out}", "clips.min_s=1.0", "clips.max_s=10", "analyze.enabled=false",
                             "aesthetics.enabled=false", "filter.enabled=false", "dedup.enabled=false",
                             "report.enabled=false", "report.card=false", "ray.num_cpus=2"])
    s = run_pipeline(cfg)
    print(f"made {s.clips_ok} clips from {s.videos_ok} sample videos in {s.wall_s:.1f} s")
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--output", help="An existing curate output dir (default: run the samples first).")
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--frames", default="8,16", help="Frame-count buckets, comma separated.")
    ap.add_argument("--fps", type=float, default=8.0)
    ap.add_argument("--resolution", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--num-cpus", type=int, default=2)
    a = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)

    import numpy as np
    import ray

    from curate.config import load_config
    from curate.media import iter_frames
    from curate.ray_session import init_ray
    from curate.train.feed import (
        BucketBatcher, BucketSpec, Selection, build_dataset, decode_clip, iter_bucketed, select_clips, wanted_indices,
    )

    tmp = tempfile.mkdtemp(prefix="bench-train-")
    try:
        out = a.output or make_output(tmp)
        cfg = load_config(None, [f"ray.num_cpus={a.num_cpus}", f"train.frames=[{a.frames}]", f"train.fps={a.fps}",
                                 f"train.resolutions=[{a.resolution}]", f"train.batch_size={a.batch_size}",
                                 "train.select.exclude_duplicates=false"])
        tc = cfg.train
        sel = select_clips(out, tc, os.path.join(tmp, "sel"))
        base = pa.concat_tables([pq.read_table(f) for f in sel.files])
        rows = []
        for r in range(a.repeat):
            t = base.set_column(0, "clip_id", pa.array([f"{c}-{r}" for c in base.column("clip_id").to_pylist()]))
            rows.append(t)
        table = pa.concat_tables(rows)
        files = []
        for i in range(0, table.num_rows, 16):
            f = os.path.join(tmp, "rep", f"part-{i // 16:05d}.parquet")
            os.makedirs(os.path.dirname(f), exist_ok=True)
            pq.write_table(table.slice(i, 16), f)
            files.append(f)
        spec = BucketSpec.from_config(tc)
        clips = table.to_pylist()
        jobs = [(c, spec.assign(c["width"], c["height"], c["duration_s"], c["fps"])) for c in clips]
        jobs = [(c, b) for c, b in jobs if b is not None]
        sizes = {}
        for c, b in jobs:
            sizes.setdefault((c["width"], c["height"]), 0)
            sizes[(c["width"], c["height"])] += 1
        print(f"{len(jobs)} samples ({sel.rows} distinct clips x {a.repeat}), source sizes {sizes}, "
              f"target {a.frames} frames @ {a.fps} fps, short side {a.resolution}")

        # raw: the same decode function, one process, no Ray
        t0 = time.perf_counter()
        for c, b in jobs:
            decode_clip(c["path"], b, tc.fps, c["num_frames"])
        raw_s = time.perf_counter() - t0
        # naive: convert every frame at the bucket size, keep the sampled ones
        t0 = time.perf_counter()
        naive_jobs = jobs[: max(1, len(jobs) // a.repeat)]  # one pass over the distinct clips (slow)
        for c, b in naive_jobs:
            want = set(wanted_indices(c["num_frames"], c["fps"], b.frames, tc.fps))
            kept = [img for i, _, img in iter_frames(c["path"], b.width, fmt="rgb24", size=(b.width, b.height)) if i in want]
            np.stack(kept)
        naive_s = time.perf_counter() - t0

        init_ray(cfg)
        t0 = time.perf_counter()
        ds = build_dataset(Selection(files, table.num_rows, [], {}, ""), tc)
        batcher = BucketBatcher(tc.batch_size)
        n, first, marks = 0, None, []
        for batch in iter_bucketed(ds.iter_batches(batch_size=tc.decode_batch, batch_format="pyarrow",
                                                   prefetch_batches=2), batcher):
            first = first or time.perf_counter()
            n += len(batch.clip_ids)
            marks.append((time.perf_counter(), n))
        end = time.perf_counter()
        loader_s = end - t0
        # steady state: the second half of the samples (Ray Data start-up and ramp-up excluded)
        t_half, n_half = next((t, k) for t, k in marks if k >= n / 2)
        raw = len(jobs) / raw_s
        naive = len(naive_jobs) / naive_s
        loader = n / loader_s
        steady = (n - n_half) / (end - t_half) if end > t_half else float("nan")
        cpus = int(ray.cluster_resources().get("CPU", 1))
        print(f"raw decode (PyAV, 1 process):      {raw:8.2f} samples/s  ({len(jobs)} in {raw_s:.2f} s)")
        print(f"naive decode (every frame scaled): {naive:8.2f} samples/s  ({len(naive_jobs)} in {naive_s:.2f} s)")
        print(f"loader (Ray Data, {cpus} CPUs), total:  {loader:8.2f} samples/s  ({n} in {loader_s:.2f} s, first batch "
              f"after {first - t0:.2f} s)")
        print(f"loader, second half of samples:   {steady:8.2f} samples/s")
        print(f"skipped: {dict(batcher.skipped)}")
        print(f"ratio loader/raw: total {loader / raw:.2f}x, steady {steady / raw:.2f}x; raw/naive {raw / naive:.2f}x")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
