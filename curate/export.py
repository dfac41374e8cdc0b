"""``curate export``: hand a selection of the dataset on as WebDataset tars or a Hugging Face dataset.

The selection is the training selection: :func:`curate.train.feed.select_clips` with the config's
``train.select`` (status ``ok`` with a clip file, licences, thresholds, topics, near-duplicates
and clips labelled ``reject`` out) and ``--where`` ANDed to ``train.select.where``. So what is
exported is exactly what ``curate train`` would read.

Formats (``DEST`` is a local folder or a remote URL; shards are written under temporary names
and renamed, ``export.json`` last, so a reader that trusts ``export.json`` never sees a
partial shard):

- ``webdataset``: ``shard-000000.tar`` ... of about ``shard_mb`` each; per sample ``<clip_id>.mp4``
  (the clip file as-is), ``<clip_id>.json`` (the clip row: scores, captions, topic, timing, plus the
  video's licence and attribution) and ``<clip_id>.txt`` (the training caption). The layout
  video2dataset / OpenSora-style loaders read.
- ``hf``: ``data/train-00000.parquet`` ... with a ``video`` column of the ``datasets.Video()``
  feature (the mp4 bytes embedded, so the folder is self-contained and the Hub viewer plays it)
  and the same row columns; ``README.md`` is a dataset card whose YAML points at ``data/``.

Both also get ``ATTRIBUTION.csv`` / ``ATTRIBUTION.md`` for the exported videos only, and every
sample row carries ``licence``, ``licence_url``, ``author``, ``author_url``, ``source_url`` and
``title``: attribution travels with each sample, not just with the folder.

Vector columns (embeddings: lists of floats) are left out of the rows; they stay in the shards.
A clip whose file cannot be read is skipped and listed in ``export.json`` (``skipped``).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import math
import os
import tarfile
import tempfile
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from curate.config import ConfigError, TrainConfig
from curate.storage import Output

log = logging.getLogger("curate")

FORMATS = ("webdataset", "hf")
EXPORT_MANIFEST = "export.json"
ATTRIBUTION_COLUMNS = ("title", "author", "author_url", "source_url", "licence", "licence_url")
# columns that are plumbing (paths inside the output), not data for whoever receives the export
_DROP = {"clip_path", "thumbnail_path", "shard", "path", "source", "_shard"}

ROW_SQL = """
SELECT c.*, s.text, s.caption_source,
       coalesce(v.title, regexp_replace(v.source, '^.*/', '')) AS title,
       coalesce(v.uploader, v.channel) AS author,
       coalesce(v.uploader_url, v.channel_url) AS author_url,
       coalesce(v.webpage_url, v.source) AS source_url,
       v.licence AS licence, v.licence_raw AS licence_raw, v.platform AS platform, v.upload_date AS upload_date
