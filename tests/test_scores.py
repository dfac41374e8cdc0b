"""Scores against ground truth: ffmpeg-synthesised clips with known camera motion, burnt-in
text and static logos at known positions, blurred / letterboxed / frozen variants.

Every clip is a crop window moving over a large random texture (so optical flow has texture
everywhere), made by ONE ffmpeg call that splits the looped texture into all outputs.
"""

from __future__ import annotations

import os
import shutil

import cv2
import numpy as np
import pytest
from curate.stages.analyze import Analyze, analyse_span, build_analysers

from curate.analysers.frames import Frame, decode_span
from curate.analysers.motion import MotionAnalyser
from curate.analysers.ocr import OcrAnalyser, RapidOcrEngine
from curate.analysers.overlay import OverlayAnalyser
from curate.analysers.phash import PhashAnalyser, hamming
from curate.analysers.quality import QualityAnalyser
from curate.config import AnalyzeConfig
from curate.media import run_ffmpeg
from curate.stage import RunContext

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
FPS, SECS, N = 25, 2.4, 60
W, H = 320, 180
CROP = f"crop={W}:{H}"

MOTION = {  # name: (filter, expected camera_motion label)
    "static": (f"{CROP}:300:200", "static"),
    "slow_right": (f"{CROP}:x='300+t*25':y=200", "pan_right"),  # content moves left 1 px/frame
    "fast_right": (f"{CROP}:x='300+t*100':y=200", "pan_right"),
    "fast_left": (f"{CROP}:x='500-t*100':y=200", "pan_left"),
    "tilt_down": (f"{CROP}:x=300:y='150+t*60'", "tilt_down"),
    "tilt_up": (f"{CROP}:x=300:y='300-t*60'", "tilt_up"),
    "zoom_in": ("zoompan=z='1+0.012*on':x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)':d=1:s=320x180:fps=25", "zoom_in"),
    "zoom_out": ("zoompan=z='1.8-0.012*on':x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)':d=1:s=320x180:fps=25", "zoom_out"),
    "shaky": (f"{CROP}:x='300+8*random(0)':y='200+8*random(1)'", "shaky"),
    # four quadrants moving four ways: no single camera transform explains the flow
    "complex": ("split=4[q0][q1][q2][q3];[q0]crop=160:90:x='300+t*100':y=200[r0];"
                "[q1]crop=160:90:x='500-t*100':y=100[r1];[q2]crop=160:90:x=100:y='150+t*80'[r2];"
                "[q3]crop=160:90:x=600:y='300-t*80'[r3];[r0][r1][r2][r3]xstack=inputs=4:layout=0_0|w0_0|0_h0|w0_h0",
                "complex"),
}


def _logo(x: str, y: str) -> str:
    return (f"drawtext=fontfile={FONT}:text='CH7':fontsize=22:fontcolor=white@0.85:borderw=2:"
            f"bordercolor=black@0.6:x={x}:y={y}")


# name: (base motion clip, extra filter, true overlay box (x, y) of the logo's top-left, normalised)
OVERLAYS = {
    "logo_tl": ("fast_right", _logo("12", "10"), (12 / W, 10 / H)),
    "logo_br": ("tilt_down", _logo("w-tw-12", "h-th-10"), (0.83, 0.84)),
    "logo_tr": ("zoom_in", _logo("w-tw-12", "10"), (0.83, 10 / H)),
    "logo_bl": ("shaky", _logo("12", "h-th-10"), (12 / W, 0.84)),
}
TEXTS = {
    "text_sub": ("fast_left", f"drawtext=fontfile={FONT}:text='The quick brown fox':fontsize=18:fontcolor=white:"
                 "borderw=2:x=(w-tw)/2:y=h-30"),
    "text_title": ("static", f"drawtext=fontfile={FONT}:text='BREAKING NEWS':fontsize=28:fontcolor=yellow:"
                   "borderw=2:x=30:y=60"),
    "text_pan": ("slow_right", f"drawtext=fontfile={FONT}:text='SALE NOW':fontsize=26:fontcolor=white:"
                 "borderw=2:x=40:y=40"),
}
QUALITY = {
    "blurred": ("fast_right", "gblur=sigma=3"),
    "letterbox": ("fast_right", f"scale={W}:120,pad={W}:{H}:0:30:black"),
    "frozen": ("fast_right", "fps=2,fps=25"),
}


