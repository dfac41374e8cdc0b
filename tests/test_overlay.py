"""Overlay kind / box on real handheld footage (bikes.mp4) edited with ffmpeg.

Cases: a semi-transparent boxed channel bug ('HX 24', opacity 0.5) over the moving shot
bikes_1 (frames 31..75), its clean twin, burnt-in subtitles that change every 0.6 s, and a
static-texture negative (one frame of the same footage held still, with a little noise):
persistent edges everywhere, nothing separates an overlay from the scene.
"""

from __future__ import annotations

import os

import pytest
from curate.stages.analyze import analyse_span

from curate.analysers.ocr import OcrAnalyser, RapidOcrEngine
from curate.analysers.overlay import OverlayAnalyser
from curate.media import run_ffmpeg

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
W, H, N = 640, 272, 44
BUG = (20, 16, 110, 40)  # x, y, w, h of the drawn box in pixels
SUBS = ["The river was cold", "so we walked on", "past the old mill"]


def _iou(box: dict, truth: tuple[float, float, float, float]) -> float:
    ax0, ay0, ax1, ay1 = box["x"], box["y"], box["x"] + box["w"], box["y"] + box["h"]
    bx0, by0, bx1, by1 = truth[0], truth[1], truth[0] + truth[2], truth[1] + truth[3]
    iw, ih = max(0.0, min(ax1, bx1) - max(ax0, bx0)), max(0.0, min(ay1, by1) - max(ay0, by0))
    return iw * ih / (box["w"] * box["h"] + truth[2] * truth[3] - iw * ih)


@pytest.fixture(scope="module")
def cases(samples, tmp_path_factory) -> dict[str, str]:
    if not os.path.exists(FONT):
        pytest.skip(f"font {FONT} missing: apt-get install fonts-dejavu-core")
    d = str(tmp_path_factory.mktemp("overlay"))
    x, y, bw, bh = BUG
    bug = (f"drawbox=x={x}:y={y}:w={bw}:h={bh}:color=black@0.5:t=fill,drawtext=fontfile={FONT}:text='HX 24':"
           f"fontsize=28:fontcolor=white@0.6:x={x}+({bw}-tw)/2:y={y}+({bh}-th)/2")
    subs = ",".join(f"drawtext=fontfile={FONT}:text='{s}':fontsize=24:fontcolor=white:borderw=2:x=(w-tw)/2:"
                    f"y=h-th-20:enable='gte(t,{0.6 * i:.1f})*lt(t,{0.6 * (i + 1):.1f})'" for i, s in enumerate(SUBS))
    still = "select='eq(n\\,0)',loop=loop=-1:size=1,noise=alls=6:allf=t,trim=end_frame=44"
    specs = {"clean": "null", "bug": bug, "subs": subs, "still": still, "still_bug": f"{still},{bug}"}
    graph = f"[0:v]trim=start_frame=31:end_frame=75,setpts=PTS-STARTPTS,split={len(specs)}"
    graph += "".join(f"[s{i}]" for i in range(len(specs))) + ";"
    graph += ";".join(f"[s{i}]{f},format=yuv420p[o{i}]" for i, f in enumerate(specs.values()))
    args = ["-i", str(samples["bikes"].path), "-filter_complex", graph]
    out = {}
    for i, name in enumerate(specs):
        out[name] = os.path.join(d, f"{name}.mp4")
        args += ["-map", f"[o{i}]", "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-frames:v", str(N),
                 out[name]]
    run_ffmpeg(args)
    return out


@pytest.fixture(scope="module")
def engine():
    return RapidOcrEngine(max_side=640, threads=1)


def test_logo_over_moving_footage(cases):
    r = analyse_span(cases["bug"], 0, N, 25.0, [OverlayAnalyser()])
    assert r["overlay_kind"] == "logo" and r["overlay_prob"] >= 0.5, r
    x, y, bw, bh = BUG
    assert _iou(r["overlay_box"], (x / W, y / H, bw / W, bh / H)) >= 0.5, r


def test_clean_twin_and_still_texture_not_flagged(cases):
    for name in ("clean", "still"):
        r = analyse_span(cases[name], 0, N, 25.0, [OverlayAnalyser()])
        assert r["overlay_kind"] == "none" and r["overlay_box"] is None and r["overlay_prob"] < 0.5, (name, r)


def test_subtitles_kind_and_ocr_regions(cases, engine):
    ocr = OcrAnalyser(engine)
    r = analyse_span(cases["subs"], 0, N, 25.0, [ocr, OverlayAnalyser(ocr=ocr)])
    assert r["overlay_kind"] == "subtitle", r
    box = r["overlay_box"]
    assert box["y"] > 0.7 and abs(box["x"] + box["w"] / 2 - 0.5) < 0.08, box
    regions = r["ocr_regions"]
    assert len({g["frame"] for g in regions}) >= 3  # changing lines: more than one OCR frame read text
    assert sum(any(w in t for t in r["ocr_texts"]) for w in ("river", "walked", "mill")) >= 2, r["ocr_texts"]
    for g in regions:
        assert g["y"] > 0.7 and 0 <= g["x"] and g["x"] + g["w"] <= 1.0 and g["text"], g


def test_static_shot_corner_text_is_a_logo_scene_without_text_is_not(cases, engine):
    """Nothing moves under a bug over a still shot: only its held corner text (OCR) tells it,
    at a medium confidence; the same still shot without the bug stays none."""
    res = {}
    for name in ("still_bug", "still"):
        ocr = OcrAnalyser(engine)
        res[name] = analyse_span(cases[name], 0, N, 25.0, [ocr, OverlayAnalyser(ocr=ocr)])
    r = res["still_bug"]
    assert r["overlay_kind"] == "logo" and 0.5 <= r["overlay_prob"] < 0.8, r
    x, y, bw, bh = BUG
    assert _iou(r["overlay_box"], (x / W, y / H, bw / W, bh / H)) >= 0.3, r  # the letters at least
    assert res["still"]["overlay_kind"] == "none", res["still"]


def test_ocr_recognises_unchanged_text_once(cases, engine):
    calls = []

    class Counting:
        def __call__(self, img):
            return engine(img)

        def detect(self, img):
            return engine.detect(img)

        def recognise(self, crops):
            calls.append(len(crops))
            return engine.recognise(crops)

    ocr = OcrAnalyser(Counting(), frames=5)
    r = analyse_span(cases["bug"], 0, N, 25.0, [ocr])
    assert any("24" in t for t in r["ocr_texts"]), r
    assert sum(calls) < sum(g["frame"] >= 0 for g in r["ocr_regions"]), (calls, r["ocr_regions"])


def test_filter_rejects_overlay_kinds():
    from curate.stages.filter import reject_reasons

    from curate.config import FilterConfig

    cfg = FilterConfig(min_motion_score=None, min_sharpness=None, min_brightness=None, max_brightness=None,
                       max_static_ratio=None, min_aesthetic_score=None, reject_overlay_kinds=["subtitle", "ticker"])
    assert reject_reasons({"overlay_kind": "subtitle", "overlay_prob": 0.6}, cfg) == ["overlay_kind=subtitle"]
    assert reject_reasons({"overlay_kind": "logo", "overlay_prob": 0.6}, cfg) == []
    assert reject_reasons({"overlay_kind": None}, cfg) == []
