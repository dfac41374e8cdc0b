"""Object storage end to end against a real S3 API (moto's server on 127.0.0.1, see s3server.py).

Endpoint and credentials reach every process through the standard AWS environment variables,
as they do on a cluster; nothing store-specific is in the configs.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("s3fs") is None or importlib.util.find_spec("moto") is None,
    reason="needs the s3 extra and moto[server] (pip install -e '.[dev]')")

sys.path.insert(0, os.path.dirname(__file__))


@pytest.fixture(scope="module")
def s3():
    from s3server import start_s3

    srv = start_s3()
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()
    fs = s3fs.S3FileSystem()
    for b in ("src", "out"):
        fs.mkdir(b)
    yield srv
    srv.stop()  # also restores the AWS environment


def _fs():
    import s3fs

    return s3fs.S3FileSystem(skip_instance_cache=True)


def test_output_paths_are_urls_and_writes_are_atomic(s3):
    from curate.storage import Output

    out = Output("s3://out/atomic")
    assert out.path("clips/a.mp4") == "s3://out/atomic/clips/a.mp4"
    assert Output(out.path("")).path("x") == out.path("x")  # a path handed to another process names the same object
    out.write_bytes("a/b.json", b"{}")
    assert out.read_bytes("a/b.json") == b"{}"
    assert out.ls("a") == ["b.json"]  # the temporary key is gone
    f = "/tmp/_curate_s3_put.bin"
    with open(f, "wb") as fh:
        fh.write(os.urandom(1000))
    out.put_file(f, "clips/x.bin")
    assert not os.path.exists(f) and out.ls("clips") == ["x.bin"]


def test_lock_is_atomic_on_s3(s3):
    from curate import lock
    from curate.storage import Output

    out = Output("s3://out/locked")
    out.makedirs("")
    winners: list[str] = []
    start = threading.Barrier(6)

    def contend(i: int) -> None:
        start.wait()
        try:
            with lock.output_lock(out, f"run{i}", 0, 600):
                winners.append(f"run{i}")
                time.sleep(1.5)
        except lock.OutputBusy:
            pass

    ts = [threading.Thread(target=contend, args=(i,)) for i in range(6)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    assert len(winners) == 1  # If-None-Match: exactly one creator
    assert not out.exists(lock.REMOTE_LOCK)  # released


def test_stale_lock_taken_over_once_and_holder_learns_it(s3, monkeypatch):
    from curate import lock
    from curate.storage import Output

    out = Output("s3://out/stale")
    old = {"run_id": "dead", "pid": 1, "host": "h", "started": "2020-01-01T00:00:00+00:00",
           "heartbeat": "2020-01-01T00:00:00+00:00"}
    out.write_bytes(lock.REMOTE_LOCK, json.dumps(old).encode())
    monkeypatch.setattr(lock, "HEARTBEAT_S", 0.3)
    with pytest.raises(lock.LockLost), lock.output_lock(out, "me", 0, 600):
        assert json.loads(out.read_bytes(lock.REMOTE_LOCK))["run_id"] == "me"
        # a second run decides this one is dead and replaces the lock object
        usurper = dict(old, run_id="usurper", heartbeat="2099-01-01T00:00:00+00:00")
        out.write_bytes(lock.REMOTE_LOCK, json.dumps(usurper).encode())
        time.sleep(1.0)
    assert json.loads(out.read_bytes(lock.REMOTE_LOCK))["run_id"] == "usurper"  # not deleted by the loser


def test_discover_list_file_and_prefix_on_the_store(s3):
    from curate.stages.discover import expand_sources

    from curate.config import InputConfig

    fs = _fs()
    for name in ("a.mp4", "sub/b.mp4", "notes.txt"):
        fs.pipe(f"src/disc/{name}", b"x")
    fs.pipe("src/disc/list.txt", b"a.mp4\n# comment\nsub/b.mp4\ns3://src/disc/missing.mp4\n")
    cfg = InputConfig(sources=["s3://src/disc/"])
    assert [r["source"] for r in expand_sources(cfg, "/tmp")] == ["s3://src/disc/a.mp4", "s3://src/disc/sub/b.mp4"]
    cfg = InputConfig(sources=["s3://src/disc/list.txt"])
    rows = expand_sources(cfg, "/tmp")
    assert [r["source"] for r in rows] == ["s3://src/disc/a.mp4", "s3://src/disc/sub/b.mp4",
                                           "s3://src/disc/missing.mp4"]
    assert {r["source_kind"] for r in rows} == {"fsspec"}
    bad = expand_sources(InputConfig(sources=["s3://src/disc/nope.txt"]), "/tmp")
    assert bad[0]["status"] == "failed" and bad[0]["error"] == "not_found"


def _upload_sources(samples) -> list[str]:
    """Two real videos on the store: one found through a list file, one through a prefix."""
    fs = _fs()
    fs.put_file(samples["bikes"].path, "src/e2e/listed/bikes.mp4")
    fs.put_file(samples["synthetic_cuts"].path, "src/e2e/prefix/synthetic.mp4")
    fs.pipe("src/e2e/listed/list.txt", b"bikes.mp4\n")
    return ["s3://src/e2e/listed/list.txt", "s3://src/e2e/prefix/"]


def _config(tmp_path, sources: list[str], out: str, **extra) -> str:
    cfg = {"input": {"sources": sources}, "clips": {"min_s": 0.5, "max_s": 4.0},
           "output": {"dir": out, "shard_videos": 1}, "ray": {"num_cpus": 2}}
    cfg.update(extra)
    p = tmp_path / "cfg.yaml"
    p.write_text(json.dumps(cfg))
    return str(p)


def _env(s3) -> dict:
    env = dict(os.environ, **s3.env)
    env.pop("RAY_ADDRESS", None)
    return env


def test_run_end_to_end_through_the_store(s3, samples, tmp_path):
    from curate.query import query
    from curate.shards import read_manifest
    from curate.storage import Output

    out_url = "s3://out/e2e"
    cfg = _config(tmp_path, _upload_sources(samples), out_url)
    env = _env(s3)
    r = subprocess.run([sys.executable, "-m", "curate.run", "--config", cfg], env=env, capture_output=True,
                       text=True, timeout=500, cwd=str(tmp_path), check=False)
    assert r.returncode == 0, r.stderr[-3000:]
    assert not (tmp_path / "out").exists() and not os.path.exists(os.path.join(str(tmp_path), "out", "e2e"))
    out = Output(out_url)
    m = read_manifest(out)
    assert m["rows"]["videos"] == 2 and m["shards"]
    v = query(out_url, "SELECT source, status, local_path FROM videos ORDER BY source").to_pylist()
    assert [x["source"] for x in v] == ["s3://src/e2e/listed/bikes.mp4", "s3://src/e2e/prefix/synthetic.mp4"]
    assert {x["status"] for x in v} == {"ok"}
    assert all(x["local_path"] is None for x in v)  # never a worker's scratch path in a row
    clips = query(out_url, "SELECT clip_id, clip_path, thumbnail_path FROM clips WHERE status = 'ok'")
    clips = clips.to_pylist()
    assert clips
    fs = _fs()
    for c in clips:
        assert fs.exists(f"out/e2e/{c['clip_path']}") and fs.exists(f"out/e2e/{c['thumbnail_path']}")
    keys = fs.find("out/e2e")
    assert not [k for k in keys if k.endswith(".tmp")]  # every temporary key was renamed or removed
    # the after-run steps read the shards and thumbnails from the store and wrote there
    report = fs.cat("out/e2e/report.html").decode()
    pics = [k for k in keys if "/report_files/" in k and k.endswith(".jpg")]  # thumbnails read back from the store
    assert pics and all(os.path.basename(k) in report for k in pics[:3]), (pics[:3], keys[:20])
    assert "curate" in fs.cat("out/e2e/README.md").decode().lower()  # the dataset card
    assert not m.get("after_errors") and not read_manifest(out)["runs"][-1].get("after_errors"), m["runs"][-1]
    # resume: a second run finds every video done and changes nothing
    r2 = subprocess.run([sys.executable, "-m", "curate.run", "--config", cfg], env=env, capture_output=True,
                        text=True, timeout=500, cwd=str(tmp_path), check=False)
    assert r2.returncode == 0, r2.stderr[-3000:]
    assert read_manifest(out)["runs"][-1]["videos_skipped_done"] == 2
    again = query(out_url, "SELECT clip_id FROM clips WHERE status = 'ok'").column("clip_id").to_pylist()
    assert sorted(again) == sorted(c["clip_id"] for c in clips)


@pytest.mark.slow  # three runs (reference, killed, resumed): ~3-4 min on 2 cores
def test_kill_9_then_resume_against_the_store(s3, samples, tmp_path):
    from curate.query import query
    from curate.shards import read_manifest
    from curate.storage import Output

    srcs = _upload_sources(samples)
    env = _env(s3)
    ref_cfg = _config(tmp_path, srcs, "s3://out/ref")
    (tmp_path / "ref").mkdir()
    r = subprocess.run([sys.executable, "-m", "curate.run", "--config", ref_cfg], env=env, capture_output=True,
                       text=True, timeout=500, check=False)
    assert r.returncode == 0, r.stderr[-3000:]
    cfg = _config(tmp_path, srcs, "s3://out/killed")
    out = Output("s3://out/killed")
    proc = subprocess.Popen([sys.executable, "-m", "curate.run", "--config", cfg], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if out.exists("clips") and out.ls("clips"):  # clip files or shards under way: mid-run
                break
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    # the dead run's lock object is still there; a new run takes it over once it is stale
    r = subprocess.run([sys.executable, "-m", "curate.run", "--config", cfg, "--set", "output.lock_stale_s=1"],
                       env=env, capture_output=True, text=True, timeout=500, check=False)
    assert r.returncode == 0, r.stderr[-3000:]
    sql = "SELECT video_id, clip_id, status FROM clips ORDER BY clip_id"
    assert query("s3://out/killed", sql).to_pylist() == query("s3://out/ref", sql).to_pylist()
    n = query("s3://out/killed", "SELECT count(*) - count(DISTINCT video_id) AS d FROM videos").to_pylist()[0]
    assert n["d"] == 0
    assert read_manifest(out)["rows"]["videos"] == 2


def test_local_copy_reads_a_clip_back_from_the_store(s3, tmp_path):
    """A stage on a node without the fetched source reads the clip file from the store."""
    from curate.storage import Output

    out = Output("s3://out/copies")
    out.write_bytes("clips/ab/c1.mp4", b"clip-bytes")
    p = out.local_copy("clips/ab/c1.mp4", str(tmp_path))
    assert p and p.startswith(str(tmp_path))
    with open(p, "rb") as fh:
        assert fh.read() == b"clip-bytes"
    assert out.local_copy("clips/ab/missing.mp4", str(tmp_path)) is None


def test_doctor_checks_store_access_before_work(s3):
    from curate.config import load_config
    from curate.doctor import _output, _sources

    _fs().pipe("src/doctor/a.mp4", b"x")
    cfg = load_config(None, ["output.dir=s3://out/doctor"])
    cfg.input.sources = ["s3://src/doctor/", "s3://src/doctor-missing/"]
    assert _output(cfg).status == "ok"
    assert not _fs().exists("out/doctor/.curate-doctor-probe")  # the write probe is cleaned up
    assert [c.status for c in _sources(cfg)] == ["ok", "fail"]
    cfg = load_config(None, ["output.dir=s3://no-such-bucket/x"])
    assert _output(cfg).status == "fail"


TINY_TRAIN = ["train.frames=[4]", "train.resolutions=[32]", "train.fps=8", "train.batch_size=2",
              "train.model.dim=32", "train.model.depth=1", "train.model.heads=2", "train.model.vocab_size=256",
              "train.model.max_tokens=8", "train.cpus_per_worker=0.5", "train.warmup_steps=1", "train.log_every=2",
              "train.checkpoint_every=2", "train.decode_batch=2", "train.steps=2",
              "train.fallback_caption=street footage"]


@pytest.mark.slow  # a run that ends with Ray Train (torch): ~2 min on 2 cores
def test_training_reads_selection_and_clips_from_the_store_and_writes_checkpoints_there(s3, samples, tmp_path):
    pytest.importorskip("torch")
    from curate.shards import read_manifest
    from curate.storage import Output

    _fs().put_file(samples["synthetic_cuts"].path, "src/train/synthetic.mp4")
    cfg = _config(tmp_path, ["s3://src/train/"], "s3://out/train")
    sets = ["train.enabled=true", "analyze.ocr=false", "filter.enabled=false", "train.name=s3",
            "train.resume=true", *TINY_TRAIN]
    r = subprocess.run([sys.executable, "-m", "curate.run", "--config", cfg, *[a for s in sets for a in ("--set", s)]],
                       env=_env(s3), capture_output=True, text=True, timeout=600, cwd=str(tmp_path), check=False)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert not any(p.name != "cfg.yaml" for p in tmp_path.iterdir())  # nothing written to the local disk
    rec = read_manifest(Output("s3://out/train"))["trainings"][-1]
    assert rec["selected_rows"] > 0 and str(rec.get("checkpoint", "")).startswith("s3://out/train/train/"), rec
    keys = _fs().find("out/train/train/s3")
    assert any("/selection/part-" in k for k in keys), keys  # the selection workers read, on the store
    assert any("checkpoint" in k for k in keys) and any(k.endswith("/train_record.json") for k in keys), keys
