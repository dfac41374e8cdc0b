"""Clip files of phone-style video: the display matrix is honoured in the clip files and columns."""

from __future__ import annotations

import pytest

from curate.config import ClipsConfig
from curate.media import probe, run_ffmpeg
from curate.stage import RunContext
from curate.stages.clips import Clips


@pytest.fixture(scope="module")
def rotated(tmp_path_factory):
    """A 320x180 (coded, landscape) 2 s video carrying a 90-degree display rotation: a portrait phone clip."""
    d = tmp_path_factory.mktemp("rot")
    plain, rot = str(d / "plain.mp4"), str(d / "rot90.mp4")
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-t", "2", "-c:v", "libx264",
                "-preset", "ultrafast", "-pix_fmt", "yuv420p", plain])
    run_ffmpeg(["-i", plain, "-c", "copy", "-metadata:s:v:0", "rotate=90", rot])
    return rot


def _clip_rows(path: str, tmp_path, **cfg):
    p = probe(path)
    assert p.rotation % 180 == 90 and (p.width, p.height) == (320, 180)  # the matrix is really there
    row = {"video_id": "v" * 32, "local_path": path, "fps": p.fps, "num_frames": p.num_frames, "cut_frames": [],
           "width": p.width, "height": p.height, "rotation": p.rotation}
    stage = Clips(ClipsConfig(min_s=1.0, **cfg), RunContext("r", str(tmp_path / "out"), str(tmp_path / "work")))
    out = stage.process(row)
    clips = [r for r in out if r.get("record") == "clip"]
    assert clips and all(c["status"] == "ok" for c in clips), clips
    return clips


@pytest.mark.parametrize("max_height,expect", [(None, (180, 320)), (160, (90, 160))])
def test_rotated_source_gives_upright_clips_with_displayed_size(rotated, tmp_path, max_height, expect):
    clips = _clip_rows(rotated, tmp_path, max_height=max_height)
    for c in clips:
        assert (c["width"], c["height"]) == expect  # the columns are the displayed size...
        f = probe(str(tmp_path / "out" / c["clip_path"]))
        assert (f.width, f.height, f.rotation % 360) == (*expect, 0)  # ...and the file's: upright, not squashed


def test_stream_copy_keeps_coded_pixels_and_matrix(rotated, tmp_path):
    clips = _clip_rows(rotated, tmp_path, codec="copy", max_height=160)  # copy never scales
    f = probe(str(tmp_path / "out" / clips[0]["clip_path"]))
    assert (f.width, f.height) == (320, 180) and f.rotation % 180 == 90  # coded pixels + the matrix
    assert (clips[0]["width"], clips[0]["height"]) == (180, 320)  # the columns are the displayed size


def test_training_feed_decodes_stream_copied_phone_clips_upright(rotated, tmp_path):
    """A stream-copied rotated clip (coded landscape + matrix) reaches training upright, in a
    portrait bucket, with the pixels of ffmpeg's autorotated re-encode."""
    import numpy as np

    from curate.train.feed import BucketSpec, decode_clip

    upright = str(tmp_path / "upright.mp4")
    run_ffmpeg(["-i", rotated, "-c:v", "libx264", "-preset", "ultrafast", "-crf", "10", upright])
    [clip] = [c for c in _clip_rows(rotated, tmp_path, codec="copy")][:1]
    spec = BucketSpec(("16:9", "9:16"), (32,), (4,), 8.0)
    bucket = spec.assign(clip["width"], clip["height"], clip["duration_s"], clip["fps"])
    assert bucket.aspect == "9:16" and (bucket.width, bucket.height) == (32, 56)
    got = decode_clip(rotated, bucket, 8.0)
    want = decode_clip(upright, bucket, 8.0)
    assert got.shape == want.shape == (4, 56, 32, 3)
    assert np.abs(got.astype(int) - want.astype(int)).mean() < 12  # same picture, same orientation
    assert np.abs(np.rot90(got, 2, axes=(1, 2)).astype(int) - want.astype(int)).mean() > 30  # not upside down


def test_caption_frames_are_upright(rotated, tmp_path):
    """Frames for the captioner come out upright from a rotated source (portrait JPEGs)."""
    import av
    import cv2
    import numpy as np

    from curate.stages.caption_frames import encode_jpeg

    with av.open(rotated) as c:
        frame = next(c.decode(video=0))
    img = cv2.imdecode(np.frombuffer(encode_jpeg(frame, 160, 90), np.uint8), cv2.IMREAD_COLOR)
    assert img.shape[:2] == (160, 90)  # portrait, as displayed
