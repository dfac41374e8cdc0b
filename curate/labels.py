"""The curator's labels: accept / reject / tags per clip, in a sidecar Parquet table.

``<output>/labels/labels.parquet`` holds one row per labelled clip (schema: ``schemas/labels.py``).
It lives outside the shard ledger, so labelling never rewrites a shard and a pipeline re-run
never loses a label. Every change rewrites the (small) file under a temporary name and renames
it, so a reader (DuckDB view ``labels``, the training selection, ``curate export``) never sees a
half-written table. One writer per output: ``curate serve`` serialises its writes with a lock.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import threading
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from curate.schemas.labels import LABEL_VALUES, LABELS
from curate.storage import Output

LABELS_PATH = "labels/labels.parquet"
_TAG_RE = re.compile(r"[^a-z0-9_:-]+")
_lock = threading.Lock()


def normalise_tags(tags: Any) -> list[str]:
    """Lower case, ``[a-z0-9_:-]`` (other runs become '-'), unique, sorted; empty tags dropped."""
    if tags is None:
        return []
    if isinstance(tags, str):
        tags = tags.split(",")
    out = {_TAG_RE.sub("-", str(t).strip().lower()).strip("-") for t in tags}
    return sorted(t for t in out if t)


def read_labels(output_dir: str) -> dict[str, dict[str, Any]]:
    """clip_id -> label row (empty when nothing was labelled yet)."""
    out = Output(output_dir)
    if not out.exists(LABELS_PATH):
        return {}
    t = pq.read_table(io.BytesIO(out.read_bytes(LABELS_PATH)))
    return {r["clip_id"]: r for r in t.to_pylist()}


def _write(out: Output, rows: dict[str, dict[str, Any]]) -> None:
    t = pa.Table.from_pylist(sorted(rows.values(), key=lambda r: r["clip_id"]), schema=LABELS)
    buf = io.BytesIO()
    pq.write_table(t, buf, compression="zstd")
    out.write_bytes(LABELS_PATH, buf.getvalue())  # tmp name + rename


def set_labels(output_dir: str, clip_ids: list[str], label: str | None = "", tags_add: Any = None,
               tags_remove: Any = None, note: str | None = None) -> list[dict[str, Any]]:
    """Update the labels of ``clip_ids``; return their new rows.

    ``label``: ``accept`` / ``reject`` set it, ``None`` clears it, ``""`` leaves it as it is.
    ``tags_add`` / ``tags_remove``: tags to add / remove. ``note``: replaces the note when not None.
    A clip whose row ends with no label, no tags and no note is removed from the table.
    """
    if label not in ("", None, *LABEL_VALUES):
        raise ValueError(f"label must be one of {LABEL_VALUES} or null, not {label!r}")
    add, remove = normalise_tags(tags_add), set(normalise_tags(tags_remove))
    now = dt.datetime.now(dt.timezone.utc)
    out = Output(output_dir)
    with _lock:
        rows = read_labels(output_dir)
        changed = []
        for cid in clip_ids:
            r = rows.get(cid) or {"clip_id": cid, "label": None, "tags": [], "note": None}
            if label != "":
                r["label"] = label
            r["tags"] = sorted((set(r.get("tags") or []) | set(add)) - remove)
            if note is not None:
                r["note"] = note.strip() or None
            r["updated_at"] = now
            if r["label"] is None and not r["tags"] and not r["note"]:
                rows.pop(cid, None)
            else:
                rows[cid] = r
            changed.append(r)
        _write(out, rows)
    return changed


def empty_table() -> pa.Table:
    return LABELS.empty_table()
