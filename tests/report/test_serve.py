"""The gallery API: filters equal DuckDB counts, no SQL injection, nothing outside the output dir is served."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

pytest.importorskip("starlette")
from starlette.testclient import TestClient

from curate.columns import list_field
from curate.query import connect
from curate.serve import create_app


@pytest.fixture(scope="module")
def client(enriched_out):
    with TestClient(create_app(enriched_out)) as c:
        yield c


def _count(out: str, where: str, params: list | None = None) -> int:
    con = connect(out)
    try:
        return con.execute(f"SELECT count(*) FROM clips c JOIN videos v USING (video_id) WHERE {where}",
                           params or []).fetchone()[0]
    finally:
        con.close()


def test_meta_lists_discovered_columns(client, enriched_out):
    m = client.get("/api/meta").json()
    assert m["numeric"]["luma_mean"]["score"] is True and m["numeric"]["duration_s"]["score"] is False
    assert m["topics"] == ["cycling", "test patterns"]
    assert m["licences"] == ["CC-BY-4.0", "CC0"]
    assert set(m["statuses"]) == {"ok", "rejected"}
    assert "caption_brief" in m["text_captions"] and "caption_windows" in m["timed_captions"]
    assert not any(c.endswith(("_status", "_model", "_error")) for c in m["text_captions"])


@pytest.mark.parametrize("params, where, args", [
    ({"status": "ok"}, "c.status = 'ok'", []),
    ({"status": "all"}, "true", []),
    ({"status": "rejected"}, "c.status = 'rejected'", []),
    ({"topic": "cycling"}, "topic_name = 'cycling'", []),
    ({"licence": "CC0"}, "v.licence = 'CC0'", []),
    ({"min.luma_mean": "0.4", "max.luma_mean": "0.52"}, "luma_mean BETWEEN 0.4 AND 0.52", []),
    ({"min.duration_s": "2", "status": "ok"}, "c.duration_s >= 2 AND c.status = 'ok'", []),
    ({"q": "SECOND HALF of bikes"}, None, []),
    ({"q": "synthetic_cuts clip"}, "caption_brief LIKE 'synthetic_cuts clip%'", []),
])
def test_filters_match_duckdb(client, enriched_out, params, where, args):
    r = client.get("/api/clips", params={**params, "limit": 200})
    assert r.status_code == 200, r.text
    body = r.json()
    if where is None:  # substring of several clips' window captions, case-insensitive
        where = f"array_to_string({list_field('caption_windows', 'text')}, ' ') ILIKE '%second half of bikes%'"
    expected = _count(enriched_out, where, args)
    assert body["total"] == expected > 0
    assert len(body["clips"]) == expected


def test_sort_and_paging(client, enriched_out):
    body = client.get("/api/clips", params={"status": "all", "sort": "luma_mean", "order": "asc", "limit": 3}).json()
    con = connect(enriched_out)
    ids = [r[0] for r in con.execute("SELECT clip_id FROM clips ORDER BY luma_mean ASC, clip_id LIMIT 3").fetchall()]
    con.close()
    assert [c["clip_id"] for c in body["clips"]] == ids
    page2 = client.get("/api/clips", params={"status": "all", "sort": "luma_mean", "order": "asc",
                                             "limit": 3, "offset": 3}).json()
    assert not {c["clip_id"] for c in page2["clips"]} & set(ids)


@pytest.mark.parametrize("params", [
    {"q": "' OR 1=1 --"}, {"q": "%"}, {"q": "c%c"}, {"q": "t_c"}, {"topic": "x' OR '1'='1"}, {"licence": "' OR ''='"},
    {"status": "ok' OR 'a'='a"},
])
def test_injection_attempts_match_nothing(client, params):
    r = client.get("/api/clips", params={**params, "status": params.get("status", "all")})
    assert r.status_code == 200 and r.json()["total"] == 0


@pytest.mark.parametrize("params", [
    {"sort": "luma_mean; DROP TABLE clips"}, {"sort": "status"}, {"min.1=1) OR (1": "0"},
    {"min.clip_path": "0"}, {"max.luma_mean": "abc"}, {"limit": "x"},
])
def test_bad_columns_and_values_are_rejected(client, params):
    r = client.get("/api/clips", params=params)
    assert r.status_code == 400 and "error" in r.json()
    assert client.get("/api/clips", params={"status": "all"}).json()["total"] > 0  # still intact


def test_clip_detail_equals_shard_row(client, enriched_out):
    con = connect(enriched_out)
    row = con.execute("SELECT c.clip_id, c.caption_brief, c.luma_mean, c.caption_windows, v.licence, v.source, c.topic_name, "
                      "c.status, c.reject_reasons FROM clips c JOIN videos v USING (video_id) "
                      "WHERE c.status = 'rejected' LIMIT 1").fetchone()
    con.close()
    d = client.get(f"/api/clip/{row[0]}").json()
    assert d["captions"]["caption_brief"] == row[1]
    assert d["scores"]["luma_mean"] == pytest.approx(row[2])
    assert [s["text"] for s in d["timed_captions"]["caption_windows"]] == [s["text"] for s in row[3]]
    assert d["timed_captions"]["caption_windows"][0]["start"] == pytest.approx(row[3][0]["start_s"])
    assert d["provenance"]["licence"] == row[4] and d["provenance"]["source"] == row[5]
    assert d["topic"] == row[6] and d["status"] == "rejected" and d["reject_reasons"] == row[8]
    assert client.get("/api/clip/nope").status_code == 404


def test_media_serves_clip_files_with_ranges(client, enriched_out):
    con = connect(enriched_out)
    clip_path, thumb = con.execute("SELECT clip_path, thumbnail_path FROM clips LIMIT 1").fetchone()
    con.close()
    r = client.get(f"/media/{thumb}")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert r.content == Path(enriched_out, thumb).read_bytes()
    r = client.get(f"/media/{clip_path}", headers={"Range": "bytes=0-99"})
    assert r.status_code == 206 and len(r.content) == 100 and r.headers["content-type"] == "video/mp4"


@pytest.mark.parametrize("path", [
    "/media/../manifest.json", "/media/..%2fmanifest.json", "/media/%2e%2e/%2e%2e/etc/passwd",
    "/media/..%2F..%2F..%2Fetc%2Fpasswd", "/media//etc/passwd", "/media/%2Fetc%2Fpasswd",
    "/media/manifest.json", "/media/clips/part-00000.parquet", "/media/config.resolved.yaml",
    "/media/clips/..%5c..%5cetc%5cpasswd", "/media/thumbnails%00.jpg", "/static/../serve.py", "/static/app.py",
])
def test_no_path_outside_is_served(client, path):
    r = client.get(path)
    assert r.status_code == 404, (path, r.status_code)
    assert b"root:" not in r.content and b"shards" not in r.content


def test_symlinked_media_pointing_outside_is_refused(enriched_out, tmp_path):
    out = tmp_path / "o"
    shutil.copytree(enriched_out, out)
    con = connect(str(out))
    thumbs = [r[0] for r in con.execute("SELECT thumbnail_path FROM clips ORDER BY clip_id LIMIT 2").fetchall()]
    con.close()
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(b"outside the output dir")
    os.remove(out / thumbs[0])
    os.symlink(secret, out / thumbs[0])  # a row's own thumbnail path, but the file points outside
    inside = out / "media" / "thumbnails" / "inside.jpg"
    shutil.copy(out / thumbs[1], inside)
    os.remove(out / thumbs[1])
    os.symlink(inside, out / thumbs[1])  # a symlink that stays inside is fine
    with TestClient(create_app(str(out))) as c:
        assert c.get(f"/media/{thumbs[0]}").status_code == 404
        r = c.get(f"/media/{thumbs[1]}")
        assert r.status_code == 200 and r.content == inside.read_bytes()


def test_read_only_and_page(client):
    assert client.post("/api/clips").status_code == 405
    assert client.delete("/media/x.jpg").status_code == 405
    page = client.get("/")
    assert page.status_code == 200 and "/static/app.js" in page.text
    assert "http://" not in page.text and "https://" not in page.text  # no CDN
    js = client.get("/static/app.js")
    assert js.status_code == 200 and "https://" not in js.text.replace('/^https?:\\/\\//', "")


def test_foreign_host_header_is_refused(enriched_out):
    with TestClient(create_app(enriched_out, allowed_hosts=["127.0.0.1", "localhost"]),
                    base_url="http://127.0.0.1:8765") as c:
        assert c.get("/api/meta").status_code == 200
        assert c.get("/api/meta", headers={"host": "evil.example:8765"}).status_code == 400
    page = TestClient(create_app(enriched_out)).get("/")
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_new_shards_show_up_without_restart(enriched_out, tmp_path):
    import json

    out = tmp_path / "o"
    shutil.copytree(enriched_out, out)
    with TestClient(create_app(str(out))) as c:
        before = c.get("/api/clips", params={"status": "all"}).json()["total"]
        m = json.loads((out / "manifest.json").read_text())
        m["shards"] = m["shards"][:0]
        os.utime(out / "manifest.json", (1, 1))
        (out / "manifest.json").write_text(json.dumps(m))
        assert c.get("/api/clips", params={"status": "all"}).json()["total"] == 0 < before


# -- labels and filter export ---------------------------------------------------------------
@pytest.fixture
def labelled(enriched_out, tmp_path):
    out = tmp_path / "o"
    shutil.copytree(enriched_out, out, ignore=shutil.ignore_patterns("labels"))
    with TestClient(create_app(str(out))) as c:
        yield str(out), c


def test_labels_are_stored_viewed_and_used_by_training_selection(labelled):
    from curate.config import TrainConfig
    from curate.train.feed import select_clips

    out, c = labelled
    ok = [r["clip_id"] for r in c.get("/api/clips", params={"status": "ok", "limit": 200}).json()["clips"]]
    assert len(ok) >= 3
    r = c.post("/api/labels", json={"clip_ids": ok[:2], "label": "reject", "tags_add": ["Shaky Cam", "blur"]})
    assert r.status_code == 200, r.text
    assert [x["tags"] for x in r.json()["labels"]] == [["blur", "shaky-cam"]] * 2
    assert c.post("/api/labels", json={"clip_ids": [ok[2]], "label": "accept"}).status_code == 200
    # the sidecar table, as DuckDB sees it
    con = connect(out)
    got = dict(con.execute("SELECT clip_id, label FROM labels").fetchall())
    con.close()
    assert got == {ok[0]: "reject", ok[1]: "reject", ok[2]: "accept"}
    # the gallery filters and shows them
    rej = c.get("/api/clips", params={"status": "all", "label": "reject"}).json()
    assert sorted(x["clip_id"] for x in rej["clips"]) == sorted(ok[:2]) and rej["clips"][0]["_label"] == "reject"
    assert c.get("/api/clips", params={"status": "all", "tag": "shaky-cam"}).json()["total"] == 2
    assert c.get("/api/clips", params={"status": "ok", "label": "unlabelled"}).json()["total"] == len(ok) - 3
    assert c.get(f"/api/clip/{ok[0]}").json()["label"] == {"label": "reject", "tags": ["blur", "shaky-cam"], "note": None}
    # training leaves the rejected ones out (train.select.exclude_rejected), or keeps them when told
    sel = select_clips(out, TrainConfig(), os.path.join(out, "_sel"))
    import pyarrow.parquet as pq

    ids = {i for f in sel.files for i in pq.read_table(f).column("clip_id").to_pylist()}
    assert ids and not ids & set(ok[:2]) and ok[2] in ids
    sel = select_clips(out, TrainConfig(select={"exclude_rejected": False}), os.path.join(out, "_sel"))
    assert set(ok[:2]) <= {i for f in sel.files for i in pq.read_table(f).column("clip_id").to_pylist()}
    # clearing a label and its tags removes the row; tags only keep it
    c.post("/api/labels", json={"clip_ids": [ok[0]], "label": None, "tags_remove": ["blur", "shaky-cam"]})
    c.post("/api/labels", json={"clip_ids": [ok[1]], "label": None})
    con = connect(out)
    assert dict(con.execute("SELECT clip_id, label FROM labels").fetchall()) == {ok[1]: None, ok[2]: "accept"}
    con.close()


@pytest.mark.parametrize("body, headers, code", [
    ({"clip_ids": ["nope"], "label": "reject"}, {}, 400),
    ({"clip_ids": [], "label": "reject"}, {}, 400),
    ({"clip_ids": "x", "label": "reject"}, {}, 400),
    (None, {"content-type": "application/x-www-form-urlencoded"}, 415),
    ({"clip_ids": ["CLIP"], "label": "maybe"}, {}, 400),
    ({"clip_ids": ["CLIP"], "label": "reject"}, {"origin": "http://evil.example"}, 403),
])
def test_label_writes_are_checked(labelled, body, headers, code):
    out, c = labelled
    cid = c.get("/api/clips", params={"status": "all", "limit": 1}).json()["clips"][0]["clip_id"]
    if body is None:
        r = c.post("/api/labels", content=f"clip_ids={cid}&label=reject", headers=headers)
    else:
        body = {k: ([cid if i == "CLIP" else i for i in v] if isinstance(v, list) else v) for k, v in body.items()}
        r = c.post("/api/labels", json=body, headers=headers)
    assert r.status_code == code, r.text
    assert not os.path.exists(os.path.join(out, "labels", "labels.parquet"))


@pytest.mark.parametrize("params", [
    {"status": "ok"}, {"topic": "cycling", "min.luma_mean": "0.3"}, {"licence": "CC0", "status": "all"},
    {"q": "second half of BIKES", "status": "all"}, {"q": "' OR 1=1 --", "status": "all"}, {"q": "50%_x\\"},
    {"label": "reject"},
])
def test_exported_filter_selects_what_the_gallery_shows(labelled, params):
    out, c = labelled
    cid = c.get("/api/clips", params={"status": "ok", "limit": 1}).json()["clips"][0]["clip_id"]
    c.post("/api/labels", json={"clip_ids": [cid], "label": "reject"})
    shown = c.get("/api/clips", params={**params, "limit": 200}).json()
    exp = c.get("/api/export", params=params).json()
    assert exp["total"] == shown["total"]
    # the condition runs where the training selection / `curate export --where` runs it
    con = connect(out)
    try:
        ids = [r[0] for r in con.execute(
            f"SELECT clip_id FROM (SELECT c.*, v.licence AS licence FROM clips c LEFT JOIN videos v "
            f"USING (video_id)) WHERE {exp['where']} ORDER BY clip_id").fetchall()]
        assert len(con.execute(exp["sql"]).fetchall()) == shown["total"]
    finally:
        con.close()
    assert ids == sorted(x["clip_id"] for x in shown["clips"])
    txt = c.get("/api/export", params={**params, "format": "txt"})
    assert txt.status_code == 200 and txt.text.split() == ids
    assert exp["command"].startswith("curate export ") and "--where" in exp["command"]
