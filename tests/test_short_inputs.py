"""Inputs that yield no clip say why; odd frame sizes are cropped to even, not failed; rotation sign.

Real footage: bikes.mp4 cut down / scaled with ffmpeg.
"""

from __future__ import annotations

import pytest
from curate.stages.clips import Clips

from curate.config import ClipsConfig
from curate.media import probe, run_ffmpeg
from curate.samples import ensure_samples
from curate.stage import RunContext


@pytest.fixture(scope="module")
def bikes(tmp_path_factory) -> str:
    return next(s.path for s in ensure_samples(str(tmp_path_factory.mktemp("b"))) if s.name == "bikes")


def make(src: str, out: str, *args: str) -> str:
    run_ffmpeg(["-i", src, *args, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv444p", "-an", out])
    return out


def run_clips(path: str, tmp_path, cuts=(), **cfg) -> list[dict]:
    p = probe(path)
    row = {"video_id": "v" * 32, "local_path": path, **p.as_row(), "cut_frames": list(cuts), "status": "ok"}
    stage = Clips(ClipsConfig(**cfg), RunContext("r", str(tmp_path / "out"), str(tmp_path / "w")))
    return stage.process(row)


def test_too_short_video_is_rejected_with_reason(bikes, tmp_path):
    short = make(bikes, str(tmp_path / "short.mp4"), "-vf", "scale=160:90", "-frames:v", "16")
    (video,) = run_clips(short, tmp_path)
    assert (video["status"], video["error"], video["num_clips"]) == ("rejected", "too_short", 0)
    assert "16 frames" in video["error_detail"] and "clips.min_s" in video["error_detail"]
    one = make(bikes, str(tmp_path / "one.mp4"), "-frames:v", "1")
    (video,) = run_clips(one, tmp_path)
    assert (video["status"], video["error"]) == ("rejected", "too_short")


def test_only_short_shots_or_no_long_take(bikes, tmp_path):
    # bikes: 250 frames (10 s) with cuts at 30/76/137/187/242 -> no shot reaches 3 s
    (video,) = run_clips(bikes, tmp_path, cuts=(30, 76, 137, 187, 242), min_s=3.0, write_files=False, thumbnails=False)
    assert (video["status"], video["error"]) == ("rejected", "shots_too_short")
    (video,) = run_clips(bikes, tmp_path, cuts=(30, 76, 137, 187, 242), min_s=1.0, long_takes_only=True,
                         write_files=False, thumbnails=False)
    assert (video["status"], video["error"]) == ("rejected", "no_long_take")
    out = run_clips(bikes, tmp_path, cuts=(30, 76, 137, 187, 242), min_s=1.0, write_files=False, thumbnails=False)
    assert out[0]["status"] == "ok" and out[0]["num_clips"] == len(out) - 1 >= 1


def test_tiny_video_is_too_small(bikes, tmp_path):
    tiny = make(bikes, str(tmp_path / "tiny.mp4"), "-vf", "scale=1:1", "-frames:v", "75")
    (video,) = run_clips(tiny, tmp_path, min_s=1.0)
    assert (video["status"], video["error"]) == ("rejected", "too_small") and "1x1" in video["error_detail"]


def test_odd_size_is_cropped_to_even(bikes, tmp_path):
    odd = make(bikes, str(tmp_path / "odd.mp4"), "-vf", "scale=161:91", "-frames:v", "75")
    out = run_clips(odd, tmp_path, min_s=1.0)
    clips = [r for r in out if r.get("record") == "clip"]
    assert out[0]["status"] == "ok" and clips and all(c["status"] == "ok" for c in clips), clips
    f = probe(str(tmp_path / "out" / clips[0]["clip_path"]))
    assert (f.width, f.height) == (clips[0]["width"], clips[0]["height"]) == (160, 90)
    assert f.num_frames == clips[0]["num_frames"] == 75


def test_rotation_has_ffprobes_sign(bikes, tmp_path):
    """ffprobe prints the display-matrix angle (counter-clockwise degrees); probe stores it mod 360."""
    small = make(bikes, str(tmp_path / "s.mp4"), "-vf", "scale=160:68", "-frames:v", "10")
    for tag, expect in ((90, 90), (270, 270), (180, 180)):
        rot = str(tmp_path / f"r{tag}.mp4")
        run_ffmpeg(["-i", small, "-c", "copy", "-metadata:s:v:0", f"rotate={tag}", rot])
        import av

        with av.open(rot) as c:  # FFmpeg's own angle for the file (what ffprobe prints)
            ffmpeg_angle = round(next(c.decode(video=0)).rotation)
        assert probe(rot).rotation == expect == ffmpeg_angle % 360
