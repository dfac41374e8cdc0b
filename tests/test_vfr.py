"""Variable-frame-rate sources: clip rows and clip files agree on timing, analysis finds the span.

Ground truth: the first 145 frames of bikes.mp4 (real handheld footage, cuts at 30/76/137) with
REAL timestamps at three rates: frames 0-49 at 25 fps (0-2 s), 50-69 at 10 fps (2-4 s), 70-144
at 50 fps (4-5.5 s). Clip files are resampled to a constant 50 fps, the fastest steady rate.
"""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
from curate.stages.clips import Clips

from curate.analysers.frames import Frame, SpanReader
from curate.config import ClipsConfig
from curate.media import ffmpeg_exe, frame_times, is_vfr, iter_frames, probe, run_ffmpeg
from curate.samples import ensure_samples
from curate.stage import RunContext, StageError


def true_time(i: int) -> float:
    return i / 25 if i < 50 else (2 + (i - 50) / 10 if i < 70 else 4 + (i - 70) / 50)


@pytest.fixture(scope="module")
def bikes(tmp_path_factory) -> str:
    d = tmp_path_factory.mktemp("bikes")
    return next(s.path for s in ensure_samples(str(d)) if s.name == "bikes")


@pytest.fixture(scope="module")
def vfr(bikes, tmp_path_factory) -> str:
    out = str(tmp_path_factory.mktemp("vfr") / "vfr.mp4")
    run_ffmpeg(["-i", bikes, "-vf", "trim=end_frame=145,setpts='if(lt(N,50),N/25,if(lt(N,70),2+(N-50)/10,4+(N-70)/50))/TB'",
                "-fps_mode", "passthrough", "-enc_time_base", "1/1000", "-c:v", "libx264", "-preset", "ultrafast",
                "-pix_fmt", "yuv420p", out])
    return out


def ffprobe_stream(path: str) -> dict:
    exe = ffmpeg_exe().replace("ffmpeg", "ffprobe")
    try:
        out = subprocess.run([exe, "-v", "error", "-select_streams", "v", "-count_frames", "-show_entries",
                              "stream=nb_read_frames,avg_frame_rate,r_frame_rate", "-of", "json", path],
                             capture_output=True, check=True).stdout
        s = json.loads(out)["streams"][0]
        num, den = map(int, s["avg_frame_rate"].split("/"))
        return {"frames": int(s["nb_read_frames"]), "fps": num / den}
    except (OSError, subprocess.CalledProcessError):  # no ffprobe beside ffmpeg: count with PyAV
        import av

        with av.open(path) as c:
            vs = c.streams.video[0]
            return {"frames": sum(1 for _ in c.decode(vs)), "fps": float(vs.average_rate)}


def gray_frames(path: str) -> list[np.ndarray]:
    return [img[..., 1].astype(np.float32) for _, _, img in iter_frames(path, 160)]


def test_probe_flags_vfr(vfr, bikes):
    assert probe(vfr).vfr and not probe(bikes).vfr
    t = frame_times(vfr)
    assert len(t.pts) == 145 and np.allclose(t.seconds, [true_time(i) for i in range(145)], atol=1e-3)
    assert not is_vfr(frame_times(bikes))


@pytest.mark.parametrize("one_pass", [True, False])
def test_vfr_clip_files_match_rows(vfr, tmp_path, one_pass):
    p = probe(vfr)
    row = {"video_id": "v" * 32, "local_path": vfr, **p.as_row(), "cut_frames": [30, 76, 137]}
    # audio on = one ffmpeg per clip (the fallback path); the source has no audio, so none is written
    stage = Clips(ClipsConfig(min_s=1.0, audio=not one_pass), RunContext("r", str(tmp_path / "out"), str(tmp_path / "w")))
    out = stage.process(row)
    clips = [r for r in out if r.get("record") == "clip"]
    # spans in real time: trim_frames=2 source frames last as long as ~4 frames of the 50 fps grid
    assert [(c["start_frame"], c["end_frame"]) for c in clips] == [(0, 28), (32, 72), (80, 133)]
    src = gray_frames(vfr)
    for c in clips:
        assert c["status"] == "ok" and c["vfr"] and c["fps"] == 50.0
        # the row's times are the frames' real timestamps, not frame / average fps
        assert c["start_s"] == pytest.approx(true_time(c["start_frame"]), abs=1e-3)
        assert c["end_s"] == pytest.approx(true_time(c["end_frame"]), abs=1e-3)
        assert abs(c["duration_s"] - (c["end_s"] - c["start_s"])) <= 0.5 / c["fps"] + 1e-6
        assert c["num_frames"] == round(c["duration_s"] * c["fps"])
        f = ffprobe_stream(str(tmp_path / "out" / c["clip_path"]))
        assert f["frames"] == c["num_frames"] and f["fps"] == pytest.approx(c["fps"], rel=1e-3)
        # content: output frame k shows the source frame on screen at start_s + k / fps
        clip = gray_frames(str(tmp_path / "out" / c["clip_path"]))
        times = np.array([true_time(i) for i in range(145)])
        for k in range(0, len(clip), 7):
            t = c["start_s"] + k / c["fps"] + 1e-6
            expect = int(np.searchsorted(times, t, side="right")) - 1
            best = int(np.argmin([np.mean(np.abs(clip[k] - s)) for s in src]))
            assert abs(best - expect) <= 1 and np.mean(np.abs(clip[k] - src[expect])) < 6, (c["start_frame"], k, best, expect)


