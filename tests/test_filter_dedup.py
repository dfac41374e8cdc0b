"""Filtering (every failed threshold kept as a reason) and near-duplicate detection on real
footage (re-encoded / resized / start-trimmed copies found, mirrored ones only with
dedup.mirror, other shots and another moment of a static camera not, a clip spanning two shots
never kept in their place), plus one end-to-end run."""

from __future__ import annotations

import os

import pytest
from curate.schemas import from_rows, stream_schema
from curate.stages.analyze import analyse_span
from curate.stages.filter import Filter, reject_reasons

from curate.analysers.phash import PhashAnalyser
from curate.config import AnalyzeConfig, DedupConfig, FilterConfig
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


def _hashes(path: str, start: float = 0.0, end: float | None = None) -> dict:
    """phash / phash_t / phash_motion of ``path`` as the analyse stage computes them (default config)."""
    p = probe(path)
    cfg = AnalyzeConfig()
    a = PhashAnalyser(cfg.phash_per_s, cfg.phash_max)
    analyse_span(path, int(start * p.fps), p.num_frames if end is None else int(end * p.fps), p.fps, [a])
    return a.result()


def _dups(clips: dict[str, dict], cfg: DedupConfig, rank: dict[str, int] | None = None) -> dict[str, tuple]:
    names = list(clips)
    r = [((rank or {}).get(n, 0), len(clips[n]["phash"])) for n in names]
    out = find_duplicates(names, [clips[n]["phash"] for n in names], r, cfg,
                          times=[clips[n]["phash_t"] for n in names], motion=[clips[n]["phash_motion"] for n in names])
    return {d[0]: d for d in out}


def test_near_duplicates_found_and_different_videos_not(copies):
    hashes = {n: _hashes(p) for n, p in copies.items()}
    dups = _dups(hashes, DedupConfig(), rank={"original": 1})  # prefer keeping the original
    assert set(dups) == {"reencoded", "resized", "trimmed"}, dups
    assert all(d[1] == "original" and 0 <= d[2] <= DedupConfig().align_distance for d in dups.values())
    assert abs(dups["trimmed"][4] - 1.3) < 0.15  # where the trimmed copy starts in the original


@pytest.fixture(scope="module")
def bikes_cases(samples, tmp_path_factory):
    """Real handheld street footage (bikes.mp4, hard cuts at frames 30/76/137/187/242 at 25 fps):
    shot 2 (frames 76-137) and edits of it, the other shots, and a clip spanning two shots."""
    d = tmp_path_factory.mktemp("bikes_dedup")
    src = samples["bikes"].path
    enc = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-an"]
    jobs = {
        "shot2": ["-ss", "3.08", "-i", src, "-t", "2.36", *enc],
        # start trimmed by 0.37 s (not a multiple of the sampling step) and resized, lower quality
        "shot2_trimmed": ["-ss", "3.45", "-i", src, "-t", "1.99", "-vf", "scale=320:-2", "-crf", "30", *enc],
        "shot2_mirrored": ["-ss", "3.08", "-i", src, "-t", "2.36", "-vf", "hflip", *enc],
        "shot1": ["-ss", "1.24", "-i", src, "-t", "1.76", *enc],
        "shot3": ["-ss", "5.52", "-i", src, "-t", "1.92", *enc],
        "shot4": ["-ss", "7.52", "-i", src, "-t", "2.12", *enc],
        # a missed cut: shot 2 then shot 4 in one clip
        "two_shots": ["-ss", "3.08", "-t", "2.36", "-i", src, "-ss", "7.52", "-t", "2.12", "-i", src,
                      "-filter_complex", "[0:v][1:v]concat=n=2:v=1[v]", "-map", "[v]", *enc],
    }
    out = {}
    for name, args in jobs.items():
        path = os.path.join(d, f"{name}.mp4")
        run_ffmpeg([*args, path])
        out[name] = _hashes(path)
    return out


def test_trimmed_copy_found_other_shots_of_the_same_source_not(bikes_cases):
    cases = {k: bikes_cases[k] for k in ("shot2", "shot2_trimmed", "shot1", "shot3", "shot4")}
    dups = _dups(cases, DedupConfig())
    assert set(dups) == {"shot2_trimmed"}, dups
    d = dups["shot2_trimmed"]
    assert d[1] == "shot2" and d[3] >= DedupConfig().min_matched and abs(d[4] - 0.37) < 0.1 and not d[5]


def test_mirrored_copy_found_only_with_the_switch(bikes_cases):
    cases = {k: bikes_cases[k] for k in ("shot2", "shot2_mirrored", "shot3")}
    assert _dups(cases, DedupConfig()) == {}
    dups = _dups(cases, DedupConfig(mirror=True))
    assert set(dups) == {"shot2_mirrored"} and dups["shot2_mirrored"][1] == "shot2" and dups["shot2_mirrored"][5]


