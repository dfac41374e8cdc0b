"""Gradual transitions on real footage (bikes.mp4 shots joined by ffmpeg xfade): one interval
each in the transitions column, never also a cut, and clip spans that leave their frames out."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from curate.config import ClipsConfig, CutsConfig
from curate.media import run_ffmpeg
from curate.schemas import VIDEOS
from curate.stage import RunContext
from curate.stages.clips import compute_spans
from curate.stages.cuts import Cuts, detect_shots

# single-shot stretches of bikes.mp4 (seconds; hard cuts at frames 30/76/137/187/242, 25 fps)
SHOT_2 = (3.08, 5.44)
SHOT_4 = (7.52, 9.64)


def _xfade(src: str, out: str, transition: str, dur: float) -> tuple[int, int, int]:
    """bikes shot 2 then shot 4 joined by ``transition``; returns (first, last) blended frame, frame count."""
    (a0, a1), (b0, b1) = SHOT_2, SHOT_4
    na, nb, d = round((a1 - a0) * 25), round((b1 - b0) * 25), round(dur * 25)
    off = na - d
    graph = (f"[0:v]trim={a0}:{a1},setpts=PTS-STARTPTS,fps=25,format=yuv420p[a];"
             f"[1:v]trim={b0}:{b1},setpts=PTS-STARTPTS,fps=25,format=yuv420p[b];"
             f"[a][b]xfade=transition={transition}:duration={d / 25:.4f}:offset={off / 25:.4f}[v]")
    run_ffmpeg(["-i", src, "-i", src, "-filter_complex", graph, "-map", "[v]", "-c:v", "libx264",
                "-preset", "veryfast", "-crf", "20", "-r", "25", out])
    return off + 1, off + d - 1, na + nb - d


@pytest.fixture(scope="module")
def edited(samples, tmp_path_factory):
    d = tmp_path_factory.mktemp("transitions")
    src = samples["bikes"].path
    out = {}
    for name, tr, dur in [("dissolve", "fade", 0.8), ("fadeblack", "fadeblack", 1.0)]:
        path = str(d / f"{name}.mp4")
        out[name] = (path, *_xfade(src, path, tr, dur))
    single = str(d / "single.mp4")
    run_ffmpeg(["-ss", str(SHOT_2[0]), "-t", f"{SHOT_2[1] - SHOT_2[0]:.2f}", "-i", src, "-c:v", "libx264",
                "-preset", "veryfast", "-crf", "20", single])
    out["single"] = (single, 0, -1, 0)
    return out


def _overlap(t, s: int, e: int) -> int:
    return min(t.end, e) - max(t.start, s) + 1


# (a wipe between two of these similar-looking street shots is not found: see docs/benchmarks.md;
# wipes between different shots are measured there)
@pytest.mark.parametrize("name,kind", [("dissolve", "dissolve"), ("fadeblack", "fade")])
@pytest.mark.parametrize("decode", ["fast", "exact"])
def test_transition_is_one_interval_and_no_cut(edited, name, kind, decode):
    path, s, e, n_expected = edited[name]
    cuts, trans, n = detect_shots(path, 25.0, CutsConfig(decode=decode))
    assert abs(n - n_expected) <= 1  # trim rounding
    assert len(trans) == 1, trans
    t = trans[0]
    assert _overlap(t, s, e) >= 0.6 * (e - s + 1), (t, s, e)  # covers most of the blended frames
    # and little of the shots (it may start a few frames early: the ramp fit follows the
    # outgoing shot's own drift; frames lost to a clip, never transition frames kept)
    assert s - 8 <= t.start and t.end <= e + 4, (t, s, e)
    assert t.kind == kind, t
    assert cuts == [], cuts  # never also reported as cuts at its ends


def test_old_behaviour_without_transitions(edited):
    """transitions off: the adaptive detector alone (what the default did before)."""
    path, *_ = edited["dissolve"]
    _, trans, _ = detect_shots(path, 25.0, CutsConfig(transitions=False))
    assert trans == []


def test_no_transition_in_single_shot_or_hard_cuts(edited, samples):
    for path in (edited["single"][0], samples["bikes"].path):
        cuts, trans, _ = detect_shots(path, 25.0, CutsConfig())
        assert trans == [], (path, trans)
    cuts, _, _ = detect_shots(samples["bikes"].path, 25.0, CutsConfig())
    assert [abs(c - t) <= 2 for c, t in zip(cuts, samples["bikes"].cuts)] == [True] * 5 and len(cuts) == 5


@pytest.mark.parametrize("name", ["dissolve", "fadeblack"])
def test_clip_spans_leave_transition_frames_out(edited, name):
    path, s, e, _ = edited[name]
    cuts, trans, n = detect_shots(path, 25.0, CutsConfig())
    spans = compute_spans(cuts, n, 25.0, ClipsConfig(min_s=1.0), [t.as_dict() for t in trans])
    assert len(spans) == 2, spans  # one clip per shot
    for sp in spans:
        assert sp.end <= s or sp.start > e, (sp, s, e)  # [start, end) holds no blended frame
    assert {sp.shot_index for sp in spans} == {0, 1}


def test_compute_spans_with_transitions():
    cfg = ClipsConfig(min_s=0.2, trim_frames=2)
    spans = compute_spans([100], 300, 25.0, cfg, [{"start": 150, "end": 174, "kind": "dissolve"}])
    assert [(sp.start, sp.end, sp.shot_index) for sp in spans] == [(0, 98, 0), (102, 148, 1), (177, 300, 2)]
    # a transition at the very start: its frames are in no shot either
    spans = compute_spans([], 100, 25.0, cfg, [{"start": 0, "end": 9, "kind": "fade"}])
    assert [(sp.start, sp.end) for sp in spans] == [(12, 100)]


def test_stage_row_has_transitions_column(edited):
    path, s, e, _ = edited["dissolve"]
    stage = Cuts(CutsConfig(), RunContext("r", "/tmp/unused-out", "/tmp/unused-work"))
    row = stage.process({"local_path": path, "fps": 25.0})
    assert row["cut_frames"] == [] and len(row["transitions"]) == 1
    t = row["transitions"][0]
    assert set(t) == {"start", "end", "kind"} and t["kind"] == "dissolve"
    # the value fits the schema's column type
    col = pa.array([row["transitions"]], type=VIDEOS.field("transitions").type)
    assert col[0][0]["start"].as_py() == t["start"]


def test_transnet_runs_become_transitions():
    from curate.transnet import probs_to_cuts, probs_to_shots

    p = np.zeros(100)
    p[29] = 0.9  # hard cut
    p[60:70] = 0.8  # dissolve
    cuts, trans = probs_to_shots(p)
    assert cuts == [30] and [(t.start, t.end, t.kind) for t in trans] == [(60, 69, "gradual")]
    assert probs_to_cuts(p) == [30, 60, 70]  # the old two-cut form (transitions off)
    assert probs_to_shots(p, transitions=False) == ([30, 60, 70], [])


@pytest.fixture(scope="module")
def static_jump(samples, tmp_path_factory):
    """A static shot (one bikes.mp4 frame held 4 s) in which a patch of another bikes frame (a
    'subject') walks right; with ``jump`` it is elsewhere from 2 s on: a static-camera jump cut."""
    d = tmp_path_factory.mktemp("jump")
    src = samples["bikes"].path
    out = {}
    for name, x in [("jump", "if(lt(t,2),60+12*t,330+12*t)"), ("walk", "60+12*t")]:
        path = str(d / f"{name}.mp4")
        graph = ("[0:v]trim=start_frame=100:end_frame=101,loop=loop=99:size=1:start=0,setpts=N/25/TB,fps=25[bg];"
                 "[1:v]trim=start_frame=40:end_frame=41,crop=70:110:300:100,loop=loop=99:size=1:start=0,"
                 "setpts=N/25/TB,fps=25[fg];"
                 f"[bg][fg]overlay=x='{x}':y=120:eval=frame,noise=alls=6:allf=t,format=yuv420p[v]")
        run_ffmpeg(["-i", src, "-i", src, "-filter_complex", graph, "-map", "[v]", "-frames:v", "100",
                    "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-r", "25", path])
        out[name] = path
    return out


@pytest.mark.parametrize("decode", ["fast", "exact"])
def test_static_camera_jump_cut(static_jump, decode):
    cuts, trans, n = detect_shots(static_jump["jump"], 25.0, CutsConfig(decode=decode))
    assert n == 100 and trans == []
    assert len(cuts) == 1 and abs(cuts[0] - 50) <= 2, cuts
    # the same subject walking without the jump: no cut
    cuts, trans, _ = detect_shots(static_jump["walk"], 25.0, CutsConfig(decode=decode))
    assert cuts == [] and trans == [], (cuts, trans)
    # the old detector alone misses the jump (the content score averages it away)
    cuts, _, _ = detect_shots(static_jump["jump"], 25.0, CutsConfig(decode=decode, transitions=False))
    assert cuts == []


def test_flash_is_not_a_cut(samples, tmp_path):
    """Two camera-flash-like bright frames inside one bikes shot: the picture comes back, no cut."""
    path = str(tmp_path / "flash.mp4")
    run_ffmpeg(["-ss", str(SHOT_2[0]), "-t", f"{SHOT_2[1] - SHOT_2[0]:.2f}", "-i", samples["bikes"].path,
                "-vf", "eq=brightness=0.5:enable='between(t,0.8,0.88)+between(t,1.6,1.9)'",
                "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", path])
    old, _, _ = detect_shots(path, 25.0, CutsConfig(transitions=False))
    assert old, "the adaptive detector alone fires on the flash (else this test shows nothing)"
    cuts, trans, _ = detect_shots(path, 25.0, CutsConfig())
    assert cuts == [] and trans == [], (cuts, trans)