def test_analysis_reader_indexes_vfr_frames_in_decode_order(vfr):
    import av

    with av.open(vfr) as c:  # reference: frames in decode order, converted the way the reader does
        src = [Frame(f, 160, 68).gray.astype(np.int16) for f in c.decode(video=0)]
    wanted = {0, 5, 20, 40}  # frames 78.., in the 50 fps part after 20 frames at 10 fps
    with SpanReader(vfr, 160, vfr=True) as r:
        got = {off: f.gray.astype(np.int16) for off, f in r.span(78, 135, 26.3, wanted)}
    assert set(got) == wanted
    for off, g in got.items():
        assert np.array_equal(g, src[78 + off]), off
    # without the timestamps table, pts * average fps misplaces the span (here: frame 78 is never found)
    with SpanReader(vfr, 160) as r:
        try:
            off, f = next(iter(r.span(78, 135, 26.3, {0})))
            assert not np.array_equal(f.gray.astype(np.int16), src[78])
        except StageError:
            pass


def test_analyze_stage_scores_a_vfr_clip(vfr, tmp_path):
    from curate.stages.analyze import Analyze

    from curate.config import AnalyzeConfig

    p = probe(vfr)
    row = {"video_id": "v" * 32, "local_path": vfr, **p.as_row(), "cut_frames": [30, 76, 137]}
    ctx = RunContext("r", str(tmp_path / "out"), str(tmp_path / "w"))
    clips = [r for r in Clips(ClipsConfig(min_s=1.0, thumbnails=False), ctx).process(row) if r.get("record") == "clip"]
    stage = Analyze(AnalyzeConfig(ocr=False, overlay=False), ctx)
    for c in clips:
        out = stage.process(dict(c))
        assert out["motion_score"] > 0.25 and out["static_ratio"] is not None


def test_stream_copy_keeps_vfr_timestamps(vfr, tmp_path):
    p = probe(vfr)
    row = {"video_id": "v" * 32, "local_path": vfr, **p.as_row(), "cut_frames": [76]}
    stage = Clips(ClipsConfig(min_s=1.0, codec="copy", thumbnails=False),
                  RunContext("r", str(tmp_path / "out"), str(tmp_path / "w")))
    clips = [r for r in stage.process(row) if r.get("record") == "clip"]
    assert clips and all(c["status"] == "ok" and c["vfr"] for c in clips)
    for c in clips:  # rows: the real span and its mean rate, frames = source frames
        assert c["start_s"] == pytest.approx(true_time(c["start_frame"]), abs=1e-3)
        assert c["duration_s"] == pytest.approx(c["end_s"] - c["start_s"])
        assert c["num_frames"] == c["end_frame"] - c["start_frame"]
        assert c["fps"] == pytest.approx(c["num_frames"] / c["duration_s"])
    assert clips[0]["end_frame"] == 72 and clips[0]["fps"] == pytest.approx(72 / 4.04, rel=0.01)


def test_vfr_span_lengths_are_real_seconds(vfr, tmp_path):
    """Frames 30-76 last 2.8 s (25 -> 10 -> 50 fps) but only 46 frames: at the average 26.3 fps
    that looked like 1.7 s and a 2 s minimum dropped the shot."""
    p = probe(vfr)
    row = {"video_id": "v" * 32, "local_path": vfr, **p.as_row(), "cut_frames": [30, 76, 137], "status": "ok"}
    stage = Clips(ClipsConfig(min_s=2.0, write_files=False, thumbnails=False),
                  RunContext("r", str(tmp_path / "out"), str(tmp_path / "w")))
    clips = [r for r in stage.process(row) if r.get("record") == "clip"]
    assert [(c["start_frame"], c["end_frame"]) for c in clips] == [(32, 72)]
    assert clips[0]["end_s"] - clips[0]["start_s"] == pytest.approx(2.76, abs=1e-3)
