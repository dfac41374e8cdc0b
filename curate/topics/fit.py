"""``curate topics fit``: prompts -> embeddings -> clusters -> named topics -> Parquet.

Writes into ``out_dir``: ``topics.parquet`` (schema ``TOPICS``), ``prompt_topics.parquet``
(schema ``PROMPT_TOPICS``) and ``topics.json`` (what was fitted, with timings). Writes are
atomic (temporary name, then rename).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate.config import TopicsConfig
from curate.schemas.topics import PROMPT_TOPICS, TOPICS
from curate.storage import Output
from curate.topics.cluster import Clustering, cluster_embeddings
from curate.topics.embed import Embedder, embed_all, embed_ray, load_embedder
from curate.topics.naming import TextGenerator, ctfidf, keyword_name, llm_names, load_generator
from curate.topics.prompts import PromptSet, load_prompts

log = logging.getLogger("curate")

NAMING_DOCS_PER_TOPIC = 5000  # c-TF-IDF reads at most this many prompts per topic (bounded memory)


@dataclass
class FitResult:
    topics: pa.Table
    prompt_topics: pa.Table
    info: dict[str, Any] = field(default_factory=dict)
    embeddings: np.ndarray | None = None


def _representatives(topic: np.ndarray, sim: np.ndarray, n_topics: int, n: int) -> list[np.ndarray]:
    """Row indices of each topic's prompts, most similar to the centroid first."""
    ok = topic >= 0
    idx = np.nonzero(ok)[0]
    order = idx[np.lexsort((idx, -sim[idx], topic[idx]))]
    bounds = np.searchsorted(topic[order], np.arange(n_topics + 1))
    return [order[bounds[t]:bounds[t + 1]][:n] for t in range(n_topics)]


def _naming_docs(texts: list[str], topic: np.ndarray, n_topics: int, seed: int) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    members: list[list[int]] = [[] for _ in range(n_topics)]
    for i, t in enumerate(topic.tolist()):
        if t >= 0:
            members[t].append(i)
    docs = []
    for m in members:
        if len(m) > NAMING_DOCS_PER_TOPIC:
            m = sorted(rng.choice(m, NAMING_DOCS_PER_TOPIC, replace=False).tolist())
        docs.append([texts[i] for i in m])
    return docs


def build_tables(prompts: PromptSet, cl: Clustering, cfg: TopicsConfig,
                 generator: TextGenerator | None = None) -> tuple[pa.Table, pa.Table]:
    """The topics and prompt_topics tables for a clustering of ``prompts``."""
    n_topics = len(cl.centroids)
    texts = prompts.prompts
    reps_idx = _representatives(cl.topic_labels, cl.similarity, n_topics, cfg.naming.representatives)
    reps = [[texts[i] for i in r] for r in reps_idx]
    kw = ctfidf(_naming_docs(texts, cl.topic_labels, n_topics, cfg.cluster.seed), cfg.naming.top_keywords,
                cfg.naming.ngram_max, cfg.naming.extra_stop_words)
    keywords = [[k for k, _ in row] for row in kw]
    names = [keyword_name(k, cfg.naming.name_keywords) for k in keywords]
    methods = ["ctfidf"] * n_topics
    if cfg.naming.backend == "llm":
        gen = generator or (load_generator(cfg.naming.llm_factory) if cfg.naming.llm_factory else None)
        if gen is None:
            raise ValueError("topics.naming.backend=llm needs topics.naming.llm_factory (module:callable)")
        for t, name in enumerate(llm_names(gen, keywords, reps, cfg.naming.llm_prompt)):
            if name:
                names[t], methods[t] = name, "llm"
    sizes = np.bincount(cl.topic_labels[cl.topic_labels >= 0], minlength=n_topics)
    total = max(1, int(sizes.sum()))
    cohesion = [float(np.nanmean(cl.similarity[cl.topic_labels == t])) if sizes[t] else float("nan")
                for t in range(n_topics)]
    topics = pa.Table.from_pydict({
        "topic_id": list(range(n_topics)),
        "name": names,
        "keywords": keywords,
        "keyword_scores": [[s for _, s in row] for row in kw],
        "size": sizes.tolist(),
        "share": (sizes / total).tolist(),
        "centroid": [c.tolist() for c in cl.centroids],
        "representative_prompts": reps,
        "cohesion": cohesion,
        "merged_from": cl.merged_from,
        "naming_method": methods,
    }, schema=TOPICS)
    sim = cl.similarity
    prompt_topics = pa.Table.from_pydict({
        "prompt_id": prompts.ids,
        "prompt": texts,
        "count": prompts.counts,
        "cluster_id": cl.cluster_labels,
        "topic_id": cl.topic_labels,
        "similarity": pa.array(sim, type=pa.float32(), from_pandas=True),
    }, schema=PROMPT_TOPICS)
    return topics, prompt_topics


