"""Typed, versioned Arrow schemas for every table ``curate`` writes.

Each field carries a ``description`` in its metadata (shown in ``curate schema``, the dataset
card and the README). Writers call :func:`conform` so shards never drift from the declared
schema: missing columns become nulls, extra columns are dropped, types are cast.

Bump :data:`SCHEMA_VERSION` (semver) whenever a field is added (minor) or changed (major).
"""

from __future__ import annotations

import pyarrow as pa

from curate.schemas._fields import field, schema_table
from curate.schemas.aesthetics import AESTHETIC_FIELDS
from curate.schemas.captions import CAPTION_FIELDS
from curate.schemas.clip import CLIP_FIELDS
from curate.schemas.provenance import PROVENANCE_FIELDS
from curate.schemas.scores import SCORE_FIELDS
from curate.schemas.topics import TOPIC_CLIP_FIELDS, TOPIC_VIDEO_FIELDS
from curate.schemas.video import VIDEO_FIELDS as _BASE_VIDEO_FIELDS

# 1.1: provenance (download) + scores; 1.2: captions; 1.3: aesthetics; 1.4: topics;
# 1.5: manifest.json `trainings` (train records: checkpoint -> clip shard files, row counts, selection);
#      clips.width/height are the displayed size (display rotation applied; was the coded size)
# 1.6: videos.vfr + clips.vfr (variable frame rate: clip files resampled to a constant clips.fps,
#      start_s/end_s real timestamps); videos.rotation takes ffprobe's sign (was negated)
# 1.7: videos.transitions (gradual transitions as intervals; cut_frames = hard cuts only);
#      clips.overlay_kind + ocr_regions; phash sampled 8/s with phash_t + phash_motion (older
#      hashes do not match new ones: re-analyse old outputs before dedup); duplicates.offset_s/mirrored;
#      shard files part-NNNNN-<run id>.parquet; videos without clips are `rejected` with a reason;
#      clip files and thumbnails under media/ (table folders hold only Parquet)
SCHEMA_VERSION = "1.7.0"

VIDEO_FIELDS = _BASE_VIDEO_FIELDS + PROVENANCE_FIELDS + TOPIC_VIDEO_FIELDS
CLIP_FIELDS = CLIP_FIELDS + SCORE_FIELDS + AESTHETIC_FIELDS + TOPIC_CLIP_FIELDS

VIDEOS: pa.Schema = pa.schema(VIDEO_FIELDS, metadata={"curate.schema_version": SCHEMA_VERSION, "curate.table": "videos"})
CLIPS: pa.Schema = pa.schema(CLIP_FIELDS + CAPTION_FIELDS, metadata={"curate.schema_version": SCHEMA_VERSION, "curate.table": "clips"})
TABLES: dict[str, pa.Schema] = {"videos": VIDEOS, "clips": CLIPS}

# The stream between stages carries both record kinds in one Arrow schema: a ``record``
# column says whether a row is a video or a clip; the writer splits them into two tables.
RECORD = field("record", pa.string(), "Stream-only: 'video' or 'clip' (not written to shards).")


def stream_schema() -> pa.Schema:
    """Union of the video and clip schemas plus the ``record`` discriminator."""
    fields = [RECORD]
    seen = {RECORD.name}
    for f in list(VIDEOS) + list(CLIPS):
        if f.name not in seen:
            fields.append(f)
            seen.add(f.name)
    return pa.schema(fields)


def from_rows(rows: list[dict], schema: pa.Schema) -> pa.Table:
    """Build a table of ``schema`` from dict rows (keys not in the schema are ignored)."""
    return pa.Table.from_pydict({f.name: [r.get(f.name) for r in rows] for f in schema}, schema=schema)


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Return ``table`` with exactly ``schema``'s columns, in order, cast to its types.

    Missing columns are filled with nulls; columns not in the schema are dropped.
    """
    n = table.num_rows
    cols = []
    for f in schema:
        if f.name in table.column_names:
            col = table.column(f.name)
            if not col.type.equals(f.type):
                col = col.cast(f.type)
            cols.append(col)
        else:
            cols.append(pa.nulls(n, type=f.type))
    return pa.Table.from_arrays(cols, schema=schema)


__all__ = ["SCHEMA_VERSION", "VIDEOS", "CLIPS", "TABLES", "RECORD", "stream_schema", "conform", "from_rows", "field", "schema_table"]
