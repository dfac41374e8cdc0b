"""http(s) sources through a real HTTP server on loopback: success, 404, 429-then-success, size limit,
truncated body; URL list files; and the whole pipeline over a URL list."""

from __future__ import annotations

import http.server
import os
import threading

import pyarrow as pa
import pytest

from curate.config import FetchConfig, InputConfig
from curate.schemas import stream_schema
from curate.stage import RunContext
from curate.stages.discover import discover
from curate.stages.fetch import Fetch


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    hits: dict[str, int] = {}

    def log_message(self, *a):  # quiet
        pass

    def do_GET(self):  # noqa: N802
        n = self.hits[self.path] = self.hits.get(self.path, 0) + 1
        name = self.path.lstrip("/")
        if name.startswith("ratelimited") and n == 1:
            self.send_response(429)
            self.send_header("Retry-After", "0")
            self.end_headers()
            return
        if name.startswith("truncated"):
            body = self.files["video.mp4"]
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 3])
            self.wfile.flush()
            self.close_connection = True
            return
        key = name.split("-", 1)[-1] if name.startswith("ratelimited") else name
        body = self.files.get(key)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server(samples):
    _Handler.files = {"video.mp4": open(samples["bikes"].path, "rb").read()}
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _fetch(tmp_path, urls, **cfg):
    rows = [{"record": "video", "video_id": f"v{i}", "source": u, "source_kind": "http", "status": "ok"}
            for i, u in enumerate(urls)]
    table = pa.Table.from_pylist(rows, schema=stream_schema())
    ctx = RunContext(run_id="t", output_dir=str(tmp_path), work_dir=str(tmp_path / "work"))
    stage = Fetch(FetchConfig(backoff_s=0.01, retries=2, timeout_s=5, **cfg), ctx)
    return stage(table).to_pylist()


def test_download_ok_and_reused(server, tmp_path):
    r = _fetch(tmp_path, [f"{server}/video.mp4"])[0]
    assert r["status"] == "ok" and os.path.getsize(r["local_path"]) == len(_Handler.files["video.mp4"])
    hits = _Handler.hits["/video.mp4"]
    _fetch(tmp_path, [f"{server}/video.mp4"])
    assert _Handler.hits["/video.mp4"] == hits  # finished download reused, not fetched again


def test_404(server, tmp_path):
    r = _fetch(tmp_path, [f"{server}/missing.mp4"])[0]
    assert (r["status"], r["error"]) == ("failed", "http_404")
    assert not os.listdir(tmp_path / "work" / "downloads")  # no partial file left


def test_429_then_success(server, tmp_path):
    r = _fetch(tmp_path, [f"{server}/ratelimited-video.mp4"])[0]
    assert r["status"] == "ok" and _Handler.hits["/ratelimited-video.mp4"] == 2


def test_size_limit(server, tmp_path):
    r = _fetch(tmp_path, [f"{server}/video.mp4"], max_bytes=1000)[0]
    assert (r["status"], r["error"]) == ("failed", "too_large")


def test_truncated_body(server, tmp_path):
    r = _fetch(tmp_path, [f"{server}/truncated.mp4"])[0]
    assert r["status"] == "failed" and r["error"] in ("truncated_download", "network")
    assert not any(f.endswith(".mp4") for f in os.listdir(tmp_path / "work" / "downloads"))


def test_list_files(tmp_path, samples, server):
    (tmp_path / "list.txt").write_text(f"# comment\n{samples['bikes'].path}\n{server}/video.mp4\n\nrel.mp4\n")
    (tmp_path / "list.csv").write_text(f"url,title\n{server}/x.mp4,x\n")
    table = discover(InputConfig(sources=[str(tmp_path / "list.txt"), str(tmp_path / "list.csv")]),
                     str(tmp_path / "s"), stream_schema())
    rows = table.to_pylist()
    assert [r["source_kind"] for r in rows] == ["local", "http", "local", "http"]
    assert rows[2]["source"] == str(tmp_path / "rel.mp4")  # relative to the list file
    assert len({r["video_id"] for r in rows}) == 4


def test_pipeline_over_urls(server, ray_local, make_cfg, tmp_path):
    from curate.query import query
    from curate.pipeline import run_pipeline

    (tmp_path / "urls.txt").write_text(f"{server}/video.mp4\n{server}/gone.mp4\n")
    cfg = make_cfg([str(tmp_path / "urls.txt")], fetch__backoff_s=0.01)
    s = run_pipeline(cfg)
    assert s.videos == 2 and s.videos_ok == 1 and s.failures == {"http_404": 1}
    rows = query(cfg.output.dir, "SELECT status, error, num_clips FROM videos ORDER BY status").to_pylist()
    assert rows[0]["error"] == "http_404" and rows[1]["num_clips"] == 5


def test_transient_failures_are_retried_on_rerun(server, ray_local, make_cfg, tmp_path):
    """A 429 that never cleared is retried by the next run; the old row is replaced, not duplicated."""
    from curate.query import query
    from curate.pipeline import run_pipeline

    (tmp_path / "urls.txt").write_text(f"{server}/ratelimited-late.mp4\n{server}/gone2.mp4\n")
    _Handler.files["late.mp4"] = _Handler.files["video.mp4"]
    _Handler.hits["/ratelimited-late.mp4"] = 0
    cfg = make_cfg([str(tmp_path / "urls.txt")], fetch__backoff_s=0.01, fetch__retries=0)
    first = run_pipeline(cfg)
    assert first.failures == {"rate_limited": 1, "http_404": 1}
    second = run_pipeline(cfg)  # the 429 handler lets the second request through
    assert second.videos_retried == 1 and second.videos == 1 and second.videos_ok == 1
    rows = query(cfg.output.dir, "SELECT source, status, error FROM videos ORDER BY source").to_pylist()
    assert [(r["status"], r["error"]) for r in rows] == [("failed", "http_404"), ("ok", None)]
    assert query(cfg.output.dir, "SELECT count(*) AS n FROM clips").to_pylist()[0]["n"] == 5


def test_fsspec_source(tmp_path, samples):
    """Any fsspec URL is copied to local disk (memory:// stands in for s3:// here)."""
    import fsspec

    fs = fsspec.filesystem("memory")
    fs.pipe("/bucket/raw/bikes.mp4", open(samples["bikes"].path, "rb").read())
    rows = [{"record": "video", "video_id": "m1", "source": "memory://bucket/raw/bikes.mp4",
             "source_kind": "fsspec", "status": "ok"},
            {"record": "video", "video_id": "m2", "source": "memory://bucket/raw/missing.mp4",
             "source_kind": "fsspec", "status": "ok"}]
    ctx = RunContext(run_id="t", output_dir=str(tmp_path), work_dir=str(tmp_path / "work"))
    out = Fetch(FetchConfig(), ctx)(pa.Table.from_pylist(rows, schema=stream_schema())).to_pylist()
    assert out[0]["status"] == "ok" and os.path.getsize(out[0]["local_path"]) == os.path.getsize(samples["bikes"].path)
    assert (out[1]["status"], out[1]["error"]) == ("failed", "not_found")
