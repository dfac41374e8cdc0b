"""Fields of the ``labels`` sidecar table: a curator's verdicts on clips (``curate serve``).

Stored at ``<output>/labels/labels.parquet`` (one row per labelled clip, rewritten atomically on
every change), outside the shard ledger: labelling never touches a shard. DuckDB sees it as the
view ``labels`` (``curate.query.connect``); the training selection drops clips labelled
``reject`` (``train.select.exclude_rejected``) and ``curate export`` does the same.
"""

from __future__ import annotations

import pyarrow as pa

from curate.schemas._fields import field

LABEL_FIELDS: list[pa.Field] = [
    field("clip_id", pa.string(), "The labelled clip (clips.clip_id).", nullable=False),
    field("label", pa.string(), "accept | reject | null (only tags or a note)."),
    field("tags", pa.list_(pa.string()), "Free-form tags, lower case, sorted, unique (e.g. 'watermark', 'hero-shot')."),
    field("note", pa.string(), "Free text from the curator."),
    field("updated_at", pa.timestamp("ms", tz="UTC"), "When the label was last changed."),
]

LABELS: pa.Schema = pa.schema(LABEL_FIELDS, metadata={"curate.table": "labels"})
LABEL_VALUES = ("accept", "reject")
