"""How the report, card and gallery queries scale: synthetic shards with N clips and 4 score columns.

Baseline (same run, same data): the naive way to histogram, fetching every value into Python and
calling numpy.histogram, against the report's DuckDB binning (:func:`curate.report.binned`).

    python benchmarks/report.py --clips 1000000
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate.columns import discover, quote
from curate.query import connect
from curate.schemas import CLIPS, VIDEOS, field
from curate.shards import write_manifest
from curate.storage import Output

SCORES = ["motion_score", "aesthetic_score", "text_area_ratio", "overlay_prob"]


def make_output(root: str, n_clips: int, clips_per_video: int = 10, shard_clips: int = 250_000) -> None:
    rng = np.random.default_rng(0)
    out = Output(root)
    shards = []
    n_videos = n_clips // clips_per_video
    for idx, start in enumerate(range(0, n_videos, shard_clips // clips_per_video)):
        nv = min(shard_clips // clips_per_video, n_videos - start)
        vids = [f"v{start + i:09d}" for i in range(nv)]
        vt = pa.table({"video_id": vids, "source": [f"https://example.org/{v}.mp4" for v in vids],
                       "status": ["ok"] * nv, "duration_s": rng.uniform(10, 600, nv),
                       "licence": rng.choice(["CC-BY-4.0", "CC0", "CC-BY-SA-4.0"], nv)})
        vt = pa.Table.from_arrays([vt.column(f.name) if f.name in vt.column_names else pa.nulls(nv, f.type)
                                   for f in VIDEOS] + [vt.column("licence")],
                                  schema=pa.schema(list(VIDEOS) + [field("licence", pa.string(), "licence")]))
        nc = nv * clips_per_video
        status = np.where(rng.random(nc) < 0.2, "rejected", "ok")
        cols = {"clip_id": [f"c{start * clips_per_video + i:010d}" for i in range(nc)],
                "video_id": np.repeat(vids, clips_per_video).tolist(),
                "clip_index": np.tile(np.arange(clips_per_video, dtype=np.int32), nv),
                "duration_s": rng.uniform(2, 30, nc), "fps": np.full(nc, 30.0),
                "status": status.tolist(),
                "reject_reasons": [["motion_low"] if s == "rejected" else [] for s in status]}
        ct = pa.Table.from_arrays([pa.array(cols[f.name], f.type) if f.name in cols else pa.nulls(nc, f.type)
                                   for f in CLIPS], schema=CLIPS)
        for s in SCORES:
            ct = ct.append_column(field(s, pa.float64(), s), pa.array(rng.beta(2, 5, nc)))
        ct = ct.append_column(field("caption_brief", pa.string(), "caption"),
                              pa.array(["a person rides a bike along a river at dusk"] * nc))
        entry = {"index": idx, "rows": {"videos": nv, "clips": nc}}
        for name, t in (("videos", vt), ("clips", ct)):
            rel = f"{name}/part-{idx:05d}.parquet"
            os.makedirs(os.path.dirname(out.path(rel)), exist_ok=True)
            pq.write_table(t, out.path(rel))
            entry[name] = rel
        shards.append(entry)
    write_manifest(out, {"format": "curate-shards", "schema_version": "1.0.0", "shards": shards, "runs": []})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=500_000)
    args = ap.parse_args()
    from curate.card import build_card
    from curate.report import binned, build_report
    from curate.serve import Gallery

    with tempfile.TemporaryDirectory() as root:
        t = time.perf_counter()
        make_output(root, args.clips)
        print(f"made {args.clips:,} clips in {time.perf_counter() - t:.1f} s")
        con = connect(root)
        cols = discover(root)["clips"].scores
        t = time.perf_counter()
        for c in cols:
            vals = np.array([r[0] for r in con.execute(f"SELECT {quote(c)} FROM clips WHERE {quote(c)} IS NOT NULL").fetchall()])
            np.histogram(vals, bins=30)
        naive = time.perf_counter() - t
        t = time.perf_counter()
        for c in cols:
            binned(con, "clips", quote(c))
        fast = time.perf_counter() - t
        print(f"histograms of {len(cols)} scores: fetch-all + numpy {naive:.2f} s, DuckDB binning {fast:.2f} s "
              f"-> {naive / fast:.1f}x faster")
        t = time.perf_counter()
        build_report(root)
        rep = time.perf_counter() - t
        t = time.perf_counter()
        build_card(root)
        card = time.perf_counter() - t
        g = Gallery(root)
        t = time.perf_counter()
        for _ in range(5):
            g.list_clips({"status": "ok", "min.motion_score": "0.3", "licence": "CC0", "q": "river", "sort": "aesthetic_score"})
        q = (time.perf_counter() - t) / 5
        print(f"report {rep:.2f} s ({rep / args.clips * 1e6:.2f} s per million clips), card {card:.2f} s, "
              f"gallery filtered+sorted page {q * 1000:.0f} ms")


if __name__ == "__main__":
    main()
