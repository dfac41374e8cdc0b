"""``curate topics assign OUT``: give clips already in the shards their topic columns.

The ``topics`` stage assigns topics while a run streams; clips committed before ``topics fit``
(or with another fit) have none. This pass rewrites each committed clip shard with
``topic_id``, ``topic_name``, ``topic_similarity``, ``topic_method`` filled by the same rule as
the stage (:func:`curate.stages.topics.assign_rows`: nearest topic of the caption embedding,
else the topic whose query found the video, else none).

Atomic and resumable, one shard at a time:

1. the clips shard is read, assigned, and written as ``clips/part-NNNNN-topics<stamp>.parquet``
   under a temporary name, then renamed;
2. the manifest entry is switched to the new file (``manifest.json`` tmp + rename: the commit);
3. the old file is deleted.

A kill at any step leaves either the old or the new file listed, never both (an unlisted file
is removed by the next writer as an orphan). Each rewritten shard carries the fit's
fingerprint in its Parquet metadata (``curate.topics_fit``), so a re-run skips shards already
assigned with this fit and these settings; ``--force`` redoes them. The output lock is held
throughout, so no ``curate run`` writes meanwhile.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from curate.storage import Output

log = logging.getLogger("curate")

FIT_KEY = b"curate.topics_fit"


@dataclass
class AssignResult:
    shards: int = 0
    rewritten: int = 0
    skipped: int = 0  # already assigned with this fit
    clips: int = 0  # ok clips looked at in rewritten shards
    methods: dict[str, int] = field(default_factory=dict)  # caption / query / none -> clips


def fit_fingerprint(topics: pa.Table, caption_columns: list[str], min_similarity: float, model: str) -> str:
    """Changes when the fitted topics or the assignment settings change."""
    h = hashlib.sha256()
    for col in ("topic_id", "name", "centroid"):
        h.update(json.dumps(topics.column(col).to_pylist(), default=str).encode())
    h.update(json.dumps([caption_columns, float(min_similarity), model]).encode())
    return h.hexdigest()[:16]


def assign_output(output_dir: str, cfg: Any, embedder: Any = None, force: bool = False,
                  lock_wait_s: float = 0.0) -> AssignResult:
    """Assign topics to every ok clip of the committed shards of ``output_dir`` (``cfg``: TopicsConfig)."""
    from curate.lock import output_lock
    from curate.schemas.topics import TOPIC_CLIP_FIELDS
    from curate.shards import read_manifest, write_manifest
    from curate.stages.topics import Topics, assign_rows
    from curate.topics.embed import load_embedder
    from curate.topics.fit import load_topics

    table = load_topics(cfg.dir)  # FileNotFoundError -> the CLI says to run `topics fit`
    topics = Topics(table)
    fp = fit_fingerprint(table, list(cfg.assign.caption_columns), cfg.assign.min_similarity,
                         getattr(cfg.embed, "model", ""))
    state: dict[str, Any] = {"embedder": embedder}

    def embed(texts: list[str]):
        if state["embedder"] is None:
            state["embedder"] = load_embedder(cfg.embed)  # only when a shard has captions to embed
        return state["embedder"].encode(texts)

    out = Output(output_dir)
    stamp = "topics" + dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    res = AssignResult()
    with output_lock(out, stamp, wait_s=lock_wait_s):
        manifest = read_manifest(out)
        res.shards = sum(1 for s in manifest["shards"] if s.get("clips"))
        for i, s in enumerate(list(manifest["shards"])):
            rel = s.get("clips")
            if not rel:
                continue
            with out.fs.open(out.path(rel), "rb") as f:
                meta = pq.read_schema(f).metadata or {}
            if not force and meta.get(FIT_KEY, b"").decode() == fp:
                res.skipped += 1
                continue
            t = pq.read_table(io.BytesIO(out.read_bytes(rel)))
            rows = t.to_pylist()
            for r in rows:
                r["record"] = "clip"
            assign_rows(rows, topics, embed, list(cfg.assign.caption_columns), cfg.assign.min_similarity)
            for r in rows:
                r.pop("record", None)
                if r.get("status") == "ok":
                    res.clips += 1
                    res.methods[r["topic_method"]] = res.methods.get(r["topic_method"], 0) + 1
            schema = t.schema
            for f_ in TOPIC_CLIP_FIELDS:  # shards written before topics existed lack the columns
                if f_.name not in schema.names:
                    schema = schema.append(f_)
                else:
                    schema = schema.set(schema.get_field_index(f_.name), f_)
            schema = schema.with_metadata({**(schema.metadata or {}), FIT_KEY: fp.encode()})
            new_t = pa.Table.from_pylist(rows, schema=schema)
            new_rel = _new_name(rel, stamp)
            buf = io.BytesIO()
            pq.write_table(new_t, buf, compression="zstd")
            out.write_bytes(new_rel, buf.getvalue())  # tmp + rename
            manifest["shards"][i] = dict(s, clips=new_rel)
            write_manifest(out, manifest)  # the commit point of this shard
            if new_rel != rel:
                out.remove(rel)
            res.rewritten += 1
    return res


def _new_name(rel: str, stamp: str) -> str:
    """``clips/part-00003-<old run id>.parquet`` -> ``clips/part-00003-<stamp>.parquet`` (same index)."""
    from curate.shards import PART_RE

    d, name = rel.rsplit("/", 1) if "/" in rel else ("", rel)
    m = PART_RE.match(name)
    idx = m.group(1) if m else hashlib.sha1(name.encode()).hexdigest()[:8]
    new = f"part-{idx}-{stamp}.parquet"
    return f"{d}/{new}" if d else new
