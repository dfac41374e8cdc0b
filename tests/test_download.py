"""The download stage through yt-dlp's real code paths, offline.

A threaded ``http.server`` on loopback serves a small real video with programmable faults
(404, 429-then-200, truncated body, RSS feed). Licence-gate tests feed info JSON files whose
format URLs point at that server: they are loaded the way ``yt-dlp --load-info-json`` loads
them (``sanitize_info``) and downloaded with ``YoutubeDL.process_ie_result``.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from curate.config import DownloadConfig
from curate.media import run_ffmpeg
from curate.stage import RunContext
from curate.stages.download import Download
from curate.ytdl import classify, expand, is_collection, is_ytdl_source, platform_video_id, ytdl_video_id


class _Server:
    def __init__(self, media: bytes) -> None:
        self.media = media
        self.media_extra = b""
        self.hits: Counter[str] = Counter()
        self.bytes_sent: Counter[str] = Counter()
        self.lock = threading.Lock()
        srv = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):  # quiet
                pass

            def _send(self, code: int, body: bytes = b"", ctype: str = "video/mp4", length: int | None = None,
                      extra: dict | None = None) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body) if length is None else length))
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                if length is not None and length != len(body):
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)
                    with srv.lock:
                        srv.bytes_sent[self.path] += len(body)

            def do_HEAD(self):
                self.do_GET()

            def do_GET(self):
                path = self.path.split("?")[0]
                with srv.lock:
                    srv.hits[path] += 1
                    n = srv.hits[path]
                if path == "/v/missing.mp4":
                    self._send(404, b"not found", "text/plain")
                elif path == "/v/flaky.mp4" and n == 1:
                    self._send(429, b"slow down", "text/plain", extra={"Retry-After": "0"})
                elif path == "/v/truncated.mp4":
                    self._send(200, srv.media[: len(srv.media) // 3], length=len(srv.media))
                elif path == "/feed.xml":
                    base = f"http://127.0.0.1:{srv.port}"
                    items = "".join(f"<item><title>clip {i}</title><link>{base}/v/feed{i}.mp4</link></item>" for i in (1, 2))
                    body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>feed</title>{items}</channel></rss>'
                    self._send(200, body.encode(), "application/rss+xml")
                elif path.startswith("/a/"):
                    self._send(200, srv.media_extra, "audio/mp4")
                elif path.startswith("/v/") and path.endswith(".mp4"):
                    self._send(200, srv.media)
                else:
                    self._send(404, b"", "text/plain")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture(scope="module")
def media_bytes(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("dlmedia") / "src.mp4"
    run_ffmpeg(["-f", "lavfi", "-t", "2", "-i", "testsrc2=size=160x120:rate=15", "-c:v", "libx264",
                "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(path)])
    return path.read_bytes()


@pytest.fixture(scope="module")
def server(media_bytes):
    srv = _Server(media_bytes)
    yield srv
    srv.httpd.shutdown()


YT_CC = "Creative Commons Attribution license (reuse allowed)"


def write_info(directory, name: str, url: str, licence: str | None = YT_CC, **extra) -> str:
    """An info JSON as `yt-dlp --write-info-json` writes it for a YouTube video."""
    info = {
        "_type": "video", "id": name, "title": f"Video {name}", "extractor": "youtube", "extractor_key": "Youtube",
        "webpage_url": f"https://www.youtube.com/watch?v={name}", "uploader": "Alice Example",
        "uploader_url": "https://www.youtube.com/@alice", "channel": "Alice", "channel_url": "https://www.youtube.com/channel/UC1",
        "upload_date": "20240131", "description": "A test video.", "tags": ["test", "bars"], "duration": 2.0,
        "chapters": [{"start_time": 0.0, "end_time": 1.0, "title": "intro"}, {"start_time": 1.0, "end_time": 2.0, "title": "rest"}],
        "subtitles": {"en": [{"url": "http://127.0.0.1:1/x.vtt", "ext": "vtt"}]},
        "automatic_captions": {"de": [{"url": "http://127.0.0.1:1/de.vtt", "ext": "vtt"}], "fr": [{"url": "http://127.0.0.1:1/fr.vtt", "ext": "vtt"}]},
        "formats": [{"format_id": "134", "url": url, "ext": "mp4", "protocol": "http", "vcodec": "avc1.4d400c",
                     "acodec": "none", "width": 160, "height": 120, "fps": 15}],
        "epoch": 1700000000,
    }
    if licence is not None:
        info["license"] = licence
    info.update(extra)
    path = os.path.join(str(directory), f"{name}.info.json")
    with open(path, "w") as f:
        json.dump(info, f)
    return path


class _Sleeps(list):
    def __call__(self, s: float) -> None:
        self.append(s)


def stage(tmp_path, **kw) -> tuple[Download, _Sleeps]:
    cfg = DownloadConfig(retries=kw.pop("retries", 2), backoff_s=0.01, socket_timeout_s=5, **kw)
    sleeps = _Sleeps()
    ctx = RunContext(run_id="t", output_dir=str(tmp_path / "out"), work_dir=str(tmp_path / "work"))
    return Download(cfg, ctx, sleep=sleeps), sleeps


def run_row(st: Download, source: str, vid: str = "vid0") -> dict:
    import pyarrow as pa

    from curate.schemas import stream_schema

    row = {"record": "video", "video_id": vid, "source": source, "source_kind": "ytdl", "status": "ok"}
    out = st(pa.Table.from_pylist([row], schema=stream_schema())).to_pylist()
    assert len(out) == 1
    return out[0]


def test_permissive_video_downloads_with_provenance(tmp_path, server, media_bytes):
    info = write_info(tmp_path, "okvid", server.url("/v/ok.mp4"))
    st, _ = stage(tmp_path)
    row = run_row(st, info)
    assert row["status"] == "ok", row["error_detail"]
    assert open(row["local_path"], "rb").read() == media_bytes
    assert not [p for p in os.listdir(st.dir) if p.endswith(".part")]
    assert row["licence"] == "CC-BY-3.0" and row["licence_raw"] == YT_CC and row["licence_gate"] == "allow_list"
    assert row["platform"] == "youtube" and row["platform_id"] == "okvid"
    assert row["title"] == "Video okvid" and row["uploader"] == "Alice Example"
    assert row["webpage_url"] == "https://www.youtube.com/watch?v=okvid"
    assert str(row["upload_date"]) == "2024-01-31"
    assert row["chapters"] == [{"start": 0.0, "end": 1.0, "title": "intro"}, {"start": 1.0, "end": 2.0, "title": "rest"}]
    assert row["subtitle_langs"] == ["en"] and row["auto_caption_langs"] == ["de", "fr"]
    assert row["tags"] == ["test", "bars"] and row["format_id"] == "134"
    assert row["ytdlp_version"]


@pytest.mark.parametrize("licence,reason", [
    ("Standard YouTube License", "licence_not_permitted"),
    ("by-nc-nd", "licence_not_permitted"),
    (None, "licence_unknown"),
    ("some custom terms", "licence_unknown"),
])
def test_gate_rejects_before_any_media_request(tmp_path, server, licence, reason):
    path = f"/v/gated-{reason}-{abs(hash(licence))}.mp4"
    info = write_info(tmp_path, "gated", server.url(path), licence=licence)
    st, _ = stage(tmp_path)
    row = run_row(st, info)
    assert row["status"] == "rejected" and row["error"] == reason
    assert row["local_path"] is None and row["licence_gate"] is None
    assert row["title"] == "Video gated"  # provenance is kept on the rejected row
    assert server.hits[path] == 0  # not one media request


def test_allow_unknown_is_explicit_and_recorded(tmp_path, server, caplog):
    from curate.stages import download as dl

    dl._warned.clear()
    info = write_info(tmp_path, "nolic", server.url("/v/nolic.mp4"), licence=None)
    with caplog.at_level("WARNING", logger="curate"):
        st, _ = stage(tmp_path, allow_unknown_licence=True)
    assert "allow_unknown_licence" in caplog.text
    row = run_row(st, info)
    assert row["status"] == "ok" and row["licence"] is None and row["licence_gate"] == "allow_unknown"
    # a known but non-permitted licence is still rejected
    info2 = write_info(tmp_path, "nd", server.url("/v/nd.mp4"), licence="Standard YouTube License")
    assert run_row(st, info2, "v2")["error"] == "licence_not_permitted"


def test_http_404(tmp_path, server):
    row = run_row(stage(tmp_path)[0], write_info(tmp_path, "gone", server.url("/v/missing.mp4")))
    assert (row["status"], row["error"]) == ("failed", "http_404")


def test_429_then_success_backs_off(tmp_path, server, media_bytes):
    st, sleeps = stage(tmp_path)
    row = run_row(st, write_info(tmp_path, "flaky", server.url("/v/flaky.mp4")))
    assert row["status"] == "ok", row["error_detail"]
    assert server.hits["/v/flaky.mp4"] == 2 and sleeps == [0.01]
    assert open(row["local_path"], "rb").read() == media_bytes


def test_429_forever_is_rate_limited(tmp_path, server):
    st, sleeps = stage(tmp_path, retries=0)
    server.hits["/v/flaky.mp4"] = 0  # next request is a 429
    row = run_row(st, write_info(tmp_path, "flaky0", server.url("/v/flaky.mp4")))
    assert (row["status"], row["error"]) == ("failed", "rate_limited") and sleeps == []


def test_truncated_body(tmp_path, server):
    st, _ = stage(tmp_path, retries=1)
    row = run_row(st, write_info(tmp_path, "trunc", server.url("/v/truncated.mp4")))
    assert (row["status"], row["error"]) == ("failed", "truncated_download")
    assert row["local_path"] is None
    assert not [p for p in os.listdir(st.dir) if p.startswith("vid0.") and not p.endswith((".part", ".ytdl"))]


def test_oversize_announced_and_streamed(tmp_path, server, media_bytes):
    # announced in the metadata: rejected before any request
    info = write_info(tmp_path, "big1", server.url("/v/big1.mp4"))
    data = json.load(open(info))
    data["formats"][0]["filesize"] = 10**12
    json.dump(data, open(info, "w"))
    st, _ = stage(tmp_path)
    row = run_row(st, info)
    assert (row["status"], row["error"]) == ("rejected", "too_large") and server.hits["/v/big1.mp4"] == 0
    # unknown in the metadata: the Content-Length is over download.max_bytes
    st2, _ = stage(tmp_path, max_bytes=len(media_bytes) // 2)
    row = run_row(st2, write_info(tmp_path, "big2", server.url("/v/big2.mp4")), "vid2")
    assert (row["status"], row["error"]) == ("rejected", "too_large") and row["local_path"] is None


def test_too_long_rejected_before_download(tmp_path, server):
    st, _ = stage(tmp_path, max_duration_s=1.0)
    row = run_row(st, write_info(tmp_path, "long", server.url("/v/long.mp4")))
    assert (row["status"], row["error"]) == ("rejected", "too_long") and server.hits["/v/long.mp4"] == 0


def test_existing_download_is_reused_without_requests(tmp_path, server):
    info = write_info(tmp_path, "again", server.url("/v/again.mp4"))
    first = run_row(stage(tmp_path)[0], info)
    assert first["status"] == "ok" and server.hits["/v/again.mp4"] == 1
    os.remove(info)  # not even the metadata is needed again
    second = run_row(stage(tmp_path)[0], info)
    assert second["status"] == "ok" and second["local_path"] == first["local_path"]
    assert server.hits["/v/again.mp4"] == 1
    assert second["licence"] == "CC-BY-3.0" and str(second["upload_date"]) == "2024-01-31"
    # the gate is re-checked with the current allow-list
    third = run_row(stage(tmp_path, allow_licences=["CC0"])[0], info)
    assert (third["status"], third["error"]) == ("rejected", "licence_not_permitted")


def test_generic_extractor_direct_http(tmp_path, server, media_bytes):
    src = "ytdl://" + server.url("/v/direct.mp4")
    row = run_row(stage(tmp_path)[0], src)  # a bare file has no licence metadata
    assert (row["status"], row["error"]) == ("rejected", "licence_unknown") and row["platform"] == "generic"
    row = run_row(stage(tmp_path, allow_unknown_licence=True)[0], src, "vid9")
    assert row["status"] == "ok", row["error_detail"]
    assert hashlib.sha256(open(row["local_path"], "rb").read()).hexdigest() == hashlib.sha256(media_bytes).hexdigest()


def test_feed_expands_into_one_row_per_entry(server):
    cfg = DownloadConfig()
    src = "ytdl://" + server.url("/feed.xml")
    assert is_collection(src) and not is_collection("ytdl://" + server.url("/v/a.mp4"))
    rows = expand(src, cfg)
    assert [r["source"] for r in rows] == [server.url("/v/feed1.mp4"), server.url("/v/feed2.mp4")]
    assert all(r["source_kind"] == "ytdl" and r["status"] == "ok" for r in rows)
    assert rows == expand(src, cfg)  # deterministic ids
    bad = expand("ytdl://" + server.url("/nothing-here"), cfg)
    assert bad[0]["status"] == "failed" and bad[0]["error"] == "http_404"


def test_source_routing_and_ids():
    cfg = DownloadConfig()
    for src in ("ytsearch5:timelapse city", "ytcc20:ocean waves", "ytsearchall:x", "ytdl://https://example.com/a.mp4",
                "https://www.youtube.com/watch?v=abc123def45", "https://vimeo.com/123456", "/data/x.info.json"):
        assert is_ytdl_source(src, cfg), src
    for src in ("https://example.com/a.mp4", "/data/video.mp4", "s3://bucket/a.mp4", "notes: hello"):
        assert not is_ytdl_source(src, cfg), src
    assert is_collection("ytsearch5:cats") and is_collection("ytcc5:cats")
    assert is_collection("https://www.youtube.com/playlist?list=PL0123456789")
    assert not is_collection("https://youtu.be/abc123def45")
    a = ytdl_video_id(*platform_video_id("https://www.youtube.com/watch?v=abc123def45"), "x")
    b = ytdl_video_id(*platform_video_id("https://youtu.be/abc123def45"), "y")
    assert a == b == ytdl_video_id("Youtube", "abc123def45", "z")
    assert expand("https://youtu.be/abc123def45", cfg)[0]["video_id"] == a  # no request for single videos


def test_classify_errors():
    from yt_dlp.networking.common import Response
    from yt_dlp.networking.exceptions import HTTPError, TransportError
    from yt_dlp.utils import DownloadError, ExtractorError, GeoRestrictedError
    import io

    def http(status):
        return HTTPError(Response(io.BytesIO(b""), "http://x", {}, status=status))

    def wrapped(e):
        try:
            raise e
        except Exception:
            import sys
            return DownloadError(f"ERROR: {e}", sys.exc_info())

    assert classify(wrapped(GeoRestrictedError("The uploader has not made this video available in your country"))) == "geo_blocked"
    assert classify(wrapped(ExtractorError("Private video. Sign in if you've been granted access", expected=True))) == "private"
    assert classify(wrapped(ExtractorError("Sign in to confirm you’re not a bot. Use --cookies", expected=True))) == "bot_check"
    assert classify(wrapped(ExtractorError("Video unavailable. This video has been removed by the uploader", expected=True))) == "unavailable"
    assert classify(wrapped(ExtractorError("Sign in to confirm your age", expected=True))) == "age_restricted"
    assert classify(wrapped(ExtractorError("Join this channel to get access to members-only content", expected=True))) == "members_only"
    assert classify(wrapped(http(429))) == "rate_limited"
    assert classify(wrapped(http(404))) == "http_404"
    assert classify(wrapped(http(503))) == "http_error"
    assert classify(wrapped(TransportError("timed out"))) == "network"
    assert classify(DownloadError("ERROR: Requested format is not available")) == "no_suitable_format"
    assert classify(RuntimeError("something else")) == "download_error"


def test_pipeline_rejected_video_never_reaches_clips(tmp_path, server, make_cfg, ray_local):
    from typer.testing import CliRunner

    from curate.cli import app
    from curate.query import connect
    from curate.pipeline import run_pipeline

    good = write_info(tmp_path, "pipe_ok", server.url("/v/pipe_ok.mp4"))
    bad = write_info(tmp_path, "pipe_nd", server.url("/v/pipe_nd.mp4"), licence="Standard YouTube License")
    cfg = make_cfg([good, bad], download__backoff_s=0.01, cuts__detector="none", filter__enabled="false")
    summary = run_pipeline(cfg)
    assert summary.videos == 2 and summary.videos_ok == 1 and summary.videos_rejected == 1
    assert summary.failures == {"licence_not_permitted": 1}  # rejected videos are counted by reason
    assert server.hits["/v/pipe_nd.mp4"] == 0

    con = connect(cfg.output.dir)
    videos = {r[0]: r[1:] for r in con.execute(
        "SELECT title, status, error, licence, local_path IS NULL, sha256, source_kind FROM videos").fetchall()}
    assert videos["Video pipe_nd"][:4] == ("rejected", "licence_not_permitted", "all-rights-reserved", True)
    ok = videos["Video pipe_ok"]
    assert ok[:3] == ("ok", None, "CC-BY-3.0") and len(ok[4]) == 64 and ok[5] == "ytdl"
    titles = [r[0] for r in con.execute(
        "SELECT v.title FROM clips c JOIN videos v USING (video_id)").fetchall()]  # ok or rejected by scores
    assert titles and set(titles) == {"Video pipe_ok"}
    chapters = con.execute("SELECT chapters[1].title FROM videos WHERE title = 'Video pipe_ok'").fetchone()[0]
    assert chapters == "intro"
    con.close()

    res = CliRunner().invoke(app, ["attribution", cfg.output.dir])
    assert res.exit_code == 0, res.output
    text = open(os.path.join(cfg.output.dir, "ATTRIBUTION.csv")).read().splitlines()
    assert len(text) == 2 and "Video pipe_ok" in text[1] and "CC-BY-3.0" in text[1]
    assert "https://www.youtube.com/watch?v=pipe_ok" in text[1] and "Alice Example" in text[1]
    md = open(os.path.join(cfg.output.dir, "ATTRIBUTION.md")).read()
    assert "[CC-BY-3.0](https://creativecommons.org/licenses/by/3.0/)" in md and "pipe_nd" not in md


def test_discover_routes_and_expands_sources(tmp_path, server, samples):
    from curate.config import InputConfig
    from curate.stages.discover import expand_sources

    info = write_info(tmp_path, "listed", server.url("/v/listed.mp4"))
    lst = tmp_path / "sources.txt"
    lst.write_text("\n".join([
        "# queries and URLs, one per line",
        "ytdl://" + server.url("/feed.xml"),             # expanded: 2 entries
        info,                                            # info JSON: one ytdl row
        "https://youtu.be/abc123def45",                  # platform URL: ytdl, id from the URL
        "https://www.youtube.com/watch?v=abc123def45",   # same video -> same id -> dropped
        server.url("/v/plain.mp4"),                      # plain http: stays with fetch
        samples["bikes"].path,                           # local file
    ]) + "\n")
    rows = expand_sources(InputConfig(sources=[str(lst)]), str(tmp_path / "s"), DownloadConfig())
    kinds = [(r["source_kind"], r["source"]) for r in rows]
    assert kinds == [
        ("ytdl", server.url("/v/feed1.mp4")), ("ytdl", server.url("/v/feed2.mp4")), ("ytdl", info),
        ("ytdl", "https://youtu.be/abc123def45"), ("http", server.url("/v/plain.mp4")),
        ("local", samples["bikes"].path),
    ]
    assert len({r["video_id"] for r in rows}) == len(rows)
    # without a download section (old callers) nothing is routed to yt-dlp
    assert all(r["source_kind"] != "ytdl" for r in expand_sources(InputConfig(sources=[str(lst)]), str(tmp_path / "s")))


def test_format_choice_prefers_h264_mp4_under_max_height(tmp_path, server):
    fmts = [
        {"format_id": "247", "url": server.url("/v/fmt-vp9-720.mp4"), "ext": "webm", "vcodec": "vp9", "acodec": "none", "height": 720, "width": 1280, "tbr": 1500},
        {"format_id": "136", "url": server.url("/v/fmt-h264-720.mp4"), "ext": "mp4", "vcodec": "avc1.4d401f", "acodec": "none", "height": 720, "width": 1280, "tbr": 1200},
        {"format_id": "137", "url": server.url("/v/fmt-h264-1080.mp4"), "ext": "mp4", "vcodec": "avc1.640028", "acodec": "none", "height": 1080, "width": 1920, "tbr": 3000},
        {"format_id": "133", "url": server.url("/v/fmt-h264-240.mp4"), "ext": "mp4", "vcodec": "avc1.4d4015", "acodec": "none", "height": 240, "width": 426, "tbr": 200},
    ]
    for f in fmts:
        f["protocol"] = "http"
    info = write_info(tmp_path, "fmts", fmts[0]["url"], formats=fmts)
    row = run_row(stage(tmp_path)[0], info)
    assert row["status"] == "ok" and row["format_id"] == "136"
    assert server.hits["/v/fmt-h264-720.mp4"] == 1
    assert sum(server.hits[p] for p in ("/v/fmt-vp9-720.mp4", "/v/fmt-h264-1080.mp4", "/v/fmt-h264-240.mp4")) == 0
    row = run_row(stage(tmp_path, max_height=300)[0], info, "vid-240")
    assert row["format_id"] == "133"


def test_audio_merge_with_ffmpeg(tmp_path, server, media_bytes):
    from curate.media import probe

    audio = tmp_path / "a.m4a"
    run_ffmpeg(["-f", "lavfi", "-t", "2", "-i", "sine=frequency=440", "-c:a", "aac", str(audio)])
    server.media_extra = audio.read_bytes()
    fmts = [
        {"format_id": "134", "url": server.url("/v/merge-video.mp4"), "ext": "mp4", "protocol": "http",
         "vcodec": "avc1.4d400c", "acodec": "none", "height": 120, "width": 160},
        {"format_id": "140", "url": server.url("/a/merge-audio.m4a"), "ext": "m4a", "protocol": "http",
         "vcodec": "none", "acodec": "mp4a.40.2", "abr": 128},
    ]
    info = write_info(tmp_path, "merge", fmts[0]["url"], formats=fmts)
    row = run_row(stage(tmp_path, audio=True)[0], info)
    assert row["status"] == "ok", row["error_detail"]
    assert row["format_id"] == "134+140" and row["local_path"].endswith(".mp4")
    assert probe(row["local_path"]).has_audio
    assert sorted(os.listdir(os.path.dirname(row["local_path"]))) == ["vid0.meta.json", "vid0.mp4"]
