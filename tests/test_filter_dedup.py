"""Filtering (every failed threshold kept as a reason) and near-duplicate detection
(re-encoded / resized / trimmed copies found, different videos not), plus one end-to-end run."""

from __future__ import annotations

import os

import pytest
from curate.schemas import from_rows, stream_schema
from curate.stages.analyze import analyse_span
from curate.stages.filter import Filter, reject_reasons

from curate.analysers.phash import PhashAnalyser
from curate.config import DedupConfig, FilterConfig
from curate.dedup import find_duplicates
from curate.media import probe, run_ffmpeg
from curate.stage import RunContext

GOOD = {"motion_score": 2.0, "sharpness": 300.0, "brightness": 0.5, "static_ratio": 0.0, "overlay_prob": 0.0,
        "text_area_ratio": 0.0, "border_frac": 0.0, "watermark_prob": None, "camera_motion": "pan_left"}


def test_every_failed_threshold_is_a_reason():
    cfg = FilterConfig()
    assert reject_reasons(GOOD, cfg) == []
    bad = dict(GOOD, motion_score=0.1, text_area_ratio=0.3, overlay_prob=0.95, sharpness=3.0, static_ratio=0.9,
               brightness=0.01, border_frac=0.6)
    assert reject_reasons(bad, cfg) == [
        "motion_score<0.25", "text_area_ratio>0.02", "overlay_prob>0.8", "sharpness<20", "brightness<0.06",
        "border_frac>0.5", "static_ratio>0.5",
    ]


def test_null_scores_never_reject_and_thresholds_can_be_off():
    assert reject_reasons({k: None for k in GOOD}, FilterConfig()) == []
    cfg = FilterConfig(min_motion_score=None, reject_camera_motion=["shaky"])
    assert reject_reasons(dict(GOOD, motion_score=0.0), cfg) == []
    assert reject_reasons(dict(GOOD, camera_motion="shaky"), cfg) == ["camera_motion=shaky"]


def test_filter_stage_keeps_rejected_rows_with_reasons(tmp_path):
    ctx = RunContext(run_id="t", output_dir=str(tmp_path), work_dir=str(tmp_path))
    rows = [dict(GOOD, record="clip", status="ok", clip_id="a", reject_reasons=[]),
            dict(GOOD, record="clip", status="ok", clip_id="b", reject_reasons=[], motion_score=0.0),
            dict(GOOD, record="clip", status="failed", clip_id="c", reject_reasons=[], motion_score=0.0),
            {"record": "video", "status": "ok", "video_id": "v"}]
    out = Filter(FilterConfig(), ctx)(from_rows(rows, stream_schema())).to_pylist()
    assert [r["status"] for r in out] == ["ok", "rejected", "failed", "ok"]
    assert out[1]["reject_reasons"] == ["motion_score<0.25"]


@pytest.fixture(scope="module")
def copies(samples, tmp_path_factory):
    """bigbuckbunny (5.3 s, 1280x720) and its re-encoded / resized / trimmed copies."""
    d = tmp_path_factory.mktemp("dedup")
    src = samples["bigbuckbunny"].path
    out = {"original": src}
    jobs = {
        "reencoded": ["-i", src, "-c:v", "libx264", "-crf", "34", "-preset", "ultrafast"],
        "resized": ["-i", src, "-vf", "scale=426:-2", "-c:v", "libx264", "-preset", "ultrafast"],
        "trimmed": ["-ss", "1.3", "-i", src, "-t", "3", "-c:v", "libx264", "-preset", "ultrafast"],
        "bikes": ["-i", samples["bikes"].path, "-c:v", "libx264", "-preset", "ultrafast"],
        "synthetic": ["-i", samples["synthetic_cuts"].path, "-t", "5", "-c:v", "libx264", "-preset", "ultrafast"],
    }
    for name, args in jobs.items():
        out[name] = os.path.join(d, f"{name}.mp4")
        run_ffmpeg([*args, "-an", out[name]])
    return out


def _hashes(path: str) -> list[int]:
    p = probe(path)
    a = PhashAnalyser()
    analyse_span(path, 0, p.num_frames, p.fps, [a])
    return a.hashes


def test_near_duplicates_found_and_different_videos_not(copies):
    names = list(copies)
    hashes = [_hashes(copies[n]) for n in names]
    rank = [(1 if n == "original" else 0,) for n in names]  # prefer keeping the original
    dups = {d[0]: d for d in find_duplicates(names, hashes, rank, DedupConfig())}
    assert set(dups) == {"reencoded", "resized", "trimmed"}, dups
    assert all(d[1] == "original" and 0 <= d[2] <= DedupConfig().max_distance for d in dups.values())


def test_end_to_end_scores_filter_dedup(make_cfg, ray_local, samples, tmp_path):
    from curate.query import query
    from curate.pipeline import run_pipeline

    dup = str(tmp_path / "bikes_copy.mp4")
    run_ffmpeg(["-i", samples["bikes"].path, "-vf", "scale=320:-2", "-c:v", "libx264", "-crf", "30",
                "-preset", "ultrafast", dup])
    cfg = make_cfg([samples["bikes"].path, dup], clips__write_files=False, clips__thumbnails=False,
                   analyze__ocr=False, filter__min_motion_score=1.0)
    s = run_pipeline(cfg)
    assert s.videos_ok == 2
    out = cfg.output.dir
    t = query(out, "SELECT clip_id, status, reject_reasons, motion_score, camera_motion, sharpness, phash "
                   "FROM clips").to_pylist()
    assert len(t) == 10 and all(r["motion_score"] is not None and r["phash"] for r in t)
    rej = query(out, "SELECT * FROM rejects").to_pylist()
    assert rej and all(any(x.startswith("motion_score<1") for x in r["reject_reasons"]) for r in rej)
    assert all(r["motion_score"] < 1.0 for r in rej)
    # each of the 5 clips of the copy duplicates the matching shot of the original (or vice versa)
    d = query(out, "SELECT * FROM duplicates").to_pylist()
    assert len(d) == 5, d
    # the CLI step recomputes the same table (idempotent) and a stricter distance finds no fewer
    from typer.testing import CliRunner

    from curate.cli import app

    res = CliRunner().invoke(app, ["dedup", out, "--set", "dedup.max_distance=6"])
    assert res.exit_code == 0 and "near-duplicate clips marked" in res.output, res.output
    assert query(out, "SELECT count(*) n FROM duplicates").to_pylist()[0]["n"] == 5


def test_plan_places_analyze_then_filter_and_both_can_be_disabled():
    from curate.config import load_config
    from curate.dag import check_chain, plan

    names = [s.cls.name for s in plan(load_config(None))]
    assert names[-3:] == ["clips", "analyze", "filter"]
    specs = plan(load_config(None, ["analyze.enabled=false", "filter.enabled=false"]))
    assert [s.cls.name for s in specs][-1] == "clips"
    check_chain(specs)
    a = [s for s in plan(load_config(None)) if s.cls.name == "analyze"][0]
    assert a.resources.actor  # the OCR engine loads once per actor
