"""What an output holds: score, caption, topic, licence and provenance columns, found generically.

The report, the dataset card, the notebook and the gallery never list score columns by hand:
they read the Arrow schema of the committed shards and classify its fields here, so a stage
added later (motion_score, text_area_ratio, caption_brief, topic_name, licence, ...) shows up
everywhere without edits. The rules:

* **numeric** = integer or floating fields (not bool). Positions, ids and hashes are never
  plotted (``clip_index``, ``start_frame``, ``*_id``, ``*hash*``, ...).
* **properties** = spine measurements (duration, fps, size): histograms only.
* **scores** = every other numeric field: histograms plus top/bottom contact sheets.
* **text captions** = string fields whose name contains ``caption``; **timed captions** =
  list<struct> fields whose name contains ``caption`` and whose struct has a text field.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq

from curate.schemas import TABLES
from curate.shards import read_manifest
from curate.storage import Output

# Positional / bookkeeping numbers: meaningless as a distribution.
NOT_PLOTTED = {
    "clips": {"clip_index", "shot_index", "start_frame", "end_frame", "start_s", "end_s", "num_frames"},
    "videos": {"num_frames", "width", "height", "rotation", "bit_rate", "file_size", "fps", "analysis_s"},
}
PROPERTIES = {"clips": ("duration_s", "fps", "width", "height"), "videos": ("duration_s", "num_clips")}
LICENCE_NAMES = ("licence", "license")
TOPIC_NAMES = ("topic_name", "topic_id")
# Provenance: shown in the gallery and named in the card's attribution section when present.
PROVENANCE_HINTS = ("source", "url", "uploader", "channel", "author", "title", "licen", "attribution", "creator")
TEXT_KEYS = ("text", "caption")
START_KEYS = ("start_s", "start", "t_start", "begin_s", "timestamp_s")
END_KEYS = ("end_s", "end", "t_end")


def table_schema(output_dir: str, table: str) -> pa.Schema:
    """Schema of ``table`` as written: the shards' schemas unified (declared schema when empty)."""
    out = Output(output_dir)
    manifest = read_manifest(out)
    schemas = []
    for s in manifest["shards"]:
        rel = s.get(table)
        if rel:
            with out.fs.open(out.path(rel), "rb") as f:
                schemas.append(pq.read_schema(f))
    if not schemas:
        return TABLES[table]
    if len(schemas) == 1:
        return schemas[0]
    return pa.unify_schemas(schemas, promote_options="permissive")


def _is_number(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)


def _timed_struct(t: pa.DataType) -> tuple[str, str | None, str | None] | None:
    """(text, start, end) field names when ``t`` is list<struct<text, start, end>>."""
    if not (pa.types.is_list(t) or pa.types.is_large_list(t)):
        return None
    st = t.value_type
    if not pa.types.is_struct(st):
        return None
    names = [st.field(i).name for i in range(st.num_fields)]
    text = next((n for n in TEXT_KEYS if n in names), None)
    if text is None:
        return None
    return text, next((n for n in START_KEYS if n in names), None), next((n for n in END_KEYS if n in names), None)


@dataclass
class Columns:
    """Classified columns of one table."""

    table: str
    schema: pa.Schema
    properties: list[str] = field(default_factory=list)
    scores: list[str] = field(default_factory=list)
    text_captions: list[str] = field(default_factory=list)
    timed_captions: dict[str, tuple[str, str | None, str | None]] = field(default_factory=dict)
    licence: str | None = None
    topic: str | None = None
    topic_id: str | None = None
    provenance: list[str] = field(default_factory=list)

    @property
    def numeric(self) -> list[str]:
        return self.properties + self.scores

    @property
    def names(self) -> list[str]:
        return self.schema.names


# caption bookkeeping strings that are not caption text
CAPTION_META_SUFFIXES = ("_status", "_error", "_error_detail", "_backend", "_model")


def classify(schema: pa.Schema, table: str) -> Columns:
    cols = Columns(table=table, schema=schema)
    skip = NOT_PLOTTED.get(table, set())
    for f in schema:
        name, t = f.name, f.type
        low = name.lower()
        if _is_number(t) and not pa.types.is_boolean(t):
            if name in skip or low.endswith(("_id", "_index")) or "hash" in low or low.startswith("caption_"):
                continue  # positions, ids, hashes, caption accounting (tokens, seconds)
            (cols.properties if name in PROPERTIES.get(table, ()) else cols.scores).append(name)
        elif ("caption" in low and (pa.types.is_string(t) or pa.types.is_large_string(t))
              and not low.endswith(CAPTION_META_SUFFIXES)):
            cols.text_captions.append(name)
        elif "caption" in low and _timed_struct(t):
            cols.timed_captions[name] = _timed_struct(t)  # type: ignore[assignment]
    names = set(schema.names)
    cols.licence = next((n for n in LICENCE_NAMES if n in names), None)
    if "topic_name" in names:
        cols.topic = "topic_name"
    elif "topic_id" in names:
        cols.topic = "topic_id"
    cols.topic_id = "topic_id" if "topic_id" in names else None
    cols.provenance = [
        f.name for f in schema
        if any(h in f.name.lower() for h in PROVENANCE_HINTS)
        and (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))
        and f.name not in ("source_kind",)
    ]
    # order the numeric lists as the schema does, properties in their declared order
    cols.properties.sort(key=lambda n: PROPERTIES[table].index(n) if n in PROPERTIES.get(table, ()) else 99)
    return cols


def discover(output_dir: str) -> dict[str, Columns]:
    """Classified columns of ``videos`` and ``clips`` as they exist in ``output_dir``'s shards."""
    return {t: classify(table_schema(output_dir, t), t) for t in TABLES}


def list_field(list_expr: str, field_name: str) -> str:
    """SQL for ``[x.field_name for x in list_expr]`` (DuckDB >= 1.3 lambda syntax, older arrow syntax)."""
    import duckdb

    major, minor = (int(p) for p in duckdb.__version__.split(".")[:2])
    fn = f"lambda x: x.{quote(field_name)}" if (major, minor) >= (1, 3) else f"x -> x.{quote(field_name)}"
    return f"list_transform({list_expr}, {fn})"


def quote(name: str) -> str:
    """A DuckDB identifier, safely quoted (callers still only pass names from the schema)."""
    return '"' + name.replace('"', '""') + '"'
