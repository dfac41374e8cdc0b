"""topics: assign every ok clip a user-focused topic.

Reads: clip rows' caption columns (``topics.assign.caption_columns``, e.g. ``caption_brief``
/ ``caption_detailed``; absent columns are fine) and ``query_topic_id`` (copied from the
video that a topic's search found). Adds: ``topic_id``, ``topic_name``, ``topic_similarity``,
``topic_method`` (see ``schemas/topics.py``). Needs: the fitted ``topics.parquet`` in
``topics.dir``; 1 CPU (or a GPU via ``topics.embed.device``); the embedding model is loaded
once per actor, and only when a batch holds a caption.

Method per clip: ``caption`` when it has a caption whose nearest topic centroid has cosine
similarity >= ``assign.min_similarity``; else ``query`` when the video was found by a topic
query; else ``none`` (topic columns null).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import pyarrow as pa

from curate.config import ConfigError, TopicsConfig
from curate.schemas.topics import TOPIC_CLIP_FIELDS
from curate.stage import Resources, RunContext, Stage, rows_to_table, share_stage_seconds
from curate.storage import Output
from curate.topics.embed import Embedder, load_embedder
from curate.topics.fit import load_topics

log = logging.getLogger("curate")


class Topics:
    """Centroids + names of a fitted topics table, and nearest-topic lookup."""

    def __init__(self, table: pa.Table) -> None:
        self.ids = np.asarray(table.column("topic_id").to_pylist(), dtype=np.int32)
        self.names = dict(zip(self.ids.tolist(), table.column("name").to_pylist()))
        cents = np.asarray(table.column("centroid").to_pylist(), dtype=np.float32)
        self.centroids = cents / np.maximum(np.linalg.norm(cents, axis=1, keepdims=True), 1e-12)

    def nearest(self, emb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(topic ids, cosine similarities) of the nearest centroid to each normalised row."""
        if len(emb) == 0:
            return np.zeros(0, np.int32), np.zeros(0, np.float32)
        sims = emb @ self.centroids.T
        best = sims.argmax(1)
        return self.ids[best], sims[np.arange(len(emb)), best].astype(np.float32)


def assign_rows(rows: list[dict[str, Any]], topics: Topics, embed: Any, caption_columns: list[str],
                min_similarity: float = 0.0) -> None:
    """Fill the topic columns of eligible clip rows in place (``embed(texts) -> (n, d)`` array)."""
    todo: list[tuple[int, str]] = []
    for i, r in enumerate(rows):
        if r.get("record") != "clip" or r.get("status") != "ok":
            continue
        r.update(topic_id=None, topic_name=None, topic_similarity=None, topic_method="none")
        text = next((str(r[c]).strip() for c in caption_columns if r.get(c) and str(r[c]).strip()), None)
        if text:
            todo.append((i, text))
        elif r.get("query_topic_id") is not None:
            _by_query(r, topics)
    if not todo:
        return
    ids, sims = topics.nearest(np.asarray(embed([t for _, t in todo]), dtype=np.float32))
    for (i, _), tid, sim in zip(todo, ids.tolist(), sims.tolist()):
        r = rows[i]
        if sim >= min_similarity:
            r.update(topic_id=int(tid), topic_name=topics.names[int(tid)], topic_similarity=float(sim),
                     topic_method="caption")
        elif r.get("query_topic_id") is not None:
            _by_query(r, topics)


def _by_query(r: dict[str, Any], topics: Topics) -> None:
    tid = int(r["query_topic_id"])
    if tid in topics.names:
        r.update(topic_id=tid, topic_name=topics.names[tid], topic_similarity=None, topic_method="query")


class AssignTopics(Stage):
    """Clip stage: nearest topic of the caption embedding, else the topic whose query found the video."""

    name = "topics"
    level = "clip"
    requires = ("record", "status")
    adds = tuple(TOPIC_CLIP_FIELDS)

    def __init__(self, cfg: TopicsConfig, ctx: RunContext, embedder: Embedder | None = None) -> None:
        self.cfg = cfg
        self.ctx = ctx
        self.topics = Topics(load_topics(cfg.dir))
        self._embedder = embedder

    @classmethod
    def resources(cls, cfg: TopicsConfig, ray_cfg: Any) -> Resources:
        if not Output(cfg.dir).exists("topics.parquet"):  # plan time: fail before any data flows
            raise ConfigError(f"topics.assign.enabled but no topics.parquet in {cfg.dir}; run `curate topics fit` "
                              "first or set topics.dir")
        gpu = 0.25 if cfg.embed.device.startswith("cuda") else 0.0
        return Resources(num_cpus=1.0, num_gpus=gpu, batch_size=cfg.assign.batch_size, concurrency=1, actor=True)

    def _embed(self, texts: list[str]) -> np.ndarray:
        if self._embedder is None:
            self._embedder = load_embedder(self.cfg.embed)  # once per actor, only when captions exist
        return self._embedder.encode(texts)

    def __call__(self, batch: pa.Table) -> pa.Table:
        t0 = time.perf_counter()
        rows = batch.to_pylist()
        assign_rows(rows, self.topics, self._embed, self.cfg.assign.caption_columns, self.cfg.assign.min_similarity)
        share_stage_seconds(rows, self.name, self.level, time.perf_counter() - t0)
        return rows_to_table(rows, batch.schema, self.adds)