FROM _sel s JOIN clips c USING (clip_id) LEFT JOIN videos v ON v.video_id = c.video_id
ORDER BY c.clip_id
"""


@dataclass
class ExportResult:
    format: str
    dest: str
    shards: list[dict[str, Any]]
    samples: int
    bytes: int
    videos: int
    skipped: dict[str, str] = field(default_factory=dict)
    sql: str = ""


def _is_vector(t: pa.DataType) -> bool:
    return (pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)) and \
        pa.types.is_floating(t.value_type)


def _jsonable(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, (dt.datetime, dt.date, dt.time)):
        return v.isoformat()
    if isinstance(v, dt.timedelta):
        return v.total_seconds()
    if isinstance(v, bytes):
        return None
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def _read_clip(out: Output, rel: str) -> bytes:
    with out.fs.open(out.path(rel), "rb") as f:
        return f.read()


class _Sink:
    """Writes one shard file under a tmp name (a local temp file, uploaded/renamed when closed)."""

    def __init__(self, dest: Output, rel: str) -> None:
        self.dest, self.rel = dest, rel
        fd, self.local = tempfile.mkstemp(prefix=".curate-export-", suffix=os.path.splitext(rel)[1],
                                          dir=dest.path("") if dest.local else None)
        os.close(fd)

    def commit(self) -> None:
        self.dest.put_file(self.local, self.rel)  # rename (local) or upload + rename (remote)

    def abort(self) -> None:
        if os.path.exists(self.local):
            os.remove(self.local)


class _WebDatasetWriter:
    def __init__(self, dest: Output) -> None:
        self.dest = dest

    def name(self, i: int) -> str:
        return f"shard-{i:06d}.tar"

    def open(self, i: int) -> None:
        self.sink = _Sink(self.dest, self.name(i))
        self.tar = tarfile.open(self.sink.local, "w", format=tarfile.USTAR_FORMAT)

    def _add(self, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = len(data), 0, 0o444  # deterministic: same selection -> same bytes
        info.uname = info.gname = "curate"
        self.tar.addfile(info, io.BytesIO(data))

    def add(self, key: str, mp4: bytes, row: dict[str, Any]) -> None:
        self._add(f"{key}.mp4", mp4)
        self._add(f"{key}.json", json.dumps(row, ensure_ascii=False, sort_keys=True).encode())
        self._add(f"{key}.txt", (row.get("text") or "").encode())

    def close(self) -> None:
        self.tar.close()
        self.sink.commit()

    def abort(self) -> None:
        self.tar.close()
        self.sink.abort()


class _HFWriter:
    """Parquet shards with a ``video`` struct<bytes, path> column and the datasets feature metadata."""

    def __init__(self, dest: Output, schema: pa.Schema) -> None:
        self.dest = dest
        self.schema = pa.schema([pa.field("video", pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
                                 *schema])
        self.schema = self.schema.with_metadata({"huggingface": json.dumps({"info": {"features": _hf_features(self.schema)}})})

    def name(self, i: int) -> str:
        return f"data/train-{i:05d}.parquet"

    def open(self, i: int) -> None:
        self.dest.makedirs("data")
        self.sink = _Sink(self.dest, self.name(i))
        self.writer = pq.ParquetWriter(self.sink.local, self.schema, compression="zstd")
        self.rows: list[dict[str, Any]] = []

    def add(self, key: str, mp4: bytes, row: dict[str, Any]) -> None:
        self.rows.append({"video": {"bytes": mp4, "path": f"{key}.mp4"}, **row})
        if len(self.rows) >= 64:
            self._flush()

    def _flush(self) -> None:
        if self.rows:  # small row groups: the viewer and streaming readers fetch one group at a time
            self.writer.write_table(pa.Table.from_pylist(self.rows, schema=self.schema))
            self.rows = []

    def close(self) -> None:
        self._flush()
        self.writer.close()
        self.sink.commit()

    def abort(self) -> None:
        self.writer.close()
        self.sink.abort()


def _hf_features(schema: pa.Schema) -> dict[str, Any]:
    """The ``datasets`` Features dict of the HF export: ``video`` is ``Video``, the rest from Arrow."""
    try:
        from datasets import Features, Video

        feats = Features.from_arrow_schema(schema.remove(schema.get_field_index("video")))
        return {"video": Video().to_dict() if hasattr(Video(), "to_dict") else {"_type": "Video"},
                **feats.to_dict()}
    except ImportError:  # datasets not installed: the Video type alone is enough for the reader
        return {"video": {"_type": "Video"}}


def _selection_cfg(cfg: TrainConfig, where: str | None, accepted_only: bool) -> TrainConfig:
    cfg = cfg.model_copy(deep=True)
    conds = [c for c in (cfg.select.where, where) if c]
    if accepted_only:
        conds.append("clip_id IN (SELECT clip_id FROM labels WHERE label = 'accept')")
    cfg.select.where = " AND ".join(f"({c})" for c in conds) or None
    return cfg


def export(output_dir: str, dest: str, fmt: str, cfg: TrainConfig | None = None, where: str | None = None,
           shard_mb: float = 500.0, accepted_only: bool = False, name: str | None = None) -> ExportResult:
    """Export the training selection of ``output_dir`` (plus ``where``) to ``dest`` as ``fmt``."""
    from curate.attribution import render_csv, render_markdown
    from curate.licences import deed_url
    from curate.query import connect
    from curate.train.feed import select_clips

    if fmt not in FORMATS:
        raise ConfigError(f"export format must be one of {FORMATS}, not {fmt!r}")
    if shard_mb <= 0:
        raise ConfigError("shard size must be > 0 MB")
    cfg = _selection_cfg(cfg or TrainConfig(), where, accepted_only)
    src = Output(output_dir)
    out = Output(dest)
    if out.local and os.path.abspath(dest) == src.path(""):
        raise ConfigError("export DEST must not be the output folder itself")
    out.makedirs("")
    limit = int(shard_mb * 1024 * 1024)
    with tempfile.TemporaryDirectory(prefix="curate-export-sel-") as tmp:
        sel = select_clips(output_dir, cfg, os.path.join(tmp, "sel"))  # raises ConfigError when empty
        con = connect(output_dir)
        try:
            import pyarrow.dataset as ds

            con.register("_sel", ds.dataset(sel.files, format="parquet"))
            reader = con.sql(ROW_SQL).to_arrow_reader(64)
            keep = [f for f in reader.schema if f.name not in _DROP and not _is_vector(f.type)]
            keep.append(pa.field("licence_url", pa.string()))
            row_schema = pa.schema(keep)
            writer = _WebDatasetWriter(out) if fmt == "webdataset" else _HFWriter(out, row_schema)
            shards: list[dict[str, Any]] = []
            skipped: dict[str, str] = {}
            videos: dict[str, dict[str, Any]] = {}
            total_bytes = 0
            cur: dict[str, Any] | None = None
            try:
                for rb in reader:
                    for r in rb.to_pylist():
                        try:
                            mp4 = _read_clip(src, r["clip_path"])
                        except Exception as exc:  # missing / unreadable clip file: skip, say why
                            skipped[r["clip_id"]] = f"{type(exc).__name__}: {exc}"[:300]
                            continue
                        if cur is not None and cur["bytes"] + len(mp4) > limit and cur["samples"]:
                            writer.close()
                            shards.append(cur)
                            cur = None
                        if cur is None:
                            cur = {"path": writer.name(len(shards)), "samples": 0, "bytes": 0}
                            writer.open(len(shards))
                        r["licence_url"] = deed_url(r.get("licence"))
                        row = {f.name: _jsonable(r.get(f.name)) for f in row_schema} if fmt == "webdataset" else \
                            {f.name: r.get(f.name) for f in row_schema}
                        writer.add(r["clip_id"], mp4, row)
                        cur["samples"] += 1
                        cur["bytes"] += len(mp4)
                        total_bytes += len(mp4)
                        v = videos.setdefault(r["video_id"], {**{k: r.get(k) for k in ATTRIBUTION_COLUMNS},
                                                              "video_id": r["video_id"], "clips": 0,
                                                              "platform": r.get("platform"),
                                                              "licence_raw": r.get("licence_raw"),
                                                              "upload_date": r.get("upload_date")})
                        v["clips"] += 1
                if cur is not None:
                    writer.close()
                    shards.append(cur)
            except BaseException:
                if cur is not None:
                    writer.abort()
                raise
        finally:
            con.close()
    if not shards:
        raise ConfigError(f"no clip of the selection could be read ({len(skipped)} skipped, e.g. "
                          f"{next(iter(skipped.values()), '')})")
    att = sorted(videos.values(), key=lambda v: (v["author"] or "", v["title"] or "", v["video_id"]))
    for v in att:
        v["licence"] = v["licence"] or "unknown"
        v["upload_date"] = str(v["upload_date"]) if v["upload_date"] else None
    out.write_bytes("ATTRIBUTION.csv", render_csv(att).encode())
    out.write_bytes("ATTRIBUTION.md", render_markdown(att, name or os.path.basename(output_dir.rstrip("/"))).encode())
    if fmt == "hf":
        out.write_bytes("README.md", _hf_card(name or os.path.basename(output_dir.rstrip("/")), att, sum(s["samples"] for s in shards)).encode())
    old = json.loads(out.read_bytes(EXPORT_MANIFEST)) if out.exists(EXPORT_MANIFEST) else {}
    result = ExportResult(fmt, out.path(""), shards, sum(s["samples"] for s in shards), total_bytes, len(att),
                          skipped, sel.sql)
    manifest = {"format": f"curate-export-{fmt}", "source": src.path(""), "where": cfg.select.where,
                "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "samples": result.samples, "bytes": total_bytes, "videos": len(att), "shards": shards,
                "skipped": skipped, "selection_sql": sel.sql}
    out.write_bytes(EXPORT_MANIFEST, json.dumps(manifest, indent=2).encode())  # the commit point
    new = {s["path"] for s in shards}
    for s in old.get("shards", []):  # shards of an earlier, larger export into the same folder
        if s["path"] not in new:
            out.remove(s["path"])
    return result


def _hf_card(name: str, att: list[dict[str, Any]], samples: int) -> str:
    licences = sorted({v["licence"] for v in att})
    lic = licences[0].lower() if len(licences) == 1 and licences[0] != "unknown" else "other"
    return (f"---\nlicense: {lic}\ntask_categories:\n- text-to-video\nconfigs:\n- config_name: default\n"
            f"  data_files:\n  - split: train\n    path: data/train-*.parquet\n---\n\n# {name}\n\n"
            f"{samples} video clips exported by `curate export --format hf`. The `video` column is a "
            f"`datasets.Video()` feature (mp4 bytes embedded); `text` is the training caption; every row "
            f"carries its source's `licence`, `licence_url`, `author`, `author_url`, `source_url` and `title`.\n\n"
            f"Licences: {', '.join(licences)}. Per-video attribution: [ATTRIBUTION.md](ATTRIBUTION.md).\n")
