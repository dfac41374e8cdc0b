"""Near-duplicate clips from perceptual hashes: a global step on the driver after the shards.

Each clip carries ``phash`` (64-bit pHashes of frames sampled every 1/analyze.phash_per_s s).
Clip A duplicates clip B when at least ``min_matched`` of A's hashes have a hash of B within
``max_distance`` bits. Candidates come from a banded index (each hash split into four 16-bit bands; two hashes
within 3 bits always share a band, and re-encoded/resized copies share many hashes, most of
them within a few bits), so the work grows with the number of hashes, not with clip pairs. Buckets larger than
``max_bucket`` (degenerate near-flat frames) are skipped.

In each group of duplicates one clip is kept: the one with most hashes (longest), then the
largest frame, then the smallest clip_id (deterministic). Every other clip gets a row in
``dedup/part-00000.parquet`` (clip_id, duplicate_of, distance, matched); the file is rewritten
atomically over ALL committed shards each time, and DuckDB exposes it as the view
``duplicates`` (``curate query "SELECT * FROM clips WHERE clip_id NOT IN (SELECT clip_id FROM duplicates)"``).
"""

from __future__ import annotations

import io
import logging
from collections import defaultdict

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate.config import DedupConfig
from curate.schemas._fields import field
from curate.shards import shard_paths
from curate.storage import Output

log = logging.getLogger("curate")

DEDUP_PATH = "dedup/part-00000.parquet"
DEDUP_SCHEMA = pa.schema([
    field("clip_id", pa.string(), "The duplicate clip.", nullable=False),
    field("duplicate_of", pa.string(), "clip_id of the clip that is kept."),
    field("distance", pa.int32(), "Median Hamming distance (bits of 64) of the matched hashes."),
    field("matched", pa.float32(), "Fraction of the duplicate's hashes that matched the kept clip."),
])


def _popcount(x: np.ndarray) -> np.ndarray:
    return np.unpackbits(x.view(np.uint8).reshape(-1, 8), axis=1).sum(1)


def find_duplicates(clip_ids: list[str], hashes: list[list[int]], rank: list[tuple] | None = None,
                    cfg: DedupConfig | None = None) -> list[tuple[str, str, int, float]]:
    """(clip_id, duplicate_of, distance, matched) for every duplicate among the clips.

    ``rank[i]`` orders the clips (the highest is kept); default: number of hashes.
    """
    cfg = cfg or DedupConfig()
    hs = [np.asarray(h or [], dtype=np.int64).view(np.uint64) for h in hashes]
    rank = rank or [(len(h),) for h in hs]
    buckets: dict[tuple[int, int], set[int]] = defaultdict(set)
    for ci, h in enumerate(hs):
        for v in h:
            for b in range(4):
                buckets[(b, int((int(v) >> (16 * b)) & 0xFFFF))].add(ci)
    pairs: set[tuple[int, int]] = set()
    for members in buckets.values():
        if len(members) < 2 or len(members) > cfg.max_bucket:
            continue
        ms = sorted(members)
        pairs.update((a, b) for i, a in enumerate(ms) for b in ms[i + 1:])
    parent = list(range(len(hs)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    best: dict[int, tuple[int, float]] = {}
    for a, b in pairs:
        if not len(hs[a]) or not len(hs[b]):
            continue
        d = _popcount((hs[a][:, None] ^ hs[b][None, :]).ravel()).reshape(len(hs[a]), len(hs[b]))
        ma, mb = d.min(1), d.min(0)
        fa, fb = float((ma <= cfg.max_distance).mean()), float((mb <= cfg.max_distance).mean())
        if max(fa, fb) >= cfg.min_matched:
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[ra] = rb
            dist = int(np.median(np.concatenate([ma, mb])))
            for x, f in ((a, fa), (b, fb)):
                if x not in best or f > best[x][1]:
                    best[x] = (dist, f)
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(hs)):
        groups[find(i)].append(i)
    out = []
    for members in groups.values():
        if len(members) < 2:
            continue
        keep = min(members, key=lambda i: (tuple(-x for x in rank[i]), clip_ids[i]))
        for i in members:
            if i != keep:
                dist, f = best.get(i, (-1, 0.0))
                out.append((clip_ids[i], clip_ids[keep], dist, f))
    return out


def dedup_output(output_dir: str, cfg: DedupConfig | None = None) -> int:
    """Recompute ``dedup/`` over every committed clip of ``output_dir``; return the duplicate count."""
    cfg = cfg or DedupConfig()
    out = Output(output_dir)
    tables = []
    for p in shard_paths(out, "clips"):
        with out.fs.open(p, "rb") as f:
            pf = pq.ParquetFile(f)
            names = set(pf.schema_arrow.names)
            cols = [c for c in ("clip_id", "phash", "num_frames", "width", "height", "status") if c in names]
            if "phash" in cols:  # shards written before the analyse stage existed have no hashes
                tables.append(pf.read(columns=cols))
    rows = [r for t in tables for r in t.to_pylist() if r.get("status") in ("ok", "rejected") and r.get("phash")]
    ids = [r["clip_id"] for r in rows]
    rank = [(len(r["phash"]), (r.get("width") or 0) * (r.get("height") or 0), r.get("num_frames") or 0) for r in rows]
    dups = find_duplicates(ids, [r["phash"] for r in rows], rank, cfg)
    table = pa.Table.from_pylist([dict(zip(DEDUP_SCHEMA.names, d)) for d in dups], schema=DEDUP_SCHEMA)
    buf = io.BytesIO()
    pq.write_table(table, buf)
    out.write_bytes(DEDUP_PATH, buf.getvalue())  # tmp name + rename
    log.info("dedup: %d of %d hashed clips are near-duplicates (written to %s)", len(dups), len(rows), DEDUP_PATH)
    return len(dups)
