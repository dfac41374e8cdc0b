"""The training feed: shards -> selected clip rows -> Ray Data decode -> shape-homogeneous batches.

1. **Selection (driver, DuckDB).** :func:`select_clips` runs one SQL query over the committed
   clip shards (joined with ``videos`` for ``licence``): ``status = 'ok'``, a clip file, the
   ``train.select`` thresholds / licences / topics / ``where`` clause, near-duplicates out. The
   result (metadata only, no pixels) is streamed out of DuckDB in Arrow record batches into
   small Parquet files, so even millions of rows never sit in driver memory, and each file is a
   Ray Data read task. Per-shard row counts are kept for the manifest link.
2. **Decode (Ray Data tasks).** :func:`decode_batch` assigns each clip its bucket
   (aspect ratio, resolution, frame count) from its metadata, decodes only the frames it needs
   with PyAV (``curate.media.open_video``) at ``train.fps`` from the middle of the clip, resizes
   to cover the bucket size and centre-crops. A clip that cannot be decoded becomes a row with a
   ``skip`` reason instead of an exception.
3. **Bucketing (worker side).** Ray Data's ``groupby`` is an all-to-all barrier, so buckets are
   formed on each training worker by :class:`BucketBatcher`, a streaming per-bucket accumulator
   over ``iter_batches``: a batch is emitted as soon as one bucket holds ``batch_size`` clips, so
   a batch never mixes shapes and at most ``batch_size - 1`` clips per bucket are buffered.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from curate.config import ConfigError, TrainConfig

log = logging.getLogger("curate")

# Skip reasons a decode can produce (fixed order: workers all-reduce them as one tensor).
SKIP_REASONS = ("decode_error", "truncated", "not_found", "empty_file", "not_a_video", "corrupt_container",
                "no_video_stream", "too_short", "fetch_error", "other")

SELECTION_COLUMNS = ["clip_id", "video_id", "path", "width", "height", "fps", "num_frames", "duration_s",
                     "text", "caption_source", "shard"]
ROWS_PER_SELECTION_FILE = 256

DECODED_SCHEMA = pa.schema([
    pa.field("clip_id", pa.string()),
    pa.field("bucket", pa.string()),
    pa.field("text", pa.string()),
    pa.field("frames", pa.large_binary()),  # T*H*W*3 uint8, row-major (T, H, W, RGB)
    pa.field("t", pa.int32()),
    pa.field("h", pa.int32()),
    pa.field("w", pa.int32()),
    pa.field("skip", pa.string()),  # null = decoded; else one of SKIP_REASONS
])


# -- buckets ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Bucket:
    aspect: str
    frames: int
    height: int
    width: int

    @property
    def key(self) -> str:
        return f"{self.aspect}/{self.frames}x{self.height}x{self.width}"

    @staticmethod
    def parse(key: str) -> Bucket:
        aspect, shape = key.split("/")
        t, h, w = (int(x) for x in shape.split("x"))
        return Bucket(aspect, t, h, w)


@dataclass(frozen=True)
class BucketSpec:
    """The bucket grid of ``train``: aspect ratios x resolutions x frame counts."""

    aspect_ratios: tuple[str, ...]
    resolutions: tuple[int, ...]
    frames: tuple[int, ...]
    fps: float
    patch_hw: tuple[int, int] = (4, 4)

    @classmethod
    def from_config(cls, cfg: TrainConfig) -> BucketSpec:
        return cls(tuple(cfg.aspect_ratios), tuple(sorted(cfg.resolutions)), tuple(sorted(cfg.frames)), cfg.fps,
                   (cfg.model.patch[1], cfg.model.patch[2]))

    def _ratio(self, ar: str) -> float:
        w, h = ar.split(":")
        return float(w) / float(h)

    def assign(self, width: int, height: int, duration_s: float, src_fps: float) -> Bucket | None:
        """The bucket of a clip, or None when it is too short for the smallest frame count."""
        if not width or not height:
            return None
        r = width / height
        aspect = min(self.aspect_ratios, key=lambda a: abs(math.log(r / self._ratio(a))))
        a = self._ratio(aspect)
        short = min(width, height)
        fitting = [x for x in self.resolutions if x <= short]
        res = fitting[-1] if fitting else self.resolutions[0]
        ph, pw = self.patch_hw
        if a >= 1:  # landscape/square: the short side is the height
            h = res
            w = max(pw, int(round(res * a / pw)) * pw)
        else:
            w = res
            h = max(ph, int(round(res / a / ph)) * ph)
        available = available_frames(duration_s, src_fps, self.fps)
        ts = [t for t in self.frames if t <= available]
        if not ts:
            return None
        return Bucket(aspect, ts[-1], h, w)


def available_frames(duration_s: float, src_fps: float, fps: float) -> int:
    """How many frames at ``fps`` fit in a clip (sample i at i/fps must lie within the clip)."""
    if not duration_s or duration_s <= 0:
        return 0
    last = duration_s - (1.0 / src_fps if src_fps and src_fps > 0 else 0.0)
    return int(math.floor(max(0.0, last) * fps + 1e-6)) + 1


def wanted_indices(num_frames: int, src_fps: float, t: int, fps: float) -> list[int]:
    """Source frame indices of ``t`` frames sampled at ``fps`` from the middle of the clip."""
    dur = num_frames / src_fps
    span = (t - 1) / fps
    start = max(0.0, (dur - span - 1.0 / src_fps) / 2)
    return [min(num_frames - 1, int(round((start + i / fps) * src_fps))) for i in range(t)]


# -- decode -----------------------------------------------------------------------------------
class SkipClip(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason if reason in SKIP_REASONS else "other"


def _local_copy(path: str) -> tuple[str, str | None]:
    """(local path, temp dir to delete) - remote clip files (s3://...) are fetched first."""
    if "://" not in path or path.startswith("file://"):
        return path.removeprefix("file://"), None
    import fsspec

    tmp = tempfile.mkdtemp(prefix="curate-train-")
    local = os.path.join(tmp, os.path.basename(path))
    try:
        with fsspec.open(path, "rb") as src, open(local, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    except Exception as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise SkipClip("fetch_error", str(exc)) from None
    return local, tmp


def decode_clip(path: str, bucket: Bucket, fps: float, num_frames: int | None = None, threads: int = 1) -> np.ndarray:
    """Decode ``bucket.frames`` frames of ``path`` at ``fps`` -> (T, H, W, 3) uint8 RGB.

    Only the sampled frames are converted (swscale resizes to cover the bucket size in the same
    pass), then centre-cropped. Raises :class:`SkipClip` with a reason code on any failure.
    """
    import av

    from curate.media import display_quarter_turns, open_video, upright
    from curate.stage import StageError

    local, tmp = _local_copy(path)
    try:
        with open_video(local, threads) as (c, vs):
            src_fps = float(vs.average_rate or vs.guessed_rate or vs.base_rate or 0) or 25.0
            w0, h0 = vs.codec_context.width, vs.codec_context.height
            n = num_frames or int(vs.frames or 0)
            if not n and vs.duration is not None and vs.time_base is not None:
                n = int(round(float(vs.duration * vs.time_base) * src_fps))
            if not n:
                raise SkipClip("decode_error", "unknown frame count")
            idx = wanted_indices(n, src_fps, bucket.frames, fps)
            need: Counter[int] = Counter(idx)
            last = max(idx)
            turns = None  # display rotation (quarter turns), read from the first decoded frame
            out: list[np.ndarray] = []
            i = -1
            try:
                for i, frame in enumerate(c.decode(vs)):
                    if turns is None:  # geometry in DISPLAYED dims (a stream-copied phone clip is stored sideways)
                        turns = display_quarter_turns(frame)
                        dw, dh = (h0, w0) if turns % 2 else (w0, h0)
                        scale = max(bucket.width / dw, bucket.height / dh)
                        sw, sh = max(bucket.width, int(round(dw * scale))), max(bucket.height, int(round(dh * scale)))
                        x0, y0 = (sw - bucket.width) // 2, (sh - bucket.height) // 2
                    if i in need:
                        cw, ch = (sh, sw) if turns % 2 else (sw, sh)  # the coded picture's scaled size
                        img = frame.to_ndarray(format="rgb24", width=cw, height=ch, interpolation="BILINEAR")
                        img = np.ascontiguousarray(upright(img, turns)[y0:y0 + bucket.height, x0:x0 + bucket.width])
                        out.extend([img] * need[i])
                    if i >= last:
                        break
            except av.error.FFmpegError as exc:
                raise SkipClip("decode_error" if not out else "truncated", str(exc)) from None
    except StageError as exc:
        raise SkipClip(exc.reason, exc.detail) from None
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    if not out:
        raise SkipClip("decode_error", "no frame could be decoded")
    missing = bucket.frames - len(out)
    if missing > 2:  # metadata promised more frames than the file holds
        raise SkipClip("truncated", f"{len(out)} of {bucket.frames} frames decoded (stream ended at frame {i})")
    out.extend([out[-1]] * missing)  # <= 2 frames of container/metadata rounding
    return np.stack(out)


def decode_batch(batch: pa.Table, spec: BucketSpec, threads: int = 1) -> pa.Table:
    """Ray Data ``map_batches`` function: selection rows -> decoded (or skipped) rows."""
    rows: dict[str, list[Any]] = {f.name: [] for f in DECODED_SCHEMA}
    for r in batch.to_pylist():
        bucket = spec.assign(r["width"] or 0, r["height"] or 0, r["duration_s"] or 0.0, r["fps"] or 0.0)
        frames, skip = b"", None
        if bucket is None:
            skip = "too_short"
        else:
            try:
                frames = decode_clip(r["path"], bucket, spec.fps, r.get("num_frames"), threads).tobytes()
            except SkipClip as exc:
                skip = exc.reason
                log.warning("train feed: skipping clip %s (%s): %s", r["clip_id"], exc.reason, exc)
            except Exception as exc:  # never let one clip kill the feed
                skip = "other"
                log.warning("train feed: skipping clip %s (unexpected %s: %s)", r["clip_id"], type(exc).__name__, exc)
        rows["clip_id"].append(r["clip_id"])
        rows["bucket"].append(bucket.key if bucket else None)
        rows["text"].append(r.get("text") or "")
        rows["frames"].append(frames)
        rows["t"].append(bucket.frames if bucket else 0)
        rows["h"].append(bucket.height if bucket else 0)
        rows["w"].append(bucket.width if bucket else 0)
        rows["skip"].append(skip)
    return pa.Table.from_pydict(rows, schema=DECODED_SCHEMA)


# -- worker-side bucketing -------------------------------------------------------------------------
@dataclass
class Batch:
    """One shape-homogeneous batch: ``frames`` is (B, T, H, W, 3) uint8."""

    bucket: str
    frames: np.ndarray
    texts: list[str]
    clip_ids: list[str]


@dataclass
class BucketBatcher:
    """Streaming per-bucket accumulator: rows in, shape-homogeneous batches out."""

    batch_size: int
    drop_last: bool = False
    skipped: Counter = field(default_factory=Counter)
    decoded: int = 0
    _buf: dict[str, list[tuple[np.ndarray, str, str]]] = field(default_factory=dict)

    def add(self, table: pa.Table) -> Iterator[Batch]:
        cols = {c: table.column(c).to_pylist() for c in ("clip_id", "bucket", "text", "t", "h", "w", "skip")}
        frames = table.column("frames")
        for i in range(table.num_rows):
            if cols["skip"][i]:
                self.skipped[cols["skip"][i]] += 1
                continue
            t, h, w = cols["t"][i], cols["h"][i], cols["w"][i]
            arr = np.frombuffer(frames[i].as_py(), dtype=np.uint8).reshape(t, h, w, 3)
            self.decoded += 1
            key = cols["bucket"][i]
            buf = self._buf.setdefault(key, [])
            buf.append((arr, cols["text"][i], cols["clip_id"][i]))
            if len(buf) >= self.batch_size:
                yield self._emit(key)

    def flush(self) -> Iterator[Batch]:
        """End of an epoch: the per-bucket remainders (unless drop_last)."""
        for key in sorted(self._buf):
            if self._buf[key] and not self.drop_last:
                yield self._emit(key)
        self._buf.clear()

    def _emit(self, key: str) -> Batch:
        items = self._buf.pop(key)
        return Batch(key, np.stack([a for a, _, _ in items]), [t for _, t, _ in items], [c for _, _, c in items])


def iter_bucketed(tables: Iterable[pa.Table], batcher: BucketBatcher) -> Iterator[Batch]:
    """One epoch: stream decoded tables through ``batcher``, then flush the remainders."""
    for table in tables:
        yield from batcher.add(table)
    yield from batcher.flush()


def shard_tables(shard: Any, cfg: TrainConfig, epoch: int = 0) -> Iterator[pa.Table]:
    """A worker's dataset shard (``ray.train.get_dataset_shard``) as Arrow tables, one epoch."""
    kwargs: dict[str, Any] = {"batch_size": cfg.decode_batch, "batch_format": "pyarrow", "prefetch_batches": 2}
    if cfg.shuffle_buffer:
        kwargs["local_shuffle_buffer_size"] = cfg.shuffle_buffer
        kwargs["local_shuffle_seed"] = cfg.seed + epoch
    yield from shard.iter_batches(**kwargs)


def iter_train_batches(shard: Any, cfg: TrainConfig, batcher: BucketBatcher) -> Iterator[tuple[int, Batch]]:
    """(epoch, batch) forever: epochs repeat until the loop stops asking."""
    epoch = 0
    while True:
        n = 0
        for batch in iter_bucketed(shard_tables(shard, cfg, epoch), batcher):
            n += 1
            yield epoch, batch
        if n == 0:
            raise RuntimeError(
                "the training feed produced no batch in a whole epoch: every clip of this worker's shard "
                f"was skipped ({dict(batcher.skipped) or 'no rows'}); check the clip files and train.select")
        epoch += 1


# -- selection ----------------------------------------------------------------------------------
@dataclass
class Selection:
    """The selected clip rows, written as Parquet files for Ray Data, plus the shard link."""

    files: list[str]
    rows: int
    shards: list[dict[str, Any]]  # [{"clips": rel path, "rows": rows in shard, "selected": n}]
    captions: dict[str, int]  # caption_source -> clips
    sql: str


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def selection_sql(con: Any, cfg: TrainConfig, clip_columns: list[str], clip_paths: list[str]) -> str:
    """The DuckDB query of the selection (exposed for docs/tests)."""
    from curate.query import _sql_list

    cond = ["c.status = 'ok'", "c.clip_path IS NOT NULL"]
    for kind, items, op in (("min_scores", cfg.select.min_scores, ">="), ("max_scores", cfg.select.max_scores, "<=")):
        for col, value in items.items():
            if col not in clip_columns:
                raise ConfigError(f"train.select.{kind}: no column {col!r} in the clips table")
            cond.append(f"c.{_ident(col)} {op} {float(value)!r}")
    if cfg.select.licences:
        from curate.licences import allowed

        present = [r[0] for r in con.execute("SELECT DISTINCT licence FROM videos WHERE licence IS NOT NULL").fetchall()]
        ok = [lic for lic in present if allowed(lic, cfg.select.licences)]
        cond.append(f"v.licence IN ({', '.join(_lit(x) for x in ok)})" if ok else "FALSE")
    if cfg.select.topics:
        names = ", ".join(_lit(t) for t in cfg.select.topics)
        cond.append(f"(c.topic_name IN ({names}) OR CAST(c.topic_id AS VARCHAR) IN ({names}))")
    if cfg.select.exclude_duplicates:
        cond.append("c.clip_id NOT IN (SELECT clip_id FROM duplicates)")
    if cfg.select.exclude_rejected:
        cond.append("c.clip_id NOT IN (SELECT clip_id FROM labels WHERE label = 'reject')")
    for col in cfg.caption_fields:
        if col not in clip_columns:
            raise ConfigError(f"train.caption_fields: no column {col!r} in the clips table")
    texts = [f"NULLIF(trim(c.{_ident(col)}), '')" for col in cfg.caption_fields]
    text = f"COALESCE({', '.join(texts + [_lit(cfg.fallback_caption)])})"
    source = "CASE " + " ".join(f"WHEN {t} IS NOT NULL THEN {_lit(col)}" for t, col in zip(texts, cfg.caption_fields)) \
        + " ELSE 'fallback' END" if texts else "'fallback'"
    inner = (f"SELECT c.*, v.licence AS licence, c.filename AS _shard "
             f"FROM read_parquet({_sql_list(clip_paths)}, union_by_name=true, filename=true) c "
             f"LEFT JOIN videos v ON c.video_id = v.video_id WHERE {' AND '.join(cond)}")
    where = f"WHERE ({cfg.select.where})" if cfg.select.where else ""
    limit = f"LIMIT {cfg.select.max_clips}" if cfg.select.max_clips else ""
    # the user's WHERE sees plain column names (clips columns + licence) through the subquery
    return (f"SELECT clip_id, video_id, clip_path, width, height, fps, num_frames, duration_s, "
            f"text, caption_source, _shard AS shard FROM ("
            f"SELECT *, {text} AS text, {source} AS caption_source FROM ({inner}) c) "
            f"{where} ORDER BY clip_id {limit}")


def select_clips(output_dir: str, cfg: TrainConfig, dest: str) -> Selection:
    """Run the selection over the committed shards of ``output_dir``; write it under ``dest``.

    Raises :class:`ConfigError` for a bad ``where`` clause, an unknown column or an empty
    selection, with the number of candidate clips so the user knows what to loosen.
    """
    import duckdb
    import pyarrow.parquet as pq

    from curate.query import connect
    from curate.schemas import CLIPS
    from curate.shards import read_manifest
    from curate.storage import Output

    out = Output(output_dir)
    manifest = read_manifest(out)
    shards = [s for s in manifest["shards"] if s.get("clips")]
    if not shards:
        raise ConfigError(f"no clip shards in {output_dir} (manifest.json lists none); run `curate run` first")
    paths = [out.path(s["clips"]) for s in shards]  # full URLs for a remote output
    con = connect(output_dir)
    try:
        clip_columns = [f.name for f in CLIPS]
        sql = selection_sql(con, cfg, clip_columns, paths)
        try:
            reader = con.sql(sql).to_arrow_reader(ROWS_PER_SELECTION_FILE)
        except duckdb.Error as exc:
            where = f" (train.select.where = {cfg.select.where!r})" if cfg.select.where else ""
            raise ConfigError(f"train selection query failed{where}: {exc}") from None
        if os.path.isdir(dest):
            shutil.rmtree(dest)
        os.makedirs(dest, exist_ok=True)
        files: list[str] = []
        rows = 0
        per_shard: Counter[str] = Counter()
        captions: Counter[str] = Counter()
        for rb in reader:
            if rb.num_rows == 0:
                continue
            t = pa.Table.from_batches([rb])
            paths_col = [out.path(p) for p in t.column("clip_path").to_pylist()]
            t = t.append_column("path", pa.array(paths_col, pa.string())).drop_columns(["clip_path"])
            t = t.select(SELECTION_COLUMNS)
            per_shard.update(t.column("shard").to_pylist())
            captions.update(t.column("caption_source").to_pylist())
            f = os.path.join(dest, f"part-{len(files):05d}.parquet")
            pq.write_table(t, f)
            files.append(f)
            rows += t.num_rows
        if rows == 0:
            total = con.execute("SELECT count(*) FROM clips WHERE status = 'ok' AND clip_path IS NOT NULL").fetchone()[0]
            raise ConfigError(
                f"train.select matched no clips in {output_dir} ({total} ok clips with a clip file are there); "
                f"loosen train.select (where={cfg.select.where!r}, min_scores={cfg.select.min_scores}, "
                f"max_scores={cfg.select.max_scores}, licences={cfg.select.licences}, topics={cfg.select.topics})")
    finally:
        con.close()
    link = []
    for s, p in zip(shards, paths):
        link.append({"clips": s["clips"], "rows": s["rows"]["clips"], "selected": per_shard.get(p, 0)})
    return Selection(files, rows, link, dict(captions), sql)


def build_dataset(selection: Selection, cfg: TrainConfig):
    """The streaming Ray Dataset of decoded clips (nothing is materialised)."""
    import ray

    spec = BucketSpec.from_config(cfg)
    ds = ray.data.read_parquet(selection.files)
    # The Parquet reader packs many small files into one block; one decode task per block
    # would then decode everything before the first batch leaves. Streaming repartition
    # (no shuffle, no barrier) makes blocks of decode_batch rows: one decode task each, so
    # decoded clips stream out task by task and tasks spread over the cluster's CPUs.
    try:
        ds = ds.repartition(target_num_rows_per_block=cfg.decode_batch)
    except TypeError:  # Ray < 2.44: no streaming repartition; one block per file
        ds = ray.data.read_parquet(selection.files, override_num_blocks=len(selection.files))
    return ds.map_batches(decode_batch, fn_kwargs={"spec": spec, "threads": cfg.decode_threads},
                          batch_size=cfg.decode_batch, batch_format="pyarrow", num_cpus=cfg.decode_cpus)