def fit_topics(cfg: TopicsConfig, prompts_path: str, *, embedder: Embedder | None = None,
               generator: TextGenerator | None = None) -> FitResult:
    """Read, clean, embed, cluster and name; nothing is written (see :func:`write_fit`)."""
    timings: dict[str, float] = {}
    t = time.perf_counter()
    prompts = load_prompts(prompts_path, cfg.prompt_column, cfg.min_chars, cfg.max_chars, cfg.max_prompts)
    timings["read_s"] = time.perf_counter() - t
    if len(prompts) < 2:
        raise ValueError(f"{prompts_path}: {len(prompts)} usable prompts after cleaning; need at least 2")
    log.info("topics: %d prompts read, %d unique after cleaning", prompts.read, len(prompts))
    t = time.perf_counter()
    if cfg.embed.use_ray and embedder is None:
        x = embed_ray(prompts.prompts, cfg.embed)
    else:
        x = embed_all(prompts.prompts, embedder or load_embedder(cfg.embed), cfg.embed.chunk_size)
    timings["embed_s"] = time.perf_counter() - t
    t = time.perf_counter()
    c = cfg.cluster
    cl = cluster_embeddings(x, c.k, algorithm=c.algorithm, seed=c.seed, batch_size=c.batch_size, n_init=c.n_init,
                            max_iter=c.max_iter, merge_threshold=c.merge_threshold, min_topic_size=c.min_topic_size)
    timings["cluster_s"] = time.perf_counter() - t
    t = time.perf_counter()
    topics, prompt_topics = build_tables(prompts, cl, cfg, generator)
    timings["name_s"] = time.perf_counter() - t
    info = {
        "prompts_file": prompts_path, "prompts_read": prompts.read, "prompts_unique": len(prompts),
        "prompts_dropped_short": prompts.dropped_short, "model": cfg.embed.model, "dim": int(x.shape[1]),
        "k_requested": c.k, "k_used": cl.k_used, "topics": topics.num_rows,
        "prompts_unassigned": int((cl.topic_labels < 0).sum()), "config": cfg.model_dump(mode="json"),
        "timings": {k: round(v, 3) for k, v in timings.items()},
        "fitted_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    return FitResult(topics, prompt_topics, info, x)


def _write_parquet(out: Output, rel: str, table: pa.Table) -> None:
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    out.write_bytes(rel, buf.getvalue())


def write_fit(result: FitResult, out_dir: str) -> None:
    out = Output(out_dir)
    out.makedirs("")
    _write_parquet(out, "topics.parquet", result.topics)
    _write_parquet(out, "prompt_topics.parquet", result.prompt_topics)
    out.write_bytes("topics.json", json.dumps(result.info, indent=2).encode())


def load_topics(topics_dir: str) -> pa.Table:
    """The fitted topics table of ``topics_dir`` (raises FileNotFoundError with a hint)."""
    out = Output(topics_dir)
    if not out.exists("topics.parquet"):
        raise FileNotFoundError(f"no topics.parquet in {topics_dir}; run `curate topics fit` first "
                                "(or set topics.dir)")
    with out.fs.open(out.path("topics.parquet"), "rb") as f:
        return pq.read_table(f)
