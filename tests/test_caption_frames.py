"""caption_frames: keyframe selection against real cuts, window sampling, decode sources."""

from __future__ import annotations

import numpy as np
import pytest
from curate.stages.caption_frames import (
    CaptionFrames,
    KeyframeSelector,
    extract_frames,
    signature,
    similarity,
    window_spans,
    window_targets,
)

from curate.config import CaptionsConfig
from curate.stage import RunContext

FPS = 25.0


def _after_each_cut(keys_s: list[float], cuts: tuple[int, ...], tol: int = 3) -> list[int]:
    """Cuts with no keyframe in [cut, cut + tol] frames."""
    frames = [round(k * FPS) for k in keys_s]
    return [c for c in cuts if not any(c <= f <= c + tol for f in frames)]


@pytest.mark.parametrize("interval", [4.0, 100.0])
def test_bikes_keyframe_after_every_cut(samples, interval):
    s = samples["bikes"]
    cfg = CaptionsConfig(keyframe_interval_s=interval, max_keyframes=50)
    frames, keys = extract_frames(s.path, 0.0, None, 10.0, cfg)
    assert keys[0] == 0.0
    assert _after_each_cut(keys, s.cuts) == [], [round(k * FPS) for k in keys]
    # similarity keyframes are not every frame: at most a few per shot
    assert len(keys) <= 2 * (len(s.cuts) + 1) + (10 / interval)
    assert all(isinstance(f["jpeg"], bytes) and f["jpeg"][:2] == b"\xff\xd8" for f in frames)


def test_periodic_keyframes_without_cuts(samples):
    """bigbuckbunny has no cut: keyframes still come at least every keyframe_interval_s."""
    cfg = CaptionsConfig(keyframe_interval_s=1.0, keyframe_threshold=-1.0, max_keyframes=50)
    _, keys = extract_frames(samples["bigbuckbunny"].path, 0.0, 4.0, 4.0, cfg)
    assert keys[0] == 0.0 and len(keys) == 4
    assert np.allclose(np.diff(keys), 1.0, atol=0.05)


def test_max_keyframes_keeps_first_and_most_novel(samples):
    cfg = CaptionsConfig(keyframe_interval_s=0.2, max_keyframes=3)
    _, keys = extract_frames(samples["bikes"].path, 0.0, None, 10.0, cfg)
    assert len(keys) == 3 and keys[0] == 0.0 and keys == sorted(keys)


def test_similarity_measures():
    ramp = np.linspace(0, 255, 64, dtype=np.uint8)[None, :].repeat(36, 0)
    a = np.stack([ramp // 4, ramp // 3, ramp], axis=-1)  # BGR: a red ramp, dark on the left
    b = np.zeros_like(a)
    b[:18], b[18:] = (200, 120, 20), (30, 200, 40)  # blue sky over green grass
    for m in ("hsv_hist", "cosine"):
        assert similarity(signature(a, m), signature(a, m), m) == pytest.approx(1.0, abs=1e-5)
        assert similarity(signature(a, m), signature(b, m), m) < 0.7
    sel = KeyframeSelector(interval_s=10, threshold=0.7)
    assert sel.update(0.0, signature(a, "hsv_hist"))[0]
    assert not sel.update(0.04, signature(a, "hsv_hist"))[0]
    assert sel.update(0.08, signature(b, "hsv_hist"))[0]


def test_windows_cover_clip_and_sample_at_fps():
    spans = window_spans(10.0, 4.0)  # 10 s / 4 s -> 2 equal windows, no 2-s tail
    assert spans == [(0.0, 5.0), (5.0, 10.0)]
    cfg = CaptionsConfig(window_s=4.0, frames_fps=2.0, max_frames_per_window=3)
    t = window_targets(10.0, cfg)
    assert [w for _, w in t] == [0, 0, 0, 1, 1, 1]
    assert all(a <= x < b for x, w in t for (a, b) in [spans[w]])
    assert window_spans(0.5, 4.0) == [(0.0, 0.5)]


def test_span_decode_from_source_is_clip_relative(samples):
    cfg = CaptionsConfig(window_s=1.0, frames_fps=2.0)
    frames, keys = extract_frames(samples["bikes"].path, 1.4, 2.8, 1.4, cfg)  # inside shot 30..76
    assert keys[0] == 0.0
    assert all(0.0 <= f["t_s"] < 1.4 for f in frames)
    assert {f["window"] for f in frames if f["window"] >= 0} == {0}


def test_stage_sources_and_failure(samples, tmp_path):
    ctx = RunContext("r", str(tmp_path), str(tmp_path))
    stage = CaptionFrames(CaptionsConfig(), ctx)
    row = {"record": "clip", "status": "ok", "clip_id": "c", "local_path": samples["bikes"].path, "clip_path": None,
           "start_s": 1.2, "end_s": 3.0, "duration_s": 1.8}
    out = stage.process(dict(row))
    assert out["caption_frames"] and out["caption_keyframes_s"][0] == 0.0 and out.get("caption_status") is None
    bad = stage.process(dict(row, local_path=str(tmp_path / "gone.mp4")))
    assert bad["status"] == "ok"  # a caption problem never fails the clip
    assert bad["caption_status"] == "failed" and bad["caption_error"] == "no_media"
