"""A killed run leaves no partial shard; rerunning completes without duplicates."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pyarrow as pa

from curate.query import query
from curate.schemas import CLIPS, VIDEOS
from curate.shards import ShardWriter, read_manifest
from curate.storage import Output


def test_orphans_from_a_killed_commit_are_removed(tmp_path):
    out = Output(str(tmp_path))
    w = ShardWriter(out, "r1", "h", shard_clips=10, shard_videos=10)
    w.commit(VIDEOS.empty_table(), CLIPS.empty_table())
    # a commit that died between writing the files and rewriting the manifest
    (tmp_path / "videos" / "part-00001.parquet").write_bytes(b"partial")
    (tmp_path / "clips" / ".part-00001.parquet.1234abcd.tmp").write_bytes(b"partial")
    w2 = ShardWriter(out, "r2", "h", shard_clips=10, shard_videos=10)
    assert sorted(os.listdir(tmp_path / "videos")) == ["part-00000-r1.parquet"]
    assert sorted(os.listdir(tmp_path / "clips")) == ["part-00000-r1.parquet"]
    assert w2.next_index == 1


def test_only_complete_videos_are_committed(tmp_path):
    from curate.schemas import stream_schema

    out = Output(str(tmp_path))
    w = ShardWriter(out, "r", "h", shard_clips=1, shard_videos=1)
    s = stream_schema()
    video = {"record": "video", "video_id": "a", "status": "ok", "num_clips": 2}
    clip = {"record": "clip", "video_id": "a", "clip_id": "c1", "status": "ok"}
    w.add(pa.Table.from_pylist([clip], schema=s))
    w.add(pa.Table.from_pylist([video], schema=s))
    assert read_manifest(out)["shards"] == []  # 1 of 2 clips: not complete, nothing written
    w.add(pa.Table.from_pylist([dict(clip, clip_id="c2")], schema=s))
    m = read_manifest(out)
    assert m["rows"] == {"videos": 1, "clips": 2}


def test_kill_midway_then_resume(tmp_path, samples):
    out = tmp_path / "out"
    srcs = [s.path for s in samples.values()]
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(json.dumps({
        "input": {"sources": srcs * 1},
        "clips": {"min_s": 0.5, "max_s": 2.0},  # many small clips -> a longer run
        "output": {"dir": str(out), "shard_videos": 1},
        "ray": {"num_cpus": 1},
    }))
    env = dict(os.environ)
    env.pop("RAY_ADDRESS", None)
    proc = subprocess.Popen([sys.executable, "-m", "curate.run", "--config", str(cfg)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    manifest = out / "manifest.json"
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if manifest.exists() and json.loads(manifest.read_text())["shards"]:
                break
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and its Ray processes, mid-run
        proc.wait()
    committed = json.loads(manifest.read_text())["rows"]["videos"] if manifest.exists() else 0
    # rerun the same config to completion
    done = subprocess.run([sys.executable, "-m", "curate.run", "--config", str(cfg)], env=env,
                          capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = query(str(out), "SELECT count(*) AS n, count(DISTINCT video_id) AS d FROM videos").to_pylist()[0]
    assert rows == {"n": len(srcs), "d": len(srcs)}
    dup = query(str(out), "SELECT count(*) - count(DISTINCT clip_id) AS d FROM clips").to_pylist()[0]["d"]
    assert dup == 0
    listed = {s[t] for s in json.loads(manifest.read_text())["shards"] for t in ("videos", "clips")}
    on_disk = {f"{t}/{f}" for t in ("videos", "clips") for f in os.listdir(out / t) if f.endswith(".parquet")}
    assert on_disk == listed  # no partial or orphan shard
    last = json.loads(manifest.read_text())["runs"][-1]
    assert committed >= 1 and last["videos_skipped_done"] == committed  # resumed, not redone
    assert last["videos"] == len(srcs) - committed
