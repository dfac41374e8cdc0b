"""Nodes that share nothing but the store: a 3-node Ray cluster on one machine.

Each node gets its own scratch folder (``CURATE_WORK_DIR`` in the node's environment, which its
workers inherit); sources and output live on a local S3 API (moto, see s3server.py). A stage
that wrote to its node's disk and expected another node (or the driver) to read it back would
fail here, as it would on a real cluster. One worker node is killed mid-run.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time

import pytest

pytestmark = [
    pytest.mark.skipif(importlib.util.find_spec("s3fs") is None or importlib.util.find_spec("moto") is None,
                       reason="needs the s3 extra and moto[server] (pip install -e '.[dev]')"),
    pytest.mark.ray_cluster,
    pytest.mark.slow,  # three Ray nodes and two runs on a 2-core machine: minutes
]

sys.path.insert(0, os.path.dirname(__file__))


def _run(cfg: str, env: dict, address: str, out: str, popen: bool = False):
    cmd = [sys.executable, "-m", "curate.run", "--config", cfg, "--set", f"ray.address={address}",
           "--set", f"output.dir={out}"]
    if popen:
        return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=False)


def test_nodes_share_nothing_but_the_store(tmp_path, samples):
    import s3fs
    from ray.cluster_utils import Cluster
    from s3server import start_s3

    from curate.query import query
    from curate.shards import read_manifest
    from curate.storage import Output

    srv = start_s3()
    s3fs.S3FileSystem.clear_instance_cache()
    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    fs.mkdir("src")
    fs.mkdir("out")
    names = [f"{n}-{k}" for n in sorted(samples) for k in (1, 2)]  # 6 videos: enough blocks for 3 nodes
    for n in names:
        fs.put_file(samples[n.rsplit("-", 1)[0]].path, f"src/videos/{n}.mp4")
    scratch = {k: tmp_path / f"scratch-{k}" for k in ("head", "w1", "w2", "driver")}
    for d in scratch.values():
        d.mkdir()
    base_env = {**srv.env, "RAY_DATA_DISABLE_PROGRESS_BARS": "1"}
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "env_vars": {**base_env, "CURATE_WORK_DIR": str(scratch["head"])}})
    try:
        w1 = cluster.add_node(num_cpus=1, env_vars={**base_env, "CURATE_WORK_DIR": str(scratch["w1"])})
        w2 = cluster.add_node(num_cpus=1, env_vars={**base_env, "CURATE_WORK_DIR": str(scratch["w2"])})
        cluster.wait_for_nodes()
        assert w1 and w2
        cfg = tmp_path / "cfg.yaml"
        cfg.write_text(json.dumps({"input": {"sources": ["s3://src/videos/"]},
                                   "clips": {"min_s": 0.5, "max_s": 4.0},
                                   "output": {"shard_videos": 1}}))
        env = dict(os.environ, **base_env, CURATE_WORK_DIR=str(scratch["driver"]))
        env.pop("RAY_ADDRESS", None)

        # reference: all three nodes up for the whole run
        ref = _run(str(cfg), env, cluster.address, "s3://out/ref")
        assert ref.returncode == 0, ref.stderr[-3000:]
        oks = query("s3://out/ref", "SELECT count(*) AS n FROM videos WHERE status = 'ok'").to_pylist()[0]["n"]
        assert oks == len(names), query("s3://out/ref", "SELECT source, error, error_detail FROM videos")
        bad = query("s3://out/ref", "SELECT clip_id, error, error_detail FROM clips WHERE status = 'failed'")
        assert bad.num_rows == 0, bad.to_pylist()  # e.g. source_missing: a clip scored on a node without the source
        used = {k: sorted(str(p.relative_to(scratch[k])) for p in scratch[k].rglob("*") if p.is_file())
                for k in scratch}
        # the worker nodes fetched into their own scratch folders (Ray packs the stages of a video
        # onto one node or spreads them as it sees fit; both must work), the driver fetched nothing
        assert any(used[k] for k in ("head", "w1", "w2")), used
        assert not used["driver"], used

        # the same run, one worker node killed once the first shard is committed
        out = Output("s3://out/killed")
        proc = _run(str(cfg), env, cluster.address, "s3://out/killed", popen=True)
        deadline, killed = time.monotonic() + 400, False
        while time.monotonic() < deadline and proc.poll() is None:
            if out.exists("manifest.json") and json.loads(out.read_bytes("manifest.json"))["shards"]:
                cluster.remove_node(w2, allow_graceful=False)
                killed = True
                break
            time.sleep(0.2)
        log, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, log[-3000:]
        mode = "mid-run" if killed else "never (the run ended before the first poll)"
        m = read_manifest(out)
        assert killed, mode
        sql_v = "SELECT video_id, status FROM videos ORDER BY video_id"
        sql_c = "SELECT video_id, clip_id, clip_path FROM clips ORDER BY clip_id"
        assert query("s3://out/killed", sql_v).to_pylist() == query("s3://out/ref", sql_v).to_pylist()
        assert query("s3://out/killed", sql_c).to_pylist() == query("s3://out/ref", sql_c).to_pylist()
        assert m["rows"]["videos"] == len(names)
        bad = query("s3://out/killed", "SELECT clip_id, error, error_detail FROM clips WHERE status = 'failed'")
        assert bad.num_rows == 0, bad.to_pylist()
        oks = query("s3://out/killed", "SELECT count(*) AS n FROM videos WHERE status = 'ok'").to_pylist()[0]["n"]
        assert oks == len(names), query("s3://out/killed", "SELECT source, error, error_detail FROM videos")

        # no row anywhere holds a node's scratch path (or any local path: sources are on the store)
        for url in ("s3://out/ref", "s3://out/killed"):
            for table in ("videos", "clips"):
                t = query(url, f"SELECT * FROM {table}")
                for name in t.column_names:
                    if str(t.schema.field(name).type) != "string":
                        continue
                    for v in t.column(name).to_pylist():
                        assert not (v and str(tmp_path) in v), f"{table}.{name} = {v}"
                        assert not (v and v.startswith("/")), f"{table}.{name} = {v}"
        # every clip file and thumbnail is on the store
        for c in query("s3://out/killed", "SELECT clip_path, thumbnail_path FROM clips WHERE status = 'ok'").to_pylist():
            assert fs.exists(f"out/killed/{c['clip_path']}") and fs.exists(f"out/killed/{c['thumbnail_path']}")
    finally:
        cluster.shutdown()
        srv.stop()  # also restores the AWS environment
