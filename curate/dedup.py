"""Near-duplicate clips from perceptual hashes: a global step on the driver after the shards.

Each clip carries ``phash`` (64-bit pHashes of frames sampled every 1/analyze.phash_per_s s),
``phash_t`` (their times) and ``phash_motion`` (8x8 masks of where things move); see
:mod:`curate.analysers.phash`.

1. **Candidates** come from a hash index: 8 tables, each keyed by a 32-bit window of the hash
   (bits 8k..8k+31, wrapping). Copies share many nearly equal hashes, so some pair of their
   samples lands in one bucket of some table; unrelated hashes meet with probability ~2^-32
   per table, so the work grows with the number of hashes, not with clip pairs. Buckets with
   more than ``max_bucket`` clips (degenerate, e.g. near-flat frames) are skipped.
2. **Alignment**: sample pairs within ``max_distance`` bits propose time offsets (offset = time
   in B - time in A); for the 3 most frequent offsets every sample of A is paired with the
   sample of B nearest to the same aligned time, and matches when within ``align_distance``
   bits. A start-trimmed copy has one consistent offset, although its samples fall between
   the original's.
3. **Duplicates** when one contiguous run of aligned matches (up to 2 misses in a row bridged)
   covers ``min_matched`` of the SHORTER clip's samples (a clip that shares only a part of
   each of two others matches neither), AND either the aligned samples' motion masks agree
   (mean Jaccard >= ``min_motion_overlap``, pooled >= 0.4 x that, some cell moving), or the
   pHashes alone pin the offset down (they do not match about as well 0.5-1 s away: the
   content changes over time). A static camera matches at any offset (its background
   dominates the hash): another moment of it moves elsewhere and is rejected; where nothing
   moves at all, the hashes must be within ``max_distance // 2``. With ``mirror`` on, the
   mirrored hashes and masks (exact, from the signs) are matched too.
4. **Groups without chains** (star clustering): the clip that matches the most clips not yet
   marked is a group's centre; the group is the centre and those clips; the clip KEPT is the
   highest-ranked member (default rank: most samples, then largest frame, then most frames,
   then the smallest clip_id) that matches every other member directly (else the centre), and
   the others are marked as its duplicates. There is no transitive closure: every duplicate
   matched its kept clip directly, and A ~ X ~ C never marks C as a duplicate of A. A clip
   that matched another only in part and changes shot at an end of the matched run (the 2
   samples each side of the boundary have no pair within ``shot_change_distance`` bits: a
   missed cut) is never a group's centre nor its kept clip.

Cost: the index is a few numpy sorts over all hashes; each candidate pair costs ~0.7 ms of
Python/numpy (``benchmarks/bench_dedup.py``; see docs/scores.md).

Every duplicate gets a row in ``dedup/part-00000.parquet`` (clip_id, duplicate_of, distance,
matched, offset_s, mirrored); the file is rewritten atomically over ALL committed shards each
time, and DuckDB exposes it as the view ``duplicates``
(``curate query "SELECT * FROM clips WHERE clip_id NOT IN (SELECT clip_id FROM duplicates)"``).
Rows written before ``phash_t`` existed are taken as sampled once per second (the old default).
"""

from __future__ import annotations

import io
import logging
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate.analysers.phash import ODD_COLUMNS
from curate.config import DedupConfig
from curate.schemas._fields import field
from curate.shards import shard_paths
from curate.storage import Output

log = logging.getLogger("curate")

DEDUP_PATH = "dedup/part-00000.parquet"
DEDUP_SCHEMA = pa.schema([
    field("clip_id", pa.string(), "The duplicate clip.", nullable=False),
    field("duplicate_of", pa.string(), "clip_id of the clip that is kept."),
    field("distance", pa.int32(), "Median Hamming distance (bits of 64) of the matched aligned hashes."),
    field("matched", pa.float32(), "Fraction of the duplicate's samples in the contiguous matched run."),
    field("offset_s", pa.float32(), "Where the duplicate's first frame lies in the kept clip (s; < 0: the duplicate starts earlier)."),
    field("mirrored", pa.bool_(), "The duplicate is a left-right mirrored copy (dedup.mirror)."),
])
_TABLES = 8
_BRIDGE = 2  # a run of aligned matches continues over this many consecutive misses (motion blur, a flash)
_ODD = np.uint64(np.int64(ODD_COLUMNS).view(np.uint64))


