"""`ray job submit --working-dir . -- python -m curate.run ...` (then `python -m curate.train`) against a local `ray start --head`."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from curate.query import query

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _kill_tree_matching(marker: str) -> None:
    import psutil

    for p in psutil.process_iter(["cmdline"]):
        try:
            if marker in " ".join(p.info["cmdline"] or []):
                p.send_signal(signal.SIGKILL)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass


@pytest.mark.ray_cluster
def test_ray_job_submit(tmp_path, samples):
    ray_bin = os.path.join(os.path.dirname(sys.executable), "ray")
    if not os.path.exists(ray_bin):
        ray_bin = shutil.which("ray")
    assert ray_bin, "the ray CLI is installed with curate"
    # A private temp dir marks every process of this head so only they are stopped
    # (`ray stop` would also kill the test session's own Ray instance).
    temp_dir = f"/tmp/ray-jobtest-{os.getpid()}"
    port, dash = _free_port(), _free_port()
    # every port explicit: another Ray on this machine (e.g. this test session's) holds the defaults
    extra = [f"--{name}={_free_port()}" for name in (
        "dashboard-agent-listen-port", "dashboard-agent-grpc-port", "runtime-env-agent-port",
        "metrics-export-port", "ray-client-server-port", "node-manager-port", "object-manager-port")]
    # the job's `python` must be this environment's interpreter
    env = dict(os.environ, RAY_AUTH_MODE="disabled",
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    env.pop("RAY_ADDRESS", None)
    out = str(tmp_path / "jobout")
    try:
        subprocess.run([ray_bin, "start", "--head", "--num-cpus=2", "--disable-usage-stats",
                        f"--port={port}", f"--dashboard-port={dash}", f"--temp-dir={temp_dir}", *extra],
                       check=True, env=env, capture_output=True, timeout=180)
        sources = ",".join(f'"{s.path}"' for s in samples.values())
        cmd = [ray_bin, "job", "submit", f"--address=http://127.0.0.1:{dash}", "--working-dir", ".", "--",
               "python", "-m", "curate.run", "--config", "configs/local.yaml",
               "--set", f"output.dir={out}", "--set", f"input.sources=[{sources}]"]
        deadline = time.monotonic() + 120
        while True:  # the head's job agent needs a moment after `ray start` on a busy machine
            proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=420)
            if "No available agent" not in proc.stderr + proc.stdout or time.monotonic() > deadline:
                break
            time.sleep(3)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert "succeeded" in proc.stdout + proc.stderr
        # the last stage on its own, submitted the same way: Ray Train on the shards just written
        tiny = ["train.frames=[4]", "train.resolutions=[32]", "train.batch_size=2", "train.steps=2",
                "train.model.dim=32", "train.model.depth=1", "train.model.heads=2", "train.model.vocab_size=256",
                "train.cpus_per_worker=0.5", "train.warmup_steps=1", "train.checkpoint_every=2", "train.log_every=1"]
        cmd = [ray_bin, "job", "submit", f"--address=http://127.0.0.1:{dash}", "--working-dir", ".", "--",
               "python", "-m", "curate.train", "--shards", out, "--config", "configs/local.yaml",
               *sum((["--set", s] for s in tiny), [])]
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=420)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert "succeeded" in proc.stdout + proc.stderr
    finally:
        _kill_tree_matching(temp_dir)
        time.sleep(1)
        shutil.rmtree(temp_dir, ignore_errors=True)
    n = query(out, "SELECT count(*) AS v, (SELECT count(*) FROM clips) AS c FROM videos").to_pylist()[0]
    assert n["v"] == len(samples) and n["c"] >= 10
    from curate.shards import read_manifest
    from curate.storage import Output

    [training] = read_manifest(Output(out))["trainings"]  # the checkpoint is linked to the shards it saw
    assert training["step"] == 2 and training["selected_rows"] > 0 and training["checkpoint"]
