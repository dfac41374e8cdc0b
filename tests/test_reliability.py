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


def _clip_rows(samples, tmp_path, **clips):
    from curate.config import ClipsConfig
    from curate.media import probe
    from curate.stage import RunContext
    from curate.stages.clips import Clips

    path = samples["bikes"].path
    p = probe(path)
    row = {"video_id": "v1", "local_path": path, "fps": p.fps, "num_frames": 250, "cut_frames": [30, 76, 137, 187, 242],
           "width": p.width, "height": p.height, "rotation": 0, "status": "ok"}
    stage = Clips(ClipsConfig(min_s=1.0, max_s=10.0, **clips), RunContext("r", str(tmp_path / "out"), str(tmp_path / "w")))
    return stage, stage.process(dict(row))


def test_clip_files_are_verified_and_settings_are_part_of_the_reuse_key(tmp_path, samples):
    from curate.media import verify_clip

    _, rows = _clip_rows(samples, tmp_path)
    clips = [r for r in rows if r.get("record") == "clip"]
    assert clips and all(c["status"] == "ok" for c in clips)
    first = tmp_path / "out" / clips[0]["clip_path"]
    assert verify_clip(str(first), clips[0]["num_frames"]) is None
    # a truncated file left by a crash (or a full disk) is never reused
    first.write_bytes(first.read_bytes()[: first.stat().st_size // 2])
    stamps = {c["clip_path"]: (tmp_path / "out" / c["clip_path"]).stat().st_mtime_ns for c in clips}
    _, again = _clip_rows(samples, tmp_path)
    after = {c["clip_path"]: (tmp_path / "out" / c["clip_path"]).stat().st_mtime_ns for c in clips}
    assert verify_clip(str(first), clips[0]["num_frames"]) is None
    assert [p for p in stamps if stamps[p] != after[p]] == [clips[0]["clip_path"]]  # sound files are reused
    # other clip settings on a resume: every file is cut again at the new size
    _, small = _clip_rows(samples, tmp_path, max_height=144)
    import av

    for c in (r for r in small if r.get("record") == "clip"):
        with av.open(str(tmp_path / "out" / c["clip_path"])) as f:
            assert (f.streams.video[0].width, f.streams.video[0].height) == (c["width"], c["height"]) and c["height"] == 144


def test_a_full_disk_while_cutting_fails_the_video_for_a_retry(tmp_path, samples, monkeypatch):
    """ffmpeg says 'No space left on device' (and may still exit 0): the video is failed/disk_full, retried next run."""
    import curate.media
    from curate.config import OutputConfig
    from curate.stage import StageError

    def full(args, timeout=600):
        raise StageError("disk_full", "[out#0/mp4] Error writing trailer: No space left on device")

    monkeypatch.setattr("curate.stages.clips.run_ffmpeg", full)
    _, rows = _clip_rows(samples, tmp_path)
    video, clips = rows[0], rows[1:]
    assert video["status"] == "failed" and video["error"] == "disk_full"
    assert clips and all(c["error"] == "disk_full" for c in clips)
    assert "disk_full" in OutputConfig().retry_errors
    assert curate.media.run_ffmpeg is not full  # only the stage's reference was patched


def test_ffmpeg_reporting_a_full_disk_is_disk_full_even_with_exit_0(tmp_path, monkeypatch):
    import curate.media
    from curate.stage import StageError

    fake = tmp_path / "ffmpeg"
    fake.write_text("#!/bin/sh\necho '[out#0/mp4] Error writing trailer: No space left on device' >&2\nexit 0\n")
    fake.chmod(0o755)
    monkeypatch.setenv("CURATE_FFMPEG", str(fake))
    curate.media.ffmpeg_exe.cache_clear()
    try:
        with pytest.raises(StageError) as e:
            curate.media.run_ffmpeg(["-i", "x", "y.mp4"])
        assert e.value.reason == "disk_full"
    finally:
        monkeypatch.delenv("CURATE_FFMPEG")
        curate.media.ffmpeg_exe.cache_clear()
