"""What the yt-dlp path costs per video compared with the plain ``fetch`` path, on loopback.

Serves N files of S MiB from a threaded http.server on 127.0.0.1 and downloads each one
(a) with ``stages.fetch.http_download`` (requests, streaming) — the baseline, and
(b) through the ``download`` stage: info JSON -> licence gate -> YoutubeDL.process_ie_result,
and (c) the download stage again over the same files (re-run: reuse, no request).

    .venv/bin/python benchmarks/download.py [N] [MiB]

Prints seconds per video and the ratio (b)/(a): yt-dlp's overhead over a bare HTTP copy.
Network speed is not measured (loopback); on real platforms the metadata request dominates.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pyarrow as pa


def main(n: int = 20, mib: int = 8) -> None:
    from curate.config import DownloadConfig, FetchConfig
    from curate.schemas import stream_schema
    from curate.stage import RunContext
    from curate.stages.download import Download
    from curate.stages.fetch import http_download

    body = os.urandom(mib * 1024 * 1024)

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_address[1]}"

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        for i in range(n):
            http_download(f"{url}/a{i}.mp4", os.path.join(tmp, f"a{i}.mp4"), FetchConfig())
        t_fetch = time.perf_counter() - t0

        rows = []
        for i in range(n):
            info = {"_type": "video", "id": f"b{i}", "title": f"b{i}", "extractor": "youtube", "extractor_key": "Youtube",
                    "webpage_url": f"https://www.youtube.com/watch?v=b{i}", "license": "Creative Commons Attribution license (reuse allowed)",
                    "formats": [{"format_id": "18", "url": f"{url}/b{i}.mp4", "ext": "mp4", "protocol": "http",
                                 "vcodec": "avc1", "acodec": "mp4a", "height": 360}]}
            p = os.path.join(tmp, f"b{i}.info.json")
            with open(p, "w") as f:
                json.dump(info, f)
            rows.append({"record": "video", "video_id": f"vid{i}", "source": p, "source_kind": "ytdl", "status": "ok"})
        table = pa.Table.from_pylist(rows, schema=stream_schema())
        ctx = RunContext(run_id="bench", output_dir=tmp, work_dir=tmp)
        stage = Download(DownloadConfig(), ctx)
        t0 = time.perf_counter()
        for i in range(n):
            out = stage(table.slice(i, 1)).to_pylist()[0]
            assert out["status"] == "ok", out
        t_ytdl = time.perf_counter() - t0

        t0 = time.perf_counter()
        for i in range(n):
            assert Download(DownloadConfig(), ctx)(table.slice(i, 1)).to_pylist()[0]["status"] == "ok"
        t_reuse = time.perf_counter() - t0
    srv.shutdown()

    mb = n * mib
    print(f"{n} videos x {mib} MiB on loopback")
    print(f"fetch (requests)         : {t_fetch:7.2f} s  {1000 * t_fetch / n:7.1f} ms/video  {mb / t_fetch:7.1f} MiB/s")
    print(f"download (yt-dlp + gate) : {t_ytdl:7.2f} s  {1000 * t_ytdl / n:7.1f} ms/video  {mb / t_ytdl:7.1f} MiB/s")
    print(f"download re-run (reuse)  : {t_reuse:7.2f} s  {1000 * t_reuse / n:7.1f} ms/video")
    print(f"ratio yt-dlp / fetch     : {t_ytdl / t_fetch:.2f}x")
    print(f"ratio re-run / fetch     : {t_reuse / t_fetch:.3f}x")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    main(*args)
