"""Per-topic collection: search queries for topics still under quota, skipping seen videos.

Flow on each ``curate run`` with ``topics.collect.enabled``:

1. ``collection_status`` reads the shards (``curate.query.connect``): ok clips per topic
   (``topic_id``, else ``query_topic_id``), every video id already processed (``seen``), and
   the observed ok clips per topic-found video (used to size the next request).
2. ``topic_queries(topics, quotas, seen, ...)`` builds one query source row per topic under
   quota, most under-quota first, from the configured templates. ``CollectionState`` (JSON
   in the output dir) remembers how deep each query was read and which are exhausted, so a
   re-run asks for results beyond those already consumed and moves on to the next template.
3. ``resolve_queries`` runs each query through a ``SearchBackend`` (yt-dlp flat search by
   default; tests pass a fake) and emits video source rows carrying ``query_topic_id``,
   dropping videos already seen. With ``collect.backend: none`` the query rows themselves
   (``ytsearchN:...``) are the sources, for a downloader that expands them.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable
from urllib.parse import quote_plus

import pyarrow as pa

from curate.ids import video_id
from curate.storage import Output

log = logging.getLogger("curate")

STATE_FILE = "topics_state.json"


@dataclass(frozen=True)
class SearchHit:
    url: str
    title: str | None = None


@runtime_checkable
class SearchBackend(Protocol):
    """Turns a search source (e.g. ``ytsearch20:dragons creative commons``) into video URLs."""

    def search(self, source: str, limit: int) -> list[SearchHit]: ...


class YtDlpSearch:
    """yt-dlp flat search: lists result URLs without downloading anything."""

    def __init__(self, extra_opts: dict[str, Any] | None = None) -> None:
        try:
            import yt_dlp  # noqa: F401
        except ImportError as exc:
            raise RuntimeError("topics.collect.backend=ytdlp needs yt-dlp: pip install 'curate[topics]' "
                               "(or set topics.collect.backend=none)") from exc
        self.opts = {"quiet": True, "no_warnings": True, "skip_download": True,
                     "extract_flat": "in_playlist", **(extra_opts or {})}

    def search(self, source: str, limit: int) -> list[SearchHit]:
        import yt_dlp

        with yt_dlp.YoutubeDL({**self.opts, "playlistend": limit}) as ydl:
            info = ydl.extract_info(source, download=False) or {}
        hits = []
        for e in (info.get("entries") or [])[:limit]:
            url = e.get("webpage_url") or e.get("url") or ""
            if not url.startswith("http") and e.get("id"):
                url = f"https://www.youtube.com/watch?v={e['id']}"
            if url:
                hits.append(SearchHit(url, e.get("title")))
        return hits


@dataclass
class CollectionState:
    """What earlier runs asked for: per query the depth read, and exhausted queries."""

    topics_fitted_at: str | None = None
    depth: dict[str, int] = field(default_factory=dict)  # "topic_id|query" -> results already read
    exhausted: list[str] = field(default_factory=list)  # "topic_id|query"
    runs: int = 0

    @staticmethod
    def key(topic_id: int, query: str) -> str:
        return f"{topic_id}|{query}"

    @classmethod
    def load(cls, output_dir: str) -> CollectionState:
        out = Output(output_dir)
        if not out.exists(STATE_FILE):
            return cls()
        return cls(**json.loads(out.read_bytes(STATE_FILE)))

    def save(self, output_dir: str) -> None:
        Output(output_dir).write_bytes(STATE_FILE, json.dumps(self.__dict__, indent=2, sort_keys=True).encode())


@dataclass
class CollectionStatus:
    counts: dict[int, int]  # ok clips per topic
    seen: set[str]  # video ids already in the shards
    clips_per_video: float | None  # observed ok clips per topic-found video


def collection_status(output_dir: str) -> CollectionStatus:
    """Read the committed shards of ``output_dir`` (empty status when there are none)."""
    out = Output(output_dir)
    if not out.exists("manifest.json"):
        return CollectionStatus({}, set(), None)
    from curate.query import connect

    con = connect(output_dir)
    try:
        cols = {r[0] for r in con.execute("DESCRIBE clips").fetchall()}
        topic_expr = "coalesce(topic_id, query_topic_id)" if "topic_id" in cols else (
            "query_topic_id" if "query_topic_id" in cols else "NULL")
        counts = {int(t): int(n) for t, n in con.execute(
            f"SELECT {topic_expr} AS t, count(*) FROM clips WHERE status = 'ok' AND t IS NOT NULL GROUP BY t").fetchall()}
        seen = {r[0] for r in con.execute("SELECT video_id FROM videos").fetchall()}
        vcols = {r[0] for r in con.execute("DESCRIBE videos").fetchall()}
        cpv = None
        if "query_topic_id" in vcols:
            (nv,) = con.execute("SELECT count(*) FROM videos WHERE query_topic_id IS NOT NULL").fetchone()
            (nc,) = con.execute(
                "SELECT count(*) FROM clips c JOIN videos v ON c.video_id = v.video_id "
                "WHERE v.query_topic_id IS NOT NULL AND c.status = 'ok'").fetchone()
            cpv = (nc / nv) if nv else None
    finally:
        con.close()
    return CollectionStatus(counts, seen, cpv)


def topic_quotas(topics: pa.Table, cfg: Any) -> dict[int, int]:
    """Quota per topic id: ``collect.quota`` unless ``quota_overrides`` names the id or the name."""
    q = {}
    for tid, name in zip(topics.column("topic_id").to_pylist(), topics.column("name").to_pylist()):
        q[int(tid)] = int(cfg.quota_overrides.get(str(tid), cfg.quota_overrides.get(name, cfg.quota)))
    return q


def render_query(template: str, topic: dict[str, Any]) -> str:
    kws = topic.get("keywords") or []
    return " ".join(template.format(name=topic["name"], keywords=" ".join(kws[:3]),
                                    keyword0=kws[0] if kws else topic["name"]).split())


def topic_queries(topics: pa.Table, quotas: dict[int, int], seen: set[str], *, cfg: Any,
                  counts: dict[int, int] | None = None, state: CollectionState | None = None,
                  clips_per_video: float | None = None) -> list[dict[str, Any]]:
    """One source row per topic under quota (most under-quota first), with ``query_topic_id``.

    ``seen`` (video ids already processed) is not needed to build queries: results are
    filtered by it in ``resolve_queries``; it is part of the interface so a downloader-side
    expansion of ``ytsearchN:`` sources can filter with the same set.
    """
    counts = counts or {}
    state = state or CollectionState()
    cpv = clips_per_video if clips_per_video and clips_per_video > 0 else cfg.clips_per_video
    rows: list[dict[str, Any]] = []
    for topic in topics.to_pylist():
        tid = int(topic["topic_id"])
        have, want = counts.get(tid, 0), quotas.get(tid, cfg.quota)
        if have >= want:
            continue
        videos = min(cfg.max_videos_per_topic, max(1, math.ceil((want - have) / cpv)))
        for template in cfg.templates:
            query = render_query(template, topic)
            key = CollectionState.key(tid, query)
            if key in state.exhausted:
                continue
            depth = state.depth.get(key, 0)
            n = min(cfg.max_results, depth + videos)
            rows.append({
                "source": cfg.source_template.format(n=n, query=query, query_url=quote_plus(query)),
                "source_kind": "search", "query_topic_id": tid, "search_query": query, "search_limit": n,
                "videos_wanted": videos, "deficit": (want - have) / want,
            })
            break
        else:
            log.info("topics: every query of topic %d (%s) is exhausted; %d/%d clips", tid, topic["name"], have, want)
    rows.sort(key=lambda r: (-r["deficit"], r["query_topic_id"]))
    if cfg.max_topics_per_run:
        rows = rows[: cfg.max_topics_per_run]
    return rows


def resolve_queries(rows: list[dict[str, Any]], backend: SearchBackend, seen: set[str], state: CollectionState,
                    max_results: int) -> list[dict[str, Any]]:
    """Search each query row; return new video rows (never a seen video, never one twice)."""
    from curate.stages.discover import _kind

    taken = set(seen)
    out: list[dict[str, Any]] = []
    for r in rows:
        key = CollectionState.key(r["query_topic_id"], r["search_query"])
        try:
            hits = backend.search(r["source"], r["search_limit"])
        except Exception as exc:  # noqa: BLE001 - one failed search must not stop the others
            log.warning("topics: search failed for topic %d (%r): %s", r["query_topic_id"], r["search_query"], exc)
            continue
        new = 0
        for h in hits:
            vid = video_id(h.url)
            if vid in taken:
                continue
            taken.add(vid)
            out.append({"source": h.url, "source_kind": _kind(h.url), "status": "ok", "video_id": vid,
                        "query_topic_id": r["query_topic_id"], "search_query": r["search_query"]})
            new += 1
            if new >= r["videos_wanted"]:
                break
        state.depth[key] = max(state.depth.get(key, 0), len(hits))
        ran_dry = len(hits) < r["search_limit"] or r["search_limit"] >= max_results
        if new == 0 and ran_dry and key not in state.exhausted:
            state.exhausted.append(key)
    return out


def collect_sources(topics_cfg: Any, output_dir: str, backend: SearchBackend | None = None) -> list[dict[str, Any]]:
    """The discover hook: source rows for topics under quota; updates the state file."""
    from curate.topics.fit import load_topics

    cfg = topics_cfg.collect
    topics = load_topics(topics_cfg.dir)
    status = collection_status(output_dir)
    state = CollectionState.load(output_dir)
    fitted = _fitted_at(topics_cfg.dir)
    if state.topics_fitted_at and fitted and state.topics_fitted_at != fitted:
        log.warning("topics: %s was refitted since the last collection run; query depths are reset", topics_cfg.dir)
        state = CollectionState()
    state.topics_fitted_at = fitted
    rows = topic_queries(topics, topic_quotas(topics, cfg), status.seen, cfg=cfg, counts=status.counts,
                         state=state, clips_per_video=status.clips_per_video)
    if cfg.backend == "none":
        result = [{**r, "status": "ok", "video_id": video_id(r["source"])} for r in rows]
    else:
        result = resolve_queries(rows, backend or YtDlpSearch(), status.seen, state, cfg.max_results)
    state.runs += 1
    Output(output_dir).makedirs("")
    state.save(output_dir)
    log.info("topics: %d topics under quota queried, %d new sources", len(rows), len(result))
    return result


def _fitted_at(topics_dir: str) -> str | None:
    out = Output(topics_dir)
    if not out.exists("topics.json"):
        return None
    return json.loads(out.read_bytes("topics.json")).get("fitted_at")


def discover_topic_sources(topics_cfg: Any, output_dir: str, schema: pa.Schema,
                           backend: SearchBackend | None = None) -> pa.Table:
    """``collect_sources`` as stream rows (``record='video'``) of ``schema``."""
    rows = collect_sources(topics_cfg, output_dir, backend)
    for r in rows:
        r["record"] = "video"
    return pa.Table.from_pylist([{f.name: r.get(f.name) for f in schema} for r in rows], schema=schema) \
        if rows else schema.empty_table()


__all__ = ["SearchHit", "SearchBackend", "YtDlpSearch", "CollectionState", "CollectionStatus", "collection_status",
           "topic_quotas", "topic_queries", "resolve_queries", "collect_sources", "discover_topic_sources"]