def texture(path: str, w: int = 900, h: int = 560, seed: int = 0) -> str:
    """A multi-scale random texture: optical flow has structure everywhere."""
    r = np.random.RandomState(seed)
    img = np.zeros((h, w, 3), np.float32)
    for s, a in ((48, 1.0), (12, 0.6), (3, 0.3)):
        n = r.rand(h // s + 2, w // s + 2, 3).astype(np.float32)
        img += a * cv2.resize(n, (w + 2 * s, h + 2 * s), interpolation=cv2.INTER_CUBIC)[s:s + h, s:s + w]
    img = (img - img.min()) / (img.max() - img.min()) * 255
    cv2.imwrite(path, img.astype(np.uint8))
    return path


def synth(directory: str, specs: dict[str, str], tex: str) -> dict[str, str]:
    """One ffmpeg call: loop ``tex`` and write one H.264 clip per (name -> filter chain)."""
    names = list(specs)
    graph = f"[0:v]format=rgb24,split={len(names)}" + "".join(f"[s{i}]" for i in range(len(names))) + ";"
    graph += ";".join(f"[s{i}]{specs[n]},format=yuv420p[o{i}]" for i, n in enumerate(names))
    args = ["-loop", "1", "-framerate", str(FPS), "-t", str(SECS), "-i", tex, "-filter_complex", graph]
    paths = {}
    for i, n in enumerate(names):
        paths[n] = os.path.join(directory, f"{n}.mp4")
        args += ["-map", f"[o{i}]", "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-r", str(FPS),
                 "-frames:v", str(N), paths[n]]
    run_ffmpeg(args)
    return paths


@pytest.fixture(scope="session")
def clips(tmp_path_factory) -> dict[str, str]:
    d = str(tmp_path_factory.mktemp("scores"))
    tex = texture(os.path.join(d, "tex.png"))
    specs = {k: v[0] for k, v in MOTION.items()}
    specs.update({k: f"{MOTION[b][0]},{f}" for k, (b, f) in QUALITY.items()})
    if os.path.exists(FONT):  # burnt-in text / logos need a TrueType font (fonts-dejavu-core)
        specs.update({k: f"{MOTION[b][0]},{f}" for k, (b, f, _) in OVERLAYS.items()})
        specs.update({k: f"{MOTION[b][0]},{f}" for k, (b, f) in TEXTS.items()})
    return synth(d, specs, tex)


@pytest.fixture(scope="session")
def text_clips(clips) -> dict[str, str]:
    if not os.path.exists(FONT):
        pytest.skip(f"font {FONT} missing: apt-get install fonts-dejavu-core")
    return clips


@pytest.fixture(scope="session")
def ocr_engine():
    return RapidOcrEngine(max_side=640, threads=1)


@pytest.fixture(scope="session")
def scores(clips) -> dict[str, dict]:
    """Weight-free scores of every synthetic clip (one decode each)."""
    cfg = AnalyzeConfig()
    an = build_analysers(cfg)
    return {name: analyse_span(p, 0, N, FPS, an, cfg.width) for name, p in clips.items()}


# -- motion --------------------------------------------------------------------------------------
def test_motion_scores_ordered(scores):
    s = {k: scores[k]["motion_score"] for k in ("static", "slow_right", "fast_right")}
    assert s["static"] < 0.05 < s["slow_right"] < s["fast_right"], s
    # known speeds: slow = 25 px/s = 1 px/frame at 320 px -> 0.8 at 256; fast = 4 px/frame -> 3.2
    assert scores["slow_right"]["motion_score"] == pytest.approx(0.8, rel=0.25)
    assert scores["fast_right"]["motion_score"] == pytest.approx(3.2, rel=0.15)
    assert scores["fast_right"]["motion_px_per_frame"] == pytest.approx(3.2 * 256 / 256, rel=0.15)


@pytest.mark.parametrize("name", list(MOTION))
def test_camera_motion_label(scores, name):
    assert scores[name]["camera_motion"] == MOTION[name][1], scores[name]


def test_camera_sign_conventions(scores):
    # the window moving right over the texture = camera pans right = content moves left (pan < 0)
    assert scores["fast_right"]["camera_pan"] < -2.5
    assert scores["fast_left"]["camera_pan"] > 2.5
    assert scores["tilt_down"]["camera_tilt"] < -1.0 < 1.0 < scores["tilt_up"]["camera_tilt"]
    assert scores["zoom_in"]["camera_zoom"] > 0.003 > -0.003 > scores["zoom_out"]["camera_zoom"]


# -- technical quality --------------------------------------------------------------------------
def test_blur_lowers_sharpness(scores):
    assert scores["blurred"]["sharpness"] < 0.5 * scores["fast_right"]["sharpness"]


def test_letterbox_detected(scores):
    assert scores["letterbox"]["border_frac"] == pytest.approx(60 / 180, abs=0.04)
    assert scores["fast_right"]["border_frac"] < 0.02


def test_frozen_clip_static_ratio(scores):
    # a 2 fps stutter (each picture held 0.5 s): the share of each hold longer than analyze.frozen_lag_s
    # (1/3 s) counts, ~35 %; a still counts in full (tests/test_static_ratio.py)
    assert scores["frozen"]["static_ratio"] >= 0.25
    assert scores["static"]["static_ratio"] >= 0.9
    for moving in ("fast_right", "zoom_in", "tilt_up", "slow_right"):
        assert scores[moving]["static_ratio"] <= 0.1, moving


def test_exposure_and_colour_metrics_respond():
    grey = np.full((144, 256, 3), 128, np.uint8)
    vivid = np.zeros((144, 256, 3), np.uint8)
    vivid[:, :128] = (0, 0, 255)
    vivid[:, 128:] = (255, 0, 0)
    dark = np.full((144, 256, 3), 3, np.uint8)
    res = {}
    for name, img in (("grey", grey), ("vivid", vivid), ("dark", dark)):
        q = QualityAnalyser(pairs_per_s=1, border_luma=0)
        wants = sorted(q.start(3, 1.0))
        for i in wants:
            q.update(i, Frame.from_array(img))
        res[name] = q.result()
    assert res["grey"]["colorfulness"] < 1
    assert res["vivid"]["colorfulness"] > 100
    assert res["grey"]["brightness"] == pytest.approx(128 / 255, abs=0.01)
    assert res["dark"]["clipped_shadows"] == 1.0 and res["grey"]["clipped_shadows"] == 0.0
    assert res["grey"]["contrast"] == 0.0 < res["vivid"]["contrast"]


# -- static overlays -----------------------------------------------------------------------------
def test_overlay_recall_fpr_and_box(scores, text_clips):
    hits = [k for k in OVERLAYS if scores[k]["overlay_prob"] >= 0.5]
    clean = [k for k in MOTION if k != "static"] + ["blurred", "letterbox"]
    false_pos = [k for k in clean if scores[k]["overlay_prob"] >= 0.5]
    assert len(hits) / len(OVERLAYS) >= 0.75, {k: scores[k]["overlay_prob"] for k in OVERLAYS}
    assert not false_pos, {k: scores[k]["overlay_prob"] for k in false_pos}
    for k in hits:
        box, (tx, ty) = scores[k]["overlay_box"], OVERLAYS[k][2]
        assert abs(box["x"] - tx) < 0.06 and abs(box["y"] - ty) < 0.08, (k, box)
        assert box["w"] < 0.3 and box["h"] < 0.3


def test_overlay_on_real_footage_is_clean(samples):
    """No overlay on bikes.mp4 shots (real camera motion, people walking)."""
    s = samples["bikes"]
    bounds = [0, *s.cuts, 250]
    for a, b in zip(bounds[:-1], bounds[1:]):
        r = analyse_span(s.path, a + 2, b - 2, 25.0, [OverlayAnalyser()])
        assert r["overlay_prob"] < 0.5, (a, b, r)


# -- OCR -----------------------------------------------------------------------------------------
def test_ocr_text_recall_and_fpr(text_clips, ocr_engine):
    clips = text_clips
    res = {}
    for name in [*TEXTS, "static", "fast_right", "zoom_in", "shaky"]:
        res[name] = analyse_span(clips[name], 0, N, FPS, [OcrAnalyser(ocr_engine, frames=3)])
    for name in TEXTS:
        assert res[name]["text_area_ratio"] > 0.01 and res[name]["ocr_boxes"] >= 1, (name, res[name])
    assert any("BREAKING" in t for t in res["text_title"]["ocr_texts"])
    assert any("quick" in t for t in res["text_sub"]["ocr_texts"])
    for name in ("static", "fast_right", "zoom_in", "shaky"):
        assert res[name]["text_area_ratio"] < 0.002 and not res[name]["ocr_texts"], (name, res[name])


# -- the stage -----------------------------------------------------------------------------------
def test_stage_row_one_decode_and_clip_file_fallback(text_clips, tmp_path, ocr_engine):
    clips = text_clips
    ctx = RunContext(run_id="t", output_dir=str(tmp_path), work_dir=str(tmp_path))
    stage = Analyze(AnalyzeConfig(), ctx, ocr_engine=ocr_engine)
    row = {"record": "clip", "status": "ok", "local_path": clips["text_title"], "start_frame": 10,
           "end_frame": 55, "fps": 25.0}
    out = stage.process(dict(row))
    assert out["camera_motion"] == "static" and out["text_area_ratio"] > 0.01 and out["phash"]
    assert out["scores_skipped"] == [] and out["analyze_s"] > 0
    # the source is gone: the clip file (relative to the output dir) is analysed instead
    os.makedirs(tmp_path / "clips")
    shutil.copy(clips["fast_right"], tmp_path / "clips" / "c.mp4")
    row.update(local_path=str(tmp_path / "missing.mp4"), clip_path="clips/c.mp4", start_frame=100, end_frame=160)
    out = stage.process(dict(row))
    assert out["camera_motion"] == "pan_right"


def test_watermark_model_unavailable_is_skipped_not_faked(clips, tmp_path, caplog):
    cfg = AnalyzeConfig(ocr=False, watermark_model="someone/watermark-vit-base")
    ctx = RunContext(run_id="t", output_dir=str(tmp_path), work_dir=str(tmp_path))
    stage = Analyze(cfg, ctx)
    tbl = stage(__import__("pyarrow").Table.from_pylist([{"record": "clip", "status": "ok", "local_path": clips["static"],
                                                          "start_frame": 0, "end_frame": N, "fps": 25.0}]))
    row = tbl.to_pylist()[0]
    assert row["status"] == "ok" and row["watermark_prob"] is None
    assert any(s.startswith("watermark_prob: model_unavailable: someone/watermark-vit-base") for s in row["scores_skipped"])
    assert row["motion_score"] is not None


def test_watermark_hook_uses_given_model(clips, tmp_path):
    class Fake:  # a test double for the protocol: returns the mean brightness of what it saw
        def predict(self, frames):
            self.n = len(frames)
            return float(np.mean([f.mean() for f in frames]) / 255)

    model = Fake()
    ctx = RunContext(run_id="t", output_dir=str(tmp_path), work_dir=str(tmp_path))
    stage = Analyze(AnalyzeConfig(ocr=False, watermark_frames=2), ctx, watermark_model=model)
    out = stage.process({"local_path": clips["static"], "start_frame": 0, "end_frame": N, "fps": 25.0})
    assert model.n == 2 and 0.2 < out["watermark_prob"] < 0.8


def test_seek_span_matches_sequential_decode(samples):
    """Frames located by seeking are the frames a sequential decode numbers the same."""
    path = samples["bikes"].path
    seq = {}
    for off, fr in decode_span(path, 0, 250, 25.0, {100, 180, 201}, 256):
        seq[off] = fr.gray.copy()
    for start in (95, 180):
        got = {off + start: fr.gray.copy() for off, fr in decode_span(path, start, 250, 25.0, {5, 21}, 256)}
        common = [i for i in got if i in seq]
        assert len(common) == 1  # 95 + 5 = 100 and 180 + 21 = 201
        for idx in common:
            assert np.abs(got[idx].astype(int) - seq[idx]).mean() < 0.5, idx


def test_phash_stable_under_reencode(clips, tmp_path):
    small = str(tmp_path / "small.mp4")
    run_ffmpeg(["-i", clips["fast_right"], "-vf", "scale=200:-2", "-crf", "35", small])
    a, b = PhashAnalyser(), PhashAnalyser()
    analyse_span(clips["fast_right"], 0, N, FPS, [a])
    analyse_span(small, 0, N, FPS, [b])
    assert len(a.hashes) == len(b.hashes) == 3
    assert max(hamming(x, y) for x, y in zip(a.hashes, b.hashes)) <= 8


def test_memory_is_bounded_by_sampling():
    """Analysers only keep running sums: feeding 5000 frames keeps no per-frame arrays."""
    m = MotionAnalyser()
    wants = m.start(5000, 25.0)
    # per sampled pair: its two frames + the frame one pair step later (the camera fit's lag, the
    # next pair's first frame unless max_pairs spreads the pairs out)
    assert len(wants) <= 3 * 64


def test_watermark_onnx_model_loads_and_scores(clips, tmp_path):
    """A real (tiny, hand-built) ONNX classifier through the configured-path loader:
    p = sigmoid(8 * (mean pixel - 0.5)), so brighter frames score higher."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    from curate.analysers.watermark import load_watermark_model

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 64, 64])
    y = helper.make_tensor_value_info("p", TensorProto.FLOAT, ["N", 1])
    consts = [helper.make_tensor("half", TensorProto.FLOAT, [], [0.5]),
              helper.make_tensor("gain", TensorProto.FLOAT, [], [8.0]),
              helper.make_tensor("shape", TensorProto.INT64, [2], [-1, 1])]
    nodes = [helper.make_node("ReduceMean", ["x"], ["m"], keepdims=0),
             helper.make_node("Sub", ["m", "half"], ["d"]), helper.make_node("Mul", ["d", "gain"], ["z"]),
             helper.make_node("Sigmoid", ["z"], ["s"]), helper.make_node("Reshape", ["s", "shape"], ["p"])]
    model = helper.make_model(helper.make_graph(nodes, "wm", [x], [y], consts),
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = str(tmp_path / "wm.onnx")
    onnx.save(model, path)
    m = load_watermark_model(path)
    dark, bright = np.full((90, 160, 3), 20, np.uint8), np.full((90, 160, 3), 235, np.uint8)
    assert m.predict([dark]) < 0.05
    assert m.predict([bright]) > 0.95
    ctx = RunContext(run_id="t", output_dir=str(tmp_path), work_dir=str(tmp_path))
    out = Analyze(AnalyzeConfig(ocr=False, watermark_model=path), ctx).process(
        {"local_path": clips["static"], "start_frame": 0, "end_frame": N, "fps": 25.0})
    assert 0.0 < out["watermark_prob"] < 1.0
    assert not any(s.startswith("watermark_prob") for s in out["scores_skipped"])


# -- display rotation ----------------------------------------------------------------------------
def test_display_rotation_applied_to_analysis(clips, tmp_path):
    """A phone-style file (display matrix, pixels stored sideways) is analysed as displayed:
    a horizontal pan stored with a 90-degree display rotation is a tilt on screen. Ground
    truth: the same file re-encoded by ffmpeg with autorotate (upright pixels, no matrix)."""
    rotated, upright = str(tmp_path / "rot90.mp4"), str(tmp_path / "upright.mp4")
    run_ffmpeg(["-i", clips["fast_right"], "-c", "copy", "-metadata:s:v:0", "rotate=90", rotated])
    run_ffmpeg(["-i", rotated, "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", upright])
    import av

    with av.open(rotated) as c:
        assert round(next(c.decode(video=0)).rotation) % 360 != 0  # the matrix is really there
    with av.open(upright) as c:
        f = next(c.decode(video=0))
        assert (f.width, f.height, round(f.rotation or 0)) == (H, W, 0)  # autorotated: portrait pixels
    cfg = AnalyzeConfig(ocr=False)
    res = {k: analyse_span(p, 0, N, FPS, build_analysers(cfg), cfg.width)
           for k, p in (("control", clips["fast_right"]), ("rotated", rotated), ("upright", upright))}
    assert res["control"]["camera_motion"] == "pan_right"  # the non-rotated control stays a pan
    assert res["upright"]["camera_motion"] == "tilt_up"
    assert res["rotated"]["camera_motion"] == "tilt_up"
    # normalised by the displayed width (180 px, analysed at 180 wide): same numbers as upright
    for key in ("camera_tilt", "motion_score"):
        assert res["rotated"][key] == pytest.approx(res["upright"][key], rel=0.1), key
    assert abs(res["rotated"]["camera_pan"]) < 0.2 * abs(res["rotated"]["camera_tilt"])
    # analysis frames are upright and have the displayed size; pixels match the autorotated file
    rot = {o: f.gray for o, f in decode_span(rotated, 0, N, FPS, {0, 30}, 256)}
    upr = {o: f.gray for o, f in decode_span(upright, 0, N, FPS, {0, 30}, 256)}
    for o in (0, 30):
        assert rot[o].shape == upr[o].shape == (W, H)
        assert np.abs(rot[o].astype(int) - upr[o]).mean() < 4, o  # upright's re-encode loss only


def test_skipping_unwanted_frames_and_overlap_change_nothing(clips):
    """Packets of unwanted frames go to the decoder with skip_frame=NONREF (B-frames nobody
    references are dropped) and the analysers run in a second thread: the wanted frames must
    be bit-identical to a full sequential decode, and the scores identical to a serial run."""
    import av

    path = clips["fast_left"]
    with av.open(path) as c:
        assert c.streams.video[0].codec_context.has_b_frames  # x264 veryfast: the skip is exercised
    wanted = {3, 4, 17, 30, 31, 58}
    full = {o: f.gray.copy() for o, f in decode_span(path, 0, N, FPS, set(range(N)), 256, skip_unwanted=False)}
    for start in (0, 9):
        got = {o + start: f.gray.copy() for o, f in decode_span(path, start, N, FPS, wanted, 256)}
        assert sorted(got) == sorted(w + start for w in wanted if w + start < N)
        for idx, g in got.items():
            assert np.array_equal(g, full[idx]), idx
    cfg = AnalyzeConfig(ocr=False)
    for name in ("fast_left", "shaky", "zoom_in"):
        a = analyse_span(clips[name], 0, N, FPS, build_analysers(cfg), cfg.width)
        b = analyse_span(clips[name], 0, N, FPS, build_analysers(cfg), cfg.width, overlap=False, skip_unwanted=False)
        assert a == b, name


def test_analyser_exception_propagates_from_worker_thread(clips):
    class Boom:
        name = "boom"

        def start(self, n, fps):
            return {5}

        def update(self, i, frame):
            raise ValueError("analyser failed")

        def result(self):
            return {}

    with pytest.raises(ValueError, match="analyser failed"):
        analyse_span(clips["static"], 0, N, FPS, [Boom()])


def test_span_reader_serves_consecutive_clips_without_seeking(samples, clips, tmp_path):
    """One decoder per video: consecutive spans continue without a seek, a span behind or far
    ahead seeks; every span's wanted frames equal a fresh decode of that span alone."""
    from curate.analysers.frames import SpanReader

    path = samples["bikes"].path
    wanted = {0, 1, 5, 17, 30, 31}
    with SpanReader(path) as r:
        for start, end, seeks in ((0, 40, 0), (40, 95, 0), (95, 180, 0), (190, 250, 0), (30, 60, 1), (60, 90, 1)):
            w = {o for o in wanted if o < end - start}
            got = {o: f.gray.copy() for o, f in r.span(start, end, 25.0, w)}
            ref = {o: f.gray.copy() for o, f in decode_span(path, start, end, 25.0, w, 256)}
            assert sorted(got) == sorted(ref) == sorted(w), (start, end)
            assert all(np.array_equal(got[o], ref[o]) for o in w), (start, end)
            assert r.seeks == seeks, (start, end)
    # the stage keeps one reader for the clips of a video: same scores as separate decodes
    ctx = RunContext(run_id="t", output_dir=str(tmp_path), work_dir=str(tmp_path))
    cfg = AnalyzeConfig(ocr=False)
    stage = Analyze(cfg, ctx)
    rows = [{"record": "clip", "status": "ok", "local_path": clips["fast_left"], "start_frame": a, "end_frame": b,
             "fps": float(FPS)} for a, b in ((0, 20), (20, 41), (41, 60))]
    outs = [stage.process(dict(r)) for r in rows]
    assert stage.reader is not None and stage.reader.seeks == 0
    for r, out in zip(rows, outs):
        ref = analyse_span(r["local_path"], r["start_frame"], r["end_frame"], FPS, build_analysers(cfg), cfg.width)
        assert {k: out[k] for k in ref} == ref