@dataclass
class _Clip:
    h: np.ndarray  # uint64 hashes
    t: np.ndarray  # float64 times (s)
    m: np.ndarray  # uint64 motion masks (zeros when unknown)
    step: float


@dataclass
class Match:
    cover_a: float
    cover_b: float
    distance: int
    offset: float  # time in b - time in a
    motion: float  # mean Jaccard of the aligned samples' motion masks (1 for a pair where neither moves)
    run_a: tuple[int, int] = (0, 0)  # [first, end) sample of the matched run in a
    run_b: tuple[int, int] = (0, 0)
    pooled: float = 1.0  # sum of intersections / sum of unions of those masks
    moving: float = 0.0  # mean number of cells (of 64) moving in either clip per aligned sample
    timeless: bool = False  # set by is_duplicate when it had to ask (see timeless())

    def swapped(self) -> Match:
        return Match(self.cover_b, self.cover_a, self.distance, -self.offset, self.motion, self.run_b, self.run_a,
                     self.pooled, self.moving, self.timeless)


def _pc(x: np.ndarray) -> np.ndarray:
    return np.bitwise_count(x)


def _mirror(c: _Clip) -> _Clip:
    m = c.m
    if m.any():
        bits = np.unpackbits(m.view(np.uint8).reshape(-1, 8), axis=1, bitorder="little").reshape(-1, 8, 8)[:, :, ::-1]
        m = np.packbits(bits.reshape(-1, 64), axis=1, bitorder="little").view(np.uint64).ravel()
    return _Clip(c.h ^ _ODD, c.t, m, c.step)


class HashSet:
    """Every clip's samples in flat arrays (clip i owns ``[start[i], start[i + 1])``): a few tens of
    bytes per sample, no Python object per clip, so a million clips fit on the driver."""

    def __init__(self, h: np.ndarray, t: np.ndarray, m: np.ndarray, start: np.ndarray) -> None:
        self.h, self.t, self.m, self.start = h, t, m, start
        self.n = len(start) - 1
        self.lens = np.diff(start)
        self._steps: dict[int, float] = {}

    @classmethod
    def from_lists(cls, hashes: list, times: list | None = None, motion: list | None = None) -> HashSet:
        n = len(hashes)
        lens = np.fromiter((len(h or []) for h in hashes), np.int64, n)
        start = np.r_[0, np.cumsum(lens)].astype(np.int64)
        h = np.fromiter((v for x in hashes for v in (x or [])), np.int64, int(start[-1])).view(np.uint64)
        within = np.arange(start[-1]) - np.repeat(start[:-1], lens)
        t = within.astype(np.float64)  # old rows without times: one hash per second
        m = np.zeros(len(h), np.uint64)
        for i in range(n):
            a, b = start[i], start[i + 1]
            if times is not None and times[i] is not None and len(times[i]) == b - a:
                t[a:b] = times[i]
            if motion is not None and motion[i] is not None and len(motion[i]) == b - a:
                m[a:b] = np.asarray(motion[i], dtype=np.int64).view(np.uint64)
        return cls(h, t, m, start)

    @classmethod
    def from_arrow(cls, table: pa.Table) -> HashSet:
        """From ``phash`` / ``phash_t`` / ``phash_motion`` list columns (the latter two optional)."""
        col = table.column("phash").combine_chunks()
        off = col.offsets.to_numpy().astype(np.int64)
        start = off - off[0]
        h = col.values.to_numpy(zero_copy_only=False).astype(np.int64)[off[0]:off[-1]].view(np.uint64)
        lens = np.diff(start)
        row = np.repeat(np.arange(len(lens)), lens)
        within = np.arange(len(h)) - start[:-1][row]

        def aligned(name: str, default: np.ndarray, dtype) -> np.ndarray:
            if name not in table.column_names:
                return default
            c = table.column(name).combine_chunks()
            o = c.offsets.to_numpy().astype(np.int64)
            vals = c.values.to_numpy(zero_copy_only=False).astype(dtype)
            ok = (np.diff(o) == lens)[row]
            if not len(vals) or not ok.any():
                return default
            src = np.minimum(o[:-1][row] + within, len(vals) - 1)
            return np.where(ok, vals[src], default)

        t = aligned("phash_t", within.astype(np.float64), np.float64)
        m = aligned("phash_motion", np.zeros(len(h), np.int64), np.int64).astype(np.int64).view(np.uint64)
        return cls(h, t, m, start)

    def clip(self, i: int) -> _Clip:
        a, b = self.start[i], self.start[i + 1]
        t = self.t[a:b]
        if i not in self._steps:
            self._steps[i] = max(float(np.median(np.diff(t))), 1e-3) if b - a > 1 else 1.0
        return _Clip(self.h[a:b], t, self.m[a:b], self._steps[i])


