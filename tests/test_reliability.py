"""Faults end as one line and a non-zero exit, never a traceback; one writer per output."""

from __future__ import annotations

import errno
import os
import time

import pytest
from typer.testing import CliRunner

from curate.cli import app
from curate.lock import OutputBusy, output_lock
from curate.storage import Output


def _run(*args: str):
    return CliRunner().invoke(app, ["run", *args])


def test_second_writer_is_refused_with_the_holder_named(tmp_path):
    out = Output(str(tmp_path / "out"))
    out.makedirs("")
    with output_lock(out, "run-A"):
        with pytest.raises(OutputBusy, match=r"in use by run run-A \(pid \d+"):
            with output_lock(out, "run-B"):
                pass
        res = _run("--set", f"output.dir={out.root}", "--set", "input.sources=[]")
        assert res.exit_code == 2 and "in use by run run-A" in res.output
        errors = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
        assert "Traceback" not in res.output and len(errors) == 1 and "run-A" in errors[0]
    with output_lock(out, "run-B"):  # released when the holder is done
        pass


def test_second_writer_can_wait_for_the_first(tmp_path):
    import threading

    out = Output(str(tmp_path))
    got = []
    with output_lock(out, "A"):
        t = threading.Thread(target=lambda: got.append(output_lock(out, "B", wait_s=10).__enter__()))
        t.start()
        time.sleep(0.5)
        assert not got  # still waiting
    t.join(10)
    assert len(got) == 1


def test_output_dir_that_is_a_file(tmp_path):
    f = tmp_path / "out"
    f.write_text("not a folder")
    res = _run("--set", f"output.dir={f}", "--set", "input.sources=[]")
    assert res.exit_code == 2 and "exists and is not a folder" in res.output and "Traceback" not in res.output


def test_disk_full_at_shard_write_is_one_line(tmp_path, monkeypatch, samples):
    """ENOSPC while committing a shard: exit 1, one line, the manifest lists only complete shards."""
    from curate.shards import ShardWriter

    def full(self, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "out" / "videos" / "x.parquet"))

    monkeypatch.setattr(ShardWriter, "commit", full)
    res = _run("--set", f"output.dir={tmp_path / 'out'}", "--set", f"input.sources=[{samples['bikes'].path}]",
               "--set", "ray.num_cpus=2", "--set", "analyze.enabled=false", "--set", "report.enabled=false")
    assert res.exit_code == 1, res.output
    err = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
    assert len(err) == 1 and "disk full while writing" in err[0] and "re-run resumes" in err[0]
    assert "Traceback" not in res.output


def test_unreachable_ray_address_fails_fast(tmp_path):
    import socket
    import subprocess
    import sys

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    (tmp_path / "x.mp4").write_bytes(b"not needed: Ray is joined before anything is read")
    t0 = time.monotonic()
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    res = subprocess.run([sys.executable, "-m", "curate.run", "--set", f"output.dir={tmp_path / 'out'}",
                          "--set", f"ray.address=127.0.0.1:{port}", "--set", f"input.sources=[{tmp_path / 'x.mp4'}]"],
                         capture_output=True, text=True, timeout=120, env=env)
    assert time.monotonic() - t0 < 30
    assert res.returncode == 2 and "cannot reach the Ray head" in res.stderr, res.stderr[-2000:]
    assert "Traceback" not in res.stderr
    assert not os.path.exists(tmp_path / "out" / "videos")  # nothing was written


def test_every_discovered_path_gets_a_row(tmp_path, samples):
    """A folder named x.mp4 becomes a failed row; a symlinked folder of videos is followed (once)."""
    from curate.config import InputConfig
    from curate.stages.discover import expand_sources

    src = tmp_path / "in"
    (src / "clip.mp4").mkdir(parents=True)  # a folder named like a video
    real = tmp_path / "elsewhere"
    real.mkdir()
    os.symlink(samples["bikes"].path, real / "bikes.mp4")
    os.symlink(real, src / "linked")  # a symlinked folder
    os.symlink(src, real / "loop")  # and a loop back
    rows = expand_sources(InputConfig(sources=[str(src)]), str(tmp_path / "s"))
    by = {os.path.relpath(r["source"], src): r for r in rows}
    assert set(by) == {"clip.mp4", "linked/bikes.mp4"}
    assert by["clip.mp4"]["status"] == "failed" and by["clip.mp4"]["error"] == "not_a_file"
    assert by["linked/bikes.mp4"]["status"] == "ok"


def test_doctor_says_what_will_run_and_what_would_fail(tmp_path):
    f = tmp_path / "afile"
    f.write_text("x")
    ok = CliRunner().invoke(app, ["doctor", "--set", f"output.dir={tmp_path / 'out'}", "--set", "aesthetics.enabled=false"])
    assert ok.exit_code == 0, ok.output
    for line in ("output", "ffmpeg", "ray", "ocr", "aesthetics"):
        assert line in ok.output
    bad = CliRunner().invoke(app, ["doctor", "--set", f"output.dir={f}", "--set", "captions.enabled=true",
                                   "--set", "captions.model=/no/such/model"])
    assert bad.exit_code == 1 and "exists and is not a folder" in bad.output
    assert "no such local folder" in bad.output  # the captioner that would be skipped, and why


def test_a_successful_run_is_quiet(tmp_path, samples):
    """Ray's progress dumps are off: a small run prints a handful of stderr lines, no traceback, no escape codes."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.pop("RAY_DATA_DISABLE_PROGRESS_BARS", None)  # the default a user has
    res = subprocess.run([sys.executable, "-m", "curate.run", "--config", "configs/local.yaml",
                          "--set", f"output.dir={tmp_path / 'out'}", "--set", f"input.sources=[{samples['bikes'].path}]",
                          "--set", "aesthetics.enabled=false", "--set", "report.enabled=false"],
                         capture_output=True, text=True, timeout=600, env=env,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert res.returncode == 0, res.stderr[-3000:]
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) <= 12, "\n".join(lines)
    assert "Traceback" not in res.stderr and "\x1b[" not in res.stderr  # stderr is not a terminal here
    assert any(ln.startswith("curate: videos 1/1") for ln in lines)  # curate's own progress line
    assert (tmp_path / "out" / "logs").is_dir() and any((tmp_path / "out" / "logs").iterdir())
