"""The HTML report: its numbers equal DuckDB over the shards; it is self-contained; it follows new columns."""

from __future__ import annotations

import json
import logging
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from curate.query import connect
from curate.report import build_report


def _data(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.DOTALL)
    return json.loads(m.group(1).replace("<\\/", "</"))


class _Metrics(HTMLParser):
    """Visible cells tagged data-metric, figures tagged data-column, contact-sheet tiles, every src/href."""

    def __init__(self) -> None:
        super().__init__()
        self.metrics: dict[str, str] = {}
        self.columns: list[str] = []
        self.tiles: list[str] = []
        self.refs: list[str] = []
        self._key = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "data-metric" in a:
            self._key = a["data-metric"]
        if "data-column" in a:
            self.columns.append(a["data-column"])
        if "data-clip-id" in a:
            self.tiles.append(a["data-clip-id"])
        for k in ("src", "href"):
            if k in a:
                self.refs.append(a[k])

    def handle_data(self, data):
        if self._key is not None:
            self.metrics[self._key] = data.strip()
            self._key = None


def _parse(html: str) -> _Metrics:
    p = _Metrics()
    p.feed(html)
    return p


def _q(out: str, sql: str):
    con = connect(out)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_run_writes_report_whose_numbers_match_duckdb(pipeline_out):
    html = Path(pipeline_out, "report.html").read_text()  # written by run_pipeline itself
    d, p = _data(html), _parse(html)
    c = d["counts"]
    (videos, vok, vfail), = _q(pipeline_out, "SELECT count(*), count(*) FILTER (status='ok'), "
                                             "count(*) FILTER (status='failed') FROM videos")
    (clips, cok), = _q(pipeline_out, "SELECT count(*), count(*) FILTER (status='ok') FROM clips")
    assert (c["videos"], c["videos_ok"], c["videos_failed"], c["clips"], c["clips_ok"]) == (videos, vok, vfail, clips, cok)
    assert (videos, vfail) == (3, 1)
    assert p.metrics["videos"] == str(videos) and p.metrics["clips_ok"] == str(cok)
    (secs,), = _q(pipeline_out, "SELECT sum(duration_s) FROM clips WHERE status = 'ok'")
    assert c["seconds_kept"] == pytest.approx(secs, abs=1e-3)
    assert p.metrics["minutes_kept"] == f"{secs / 60:.2f}".rstrip("0").rstrip(".")
    # the text file posing as an mp4 is listed by its reason, in the data and on the page
    reasons = dict(_q(pipeline_out, "SELECT error, count(*) FROM videos WHERE status <> 'ok' GROUP BY 1"))
    assert d["video_failures"] == reasons
    for r, n in reasons.items():
        assert p.metrics[f"video_failure:{r}"] == str(n)
    assert "notes.mp4" in html
    # run summary from the manifest, with per-stage timings
    run = d["runs"][-1]
    assert run["videos"] == videos and set(run["stage_seconds"]) >= {"probe", "cuts", "clips"}
    # every spine numeric column gets a histogram; positional ones do not
    assert {"clips.duration_s", "clips.width", "videos.duration_s"} <= set(p.columns)
    assert "clips.start_frame" not in p.columns
    assert d["numeric"]["clips.duration_s"]["n"] == clips


@pytest.fixture(scope="module")
def enriched_html(enriched_out) -> str:
    return Path(build_report(enriched_out, top_n=4)).read_text()


def test_report_images_are_files_beside_it(enriched_out, enriched_html):
    """Plots and thumbnails are files in report_files/ (no base64 bloat), linked relatively; nothing online."""
    import os

    html = enriched_html
    refs = [r for r in _parse(html).refs if not r.startswith("#")]
    assert refs and all(r.startswith("report_files/") for r in refs), [r[:60] for r in refs]
    assert all(os.path.isfile(os.path.join(enriched_out, r)) for r in refs)
    assert "data:image" not in html and "http://" not in html and "https://" not in html
    thumbs = [r for r in refs if r.startswith("report_files/thumbs/")]
    assert thumbs and all(r.endswith(".jpg") for r in thumbs)
    # every thumbnail says where it comes from: source file and time span in it
    assert re.search(r'class="src"[^>]*>bikes\.mp4</span> <span class="t">\d+:\d\d\.\d\d–\d+:\d\d\.\d\d<', html)
    # a rebuild removes files no longer referenced and reuses the rest
    stale = os.path.join(enriched_out, "report_files", "plots", "0000stale.png")
    open(stale, "wb").close()
    again = Path(build_report(enriched_out, top_n=4)).read_text()
    assert not os.path.exists(stale)
    assert sorted(r for r in _parse(again).refs if not r.startswith("#")) == sorted(refs)