def _prep(h, t, m) -> _Clip:
    return HashSet.from_lists([h], [t], [m]).clip(0)


def _run(a: _Clip, b: _Clip, d: np.ndarray, offset: float,
         cfg: DedupConfig) -> tuple[float, list[int], tuple[int, int, float], tuple[int, int]]:
    """Coverage of ``a`` by its longest contiguous run of aligned matches with ``b`` at ``offset``:
    (coverage, distances of the run's matches, (mask intersections, unions, sum of Jaccards) over
    them, [first, end) sample of the run)."""
    tol = 0.6 * max(a.step, b.step)
    target = a.t + offset
    jr = np.clip(np.searchsorted(b.t, target), 0, len(b.t) - 1)
    jl = np.maximum(jr - 1, 0)
    j = np.where(np.abs(b.t[jl] - target) <= np.abs(b.t[jr] - target), jl, jr)
    aligned = np.abs(b.t[j] - target) <= tol
    dist = d[np.arange(len(a.t)), j]
    ok = aligned & (dist <= cfg.align_distance)
    n = len(ok)
    if not ok.any():
        return 0.0, [], (0, 0, 0.0), (0, 0)
    inter, union = _pc(a.m & b.m[j]).astype(np.int64), _pc(a.m | b.m[j]).astype(np.int64)
    # misses bridged: aligned, with a match within _BRIDGE samples before AND after
    pad = np.zeros(_BRIDGE, bool)
    okp = np.concatenate([pad, ok, pad])
    before = np.zeros(n, bool)
    after = np.zeros(n, bool)
    for k in range(1, _BRIDGE + 1):
        before |= okp[_BRIDGE - k:_BRIDGE - k + n]
        after |= okp[_BRIDGE + k:_BRIDGE + k + n]
    inrun = ok | (aligned & before & after)
    edges = np.diff(np.concatenate([[0], inrun.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    csum = np.concatenate([[0], np.cumsum(ok)])
    counts = csum[ends] - csum[starts]
    best = int(np.argmax(counts))  # the first longest run
    cnt, s, e = int(counts[best]), int(starts[best]), int(ends[best])
    sel = np.flatnonzero(ok[s:e]) + s
    jac = np.where(union == 0, 1.0, inter / np.maximum(union, 1))
    return cnt / max(n, 1), dist[sel].tolist(), (int(inter[sel].sum()), int(union[sel].sum()), float(jac[sel].sum())), (s, e)


def match(a: _Clip, b: _Clip, cfg: DedupConfig) -> Match | None:
    """The best aligned match of two clips' samples, or None when no pair of hashes is close."""
    if not len(a.h) or not len(b.h):
        return None
    d = _pc(a.h[:, None] ^ b.h[None, :])
    seeds = np.argwhere(d <= cfg.max_distance)
    if not len(seeds):
        return None
    offs = b.t[seeds[:, 1]] - a.t[seeds[:, 0]]
    keys = np.round(offs / (0.5 * max(a.step, b.step)))
    uniq, counts = np.unique(keys, return_counts=True)
    best: Match | None = None
    for k in uniq[np.argsort(-counts, kind="stable")][:3]:
        off = float(np.median(offs[keys == k]))
        ca, da, ja, ra = _run(a, b, d, off, cfg)
        cb, db, jb, rb = _run(b, a, d.T, -off, cfg)
        if not da or not db:
            continue
        motion = (ja[2] + jb[2]) / (len(da) + len(db))
        m = Match(ca, cb, int(np.median(da + db)), off, motion, ra, rb)
        m.moving = (ja[1] + jb[1]) / (len(da) + len(db))
        m.pooled = (ja[0] + jb[0]) / max(ja[1] + jb[1], 1) if ja[1] + jb[1] else 1.0
        if best is None or min(m.cover_a, m.cover_b) > min(best.cover_a, best.cover_b) or (
                m.cover_a + m.cover_b > best.cover_a + best.cover_b):
            best = m
    return best


def timeless(a: _Clip, b: _Clip, m: Match, cfg: DedupConfig) -> bool:
    """Whether the pHashes fail to pin the offset down: they match about as well 0.5-1 s away.
    Handheld footage matches at one offset only; a static camera's background at any offset."""
    d = _pc(a.h[:, None] ^ b.h[None, :])
    shifted = [max(_run(a, b, d, m.offset + s, cfg)[0], _run(b, a, d.T, -m.offset - s, cfg)[0])
               for s in (-1.0, -0.5, 0.5, 1.0)]
    return max(shifted) >= 0.5 * max(m.cover_a, m.cover_b)


def is_duplicate(a: _Clip, b: _Clip, m: Match | None, cfg: DedupConfig) -> bool:
    if m is None or (m.cover_a if len(a.h) <= len(b.h) else m.cover_b) < cfg.min_matched:
        return False
    if m.moving > 0 and m.motion >= cfg.min_motion_overlap and m.pooled >= 0.4 * cfg.min_motion_overlap:
        return True  # the same things move in the same places at the same aligned times
    m.timeless = timeless(a, b, m, cfg)
    if not m.timeless:
        return True  # the pHashes alone pin the offset down (the content changes over time)
    # static content matching at any offset: things moving elsewhere -> another moment; nothing
    # moving at all -> nothing but the hashes to go by, so they must be nearly equal
    return m.moving == 0 and m.distance <= cfg.max_distance // 2


def _cross_min(c: _Clip, x: tuple[int, int], y: tuple[int, int]) -> int:
    return int(_pc(c.h[x[0]:x[1], None] ^ c.h[None, y[0]:y[1]]).min())


def spans_shot_change(c: _Clip, run: tuple[int, int], cfg: DedupConfig) -> bool:
    """Whether ``c`` changes shot at an end of its matched ``run``: the 2 samples on each side of
    the boundary (2 or more left outside the run) have no pair within ``shot_change_distance``
    bits. Within one shot, samples 1/phash_per_s apart stay close even on handheld footage;
    across a cut the hashes are unrelated (~32 bits apart)."""
    s, e = run
    n = len(c.h)
    return (s >= 2 and _cross_min(c, (s - 2, s), (s, min(s + 2, e))) > cfg.shot_change_distance) or (
        n - e >= 2 and _cross_min(c, (e, e + 2), (max(e - 2, s), e)) > cfg.shot_change_distance)


def _candidates(hs_: HashSet, mirror: bool, max_bucket: int) -> np.ndarray:
    """(a, b, flip) rows, a < b, of clips sharing a 32-bit hash window in some table."""
    n = hs_.n
    idx = np.repeat(np.arange(n, dtype=np.int64), hs_.lens)
    hs = hs_.h
    if mirror:
        idx, hs = np.concatenate([idx, idx + n]), np.concatenate([hs, hs ^ _ODD])
    out = []
    for k in range(_TABLES):
        r = np.uint64(8 * k)
        rot = (hs >> r) | (hs << (np.uint64(64) - r)) if k else hs
        key = (rot & np.uint64(0xFFFFFFFF)).astype(np.int64)
        u = np.unique((key << 25) | idx)  # distinct (key, clip); idx < 2n < 2^25
        kk, cc = u >> 25, u & ((1 << 25) - 1)
        bounds = np.flatnonzero(np.diff(kk)) + 1
        starts, ends = np.r_[0, bounds], np.r_[bounds, len(kk)]
        size = ends - starts
        for s, e in zip(starts[(size >= 2) & (size <= max_bucket)], ends[(size >= 2) & (size <= max_bucket)]):
            m = cc[s:e]
            a, b = np.triu_indices(len(m), 1)
            x, y = m[a], m[b]
            flip = (x >= n) != (y >= n)
            x, y = x % n, y % n
            keep = x != y
            if not mirror:
                keep &= ~flip
            lo, hi = np.minimum(x, y)[keep], np.maximum(x, y)[keep]
            out.append((lo << 26) | (hi << 1) | flip[keep])
    if not out:
        return np.zeros((0, 3), np.int64)
    p = np.unique(np.concatenate(out))
    return np.stack([p >> 26, (p >> 1) & ((1 << 25) - 1), p & 1], axis=1)


def find_duplicates(clip_ids: list[str], hashes: list[list[int]] | HashSet, rank: list[tuple] | None = None,
                    cfg: DedupConfig | None = None, times: list | None = None,
                    motion: list | None = None) -> list[tuple[str, str, int, float, float, bool]]:
    """(clip_id, duplicate_of, distance, matched, offset_s, mirrored) for every duplicate among the clips.

    ``hashes``: per clip ``phash`` lists, or a :class:`HashSet` (then ``times``/``motion`` are
    ignored). ``rank[i]`` orders the clips (the highest is kept); default: number of hashes.
    ``times[i]`` (``phash_t``) and ``motion[i]`` (``phash_motion``) may be None per clip (old
    rows: hashes one second apart, no motion check).
    """
    cfg = cfg or DedupConfig()
    hs = hashes if isinstance(hashes, HashSet) else HashSet.from_lists(hashes, times, motion)
    rank = rank or [(int(x),) for x in hs.lens]
    edges: dict[int, list[tuple[int, Match, bool]]] = defaultdict(list)
    multi: set[int] = set()  # clips whose unmatched part is another shot
    for a, b, flip in _candidates(hs, cfg.mirror, cfg.max_bucket).tolist():
        ca, cb = hs.clip(a), hs.clip(b)
        if flip:
            ca = _mirror(ca)
        m = match(ca, cb, cfg)
        if is_duplicate(ca, cb, m, cfg):
            edges[a].append((b, m, bool(flip)))
            edges[b].append((a, m.swapped(), bool(flip)))
            for x, c, run in ((a, ca, m.run_a), (b, cb, m.run_b)):
                if spans_shot_change(c, run, cfg):
                    multi.add(x)
    # star clustering: the clip that matches most others (not yet marked) is a group's centre; the
    # clip kept is the highest-ranked member of the star that matches every other member directly
    nbs = {i: {nb: (m, flip) for nb, m, flip in e} for i, e in edges.items()}

    def rk(i: int) -> tuple:
        return (tuple(-x for x in rank[i]), clip_ids[i])

    order = sorted(edges, key=lambda i: (i in multi, -len(nbs[i]), rk(i)))
    marked: dict[int, tuple[int, Match, bool]] = {}
    kept: set[int] = set()
    for c in order:
        if c in marked or c in kept or c in multi:
            continue
        star = [c, *(nb for nb in nbs[c] if nb not in marked and nb not in kept)]
        keep = next((x for x in sorted(star, key=rk)
                     if x not in multi and all(y in nbs[x] for y in star if y != x)), c)
        kept.add(keep)
        for x in star:
            if x != keep:
                m, flip = nbs[keep][x]
                marked[x] = (keep, m, flip)
    out = []
    for i, (c, m, flip) in sorted(marked.items()):
        # m is from c's side: time in nb = time in c + offset, so nb's first frame lies at -offset in c
        out.append((clip_ids[i], clip_ids[c], m.distance, round(m.cover_b, 3), round(-m.offset, 3), flip))
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
            cols = [c for c in ("clip_id", "phash", "phash_t", "phash_motion", "num_frames", "width", "height",
                                "status") if c in names]
            if "phash" in cols:  # shards written before the analyse stage existed have no hashes
                tables.append(pf.read(columns=cols))
    if not tables:
        tables = [pa.table({"clip_id": pa.array([], pa.string()), "phash": pa.array([], pa.list_(pa.int64()))})]
    t = pa.concat_tables(tables, promote_options="default")
    keep = pc.and_(pc.is_in(t.column("status"), pa.array(["ok", "rejected"])) if "status" in t.column_names
                   else pa.repeat(True, len(t)), pc.greater(pc.fill_null(pc.list_value_length(t.column("phash")), 0), 0))
    t = t.filter(pc.fill_null(keep, False))
    ids = t.column("clip_id").to_pylist()
    hs = HashSet.from_arrow(t)

    def num(name: str) -> np.ndarray:
        if name not in t.column_names:
            return np.zeros(len(t), np.int64)
        return np.nan_to_num(t.column(name).to_numpy(zero_copy_only=False).astype(np.float64)).astype(np.int64)

    area, frames = num("width") * num("height"), num("num_frames")
    rank = list(zip(hs.lens.tolist(), area.tolist(), frames.tolist()))
    dups = find_duplicates(ids, hs, rank, cfg)
    table = pa.Table.from_pylist([dict(zip(DEDUP_SCHEMA.names, d)) for d in dups], schema=DEDUP_SCHEMA)
    buf = io.BytesIO()
    pq.write_table(table, buf)
    out.write_bytes(DEDUP_PATH, buf.getvalue())  # tmp name + rename
    log.info("dedup: %d of %d hashed clips are near-duplicates (written to %s)", len(dups), len(ids), DEDUP_PATH)
    return len(dups)