def test_two_shot_clip_never_represents_a_group(bikes_cases):
    """The two-shot clip contains all of shot 2 and shot 4, and is the longest (default rank): it
    must not be kept in their place, and shot 2 and shot 4 must not end up in one group."""
    cases = {k: bikes_cases[k] for k in ("two_shots", "shot2", "shot2_trimmed", "shot4")}
    # its motion masks (relative to its own two-shot median) already differ from each shot's, so by
    # default it matches neither; without that check it matches both, and the shot-change rule
    # must keep it from being kept in their place
    for cfg in (DedupConfig(), DedupConfig(min_motion_overlap=0.0)):
        dups = _dups(cases, cfg)
        kept = {d[1] for d in dups.values()}
        assert "two_shots" not in kept, dups
        assert "shot2" not in dups and "shot4" not in dups, dups  # both shots stay
        assert dups["shot2_trimmed"][1] == "shot2"
    assert dups["two_shots"][1] in ("shot2", "shot4")  # matched (contains each), not a representative


@pytest.fixture(scope="module")
def static_camera(samples, tmp_path_factory):
    """A 'static camera' from real footage: one bikes frame held still with temporal sensor noise,
    and a real moving patch (96x96 of bikes shot 1 / shot 4) crossing it along one path (moment
    1) or another (moment 2); plus moment 1 start-trimmed by 0.37 s, halved and re-encoded."""
    d = tmp_path_factory.mktemp("static_dedup")
    src = samples["bikes"].path
    still = os.path.join(d, "still.png")
    run_ffmpeg(["-ss", "6", "-i", src, "-frames:v", "1", still])
    enc = ["-c:v", "libx264", "-preset", "ultrafast", "-an"]
    out = {}
    for name, (ss, path) in {"moment1": ("1.24", "x='20+120*t':y=30"), "moment2": ("7.6", "x=500:y='150-35*t'")}.items():
        out[name] = os.path.join(d, f"{name}.mp4")
        run_ffmpeg(["-loop", "1", "-framerate", "25", "-i", still, "-ss", ss, "-i", src, "-filter_complex",
                    f"[0:v]noise=alls=6:allf=t[b];[1:v]crop=96:96:280:90[o];[b][o]overlay={path}:shortest=1,format=yuv420p",
                    "-t", "4", *enc, out[name]])
    out["moment1_copy"] = os.path.join(d, "moment1_copy.mp4")
    run_ffmpeg(["-ss", "0.37", "-i", out["moment1"], "-vf", "scale=320:-2", "-crf", "30", *enc, out["moment1_copy"]])
    return {k: _hashes(v) for k, v in out.items()}


def test_static_camera_other_moment_is_not_a_duplicate(static_camera):
    """The held background dominates the pHash, so the two moments match at any offset; only the
    motion masks tell them apart (without the check they are paired)."""
    dups = _dups(static_camera, DedupConfig())
    assert set(dups) == {"moment1_copy"} and dups["moment1_copy"][1] == "moment1", dups
    assert "moment2" in _dups(static_camera, DedupConfig(min_motion_overlap=0.0))


def test_mirrored_hash_is_exact(samples):
    """dedup.mirror needs no extra column: the pHash of the mirrored frame follows from the signs."""
    import cv2
    import numpy as np

    from curate.analysers.phash import hamming, mirror_hash, mirror_mask, phash

    cap = cv2.VideoCapture(samples["bikes"].path)
    frames = []
    for _ in range(120):
        ok, f = cap.read()
        if ok:
            frames.append(cv2.resize(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY), (256, 108), interpolation=cv2.INTER_AREA))
    cap.release()
    assert len(frames) == 120
    for g in frames[::10]:
        h, hm = phash(g), phash(np.ascontiguousarray(g[:, ::-1]))
        assert hamming(mirror_hash(h), hm) <= 1 and hamming(h, hm) > 16
    assert mirror_mask(0b1) == 1 << 7 and mirror_mask(mirror_mask(0x0123456789ABCDEF)) == 0x0123456789ABCDEF


def test_hash_set_from_parquet_columns_matches_lists():
    """dedup_output reads the list columns straight into flat arrays; rows written before
    phash_t / phash_motion existed (null) fall back to one hash per second and no motion."""
    import numpy as np
    import pyarrow as pa

    from curate.dedup import HashSet

    h = [[1, -2, 3], [4, 5], [-6, 7, 8, 9]]
    t = [[0.0, 0.125, 0.25], None, [0.0, 0.1, 0.2, 0.3]]
    m = [[1, 2, 3], None, [0, -1, 0, 1]]
    table = pa.table({"phash": pa.array(h, pa.list_(pa.int64())), "phash_t": pa.array(t, pa.list_(pa.float32())),
                      "phash_motion": pa.array(m, pa.list_(pa.int64()))})
    a, b = HashSet.from_arrow(table.slice(0)), HashSet.from_lists(h, t, m)
    assert a.start.tolist() == b.start.tolist() == [0, 3, 5, 9]
    assert np.array_equal(a.h, b.h) and np.array_equal(a.m, b.m) and np.allclose(a.t, b.t)
    assert a.clip(1).t.tolist() == [0.0, 1.0] and a.clip(2).m.view(np.int64).tolist() == [0, -1, 0, 1]


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