def test_report_follows_new_columns(enriched_out, enriched_html):
    html = enriched_html
    d, p = _data(html), _parse(html)
    # a score column the spine knows nothing about: histogram + contact sheets
    assert "clips.luma_mean" in p.columns and "luma_mean" in d["columns"]["clips"]["scores"]
    (n, lo, hi), = _q(enriched_out, "SELECT count(luma_mean), min(luma_mean), max(luma_mean) FROM clips")
    s = d["numeric"]["clips.luma_mean"]
    assert (s["n"], s["min"], s["max"]) == (n, pytest.approx(lo), pytest.approx(hi))
    # the histogram is binned in DuckDB: same counts as numpy over the same values and edges
    import numpy as np

    ok = [r[0] for r in _q(enriched_out, "SELECT luma_mean FROM clips WHERE status = 'ok'")]
    other = [r[0] for r in _q(enriched_out, "SELECT luma_mean FROM clips WHERE status <> 'ok'")]
    full = d["numeric"]["clips.luma_mean"]
    assert full["ok"] == np.histogram(ok, bins=full["edges"])[0].tolist()
    assert full["other"] == np.histogram(other, bins=full["edges"])[0].tolist()
    top = [r[0] for r in _q(enriched_out, "SELECT clip_id FROM clips ORDER BY luma_mean DESC, clip_id LIMIT 4")]
    bottom = [r[0] for r in _q(enriched_out, "SELECT clip_id FROM clips ORDER BY luma_mean ASC, clip_id LIMIT 4")]
    rejected = [r[0] for r in _q(enriched_out, "SELECT clip_id FROM clips WHERE status='rejected' ORDER BY clip_id")]
    assert rejected, "fixture should reject some clips"
    assert p.tiles[:4] == top and p.tiles[4:8] == bottom
    assert sorted(p.tiles[8:]) == rejected  # the rejects sheet shows every rejected clip (fewer than 24)
    assert "too_dark" in html
    # rejects by reason == DuckDB
    reasons = dict(_q(enriched_out, "SELECT r, count(*) FROM (SELECT unnest(reject_reasons) r FROM clips) GROUP BY r"))
    assert d["reject_reasons"] == reasons
    assert p.metrics["reject:too_dark"] == str(reasons["too_dark"])
    assert d["counts"]["clips_rejected"] == len(rejected)
    # licence and topic breakdowns
    lic = {r[0]: r[1] for r in _q(enriched_out, "SELECT licence, count(*) FROM videos WHERE licence IS NOT NULL GROUP BY 1")}
    assert {x["licence"]: x["videos"] for x in d["licences"] if x["licence"] != "(none)"} == lic
    (cc0_kept,), = _q(enriched_out, "SELECT count(*) FROM clips JOIN videos v USING (video_id) "
                                    "WHERE v.licence = 'CC0' AND clips.status = 'ok'")
    assert p.metrics["licence:CC0"] == str(cc0_kept)  # the visible cell: kept clips per licence
    topics = dict(_q(enriched_out, "SELECT topic_name, count(*) FILTER (status='ok') FROM clips GROUP BY 1"))
    assert {x["topic"]: x["clips_ok"] for x in d["topics"]} == topics
    # caption lengths for text captions, segment counts for timed captions
    (ncap,), = _q(enriched_out, "SELECT count(*) FROM clips WHERE status='ok' AND caption_brief IS NOT NULL")
    cap = d["captions"]["caption_brief"]
    assert (cap["kind"], cap["n"], cap["missing"]) == ("words", ncap, 0)
    (words,), = _q(enriched_out, "SELECT avg(len(string_split(caption_brief, ' '))) FROM clips WHERE status='ok'")
    assert cap["mean"] == pytest.approx(words)
    assert d["captions"]["caption_windows"]["kind"] == "segments"
    assert "caption_brief" in p.columns


def test_report_failure_never_fails_the_run(monkeypatch, caplog, tmp_path):
    """A failing after-run step is logged with its retry command, reported, and stays stale."""
    import curate.report
    from curate.after_run import run_after_steps
    from curate.config import load_config
    from curate.storage import Output

    def boom(*a, **k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(curate.report, "build_report", boom)
    cfg = load_config(None, [f"output.dir={tmp_path}", "report.card=false"])
    manifest = {"shards": []}
    with caplog.at_level(logging.ERROR, logger="curate"):
        errors = run_after_steps(cfg, Output(str(tmp_path)), manifest, lambda: None)  # must not raise
    assert "report failed" in caplog.text and "curate report" in caplog.text and "disk on fire" in caplog.text
    assert errors == {"report": "RuntimeError: disk on fire"} and "report" not in manifest["derived"]


def test_report_cli(enriched_out, tmp_path):
    from typer.testing import CliRunner

    from curate.cli import app

    target = tmp_path / "r.html"
    res = CliRunner().invoke(app, ["report", enriched_out, "--out", str(target)])
    assert res.exit_code == 0, res.output
    assert _data(target.read_text())["counts"]["clips"] == _q(enriched_out, "SELECT count(*) FROM clips")[0][0]
    res = CliRunner().invoke(app, ["report", str(tmp_path / "nothing")])
    assert res.exit_code == 2 and "manifest.json missing" in res.output


def test_empty_output_still_reports(tmp_path):
    """A run where nothing was committed yet: report, card and gallery API all work on the empty views."""
    from starlette.testclient import TestClient

    from curate.card import build_card
    from curate.serve import create_app
    from curate.shards import write_manifest
    from curate.storage import Output

    write_manifest(Output(str(tmp_path)), {"format": "curate-shards", "schema_version": "1.0.0", "shards": [], "runs": []})
    d = _data(Path(build_report(str(tmp_path))).read_text())
    assert d["counts"]["clips"] == 0 and d["counts"]["videos"] == 0
    assert "n<1K" in build_card(str(tmp_path))
    with TestClient(create_app(str(tmp_path))) as c:
        assert c.get("/api/meta").json()["total"] == 0
        assert c.get("/api/clips", params={"status": "all"}).json() == {"total": 0, "offset": 0, "limit": 60, "clips": []}
