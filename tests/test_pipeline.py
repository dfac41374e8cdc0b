"""End-to-end runs through real Ray Data: samples, bad inputs, resume, schema, DuckDB, HF datasets."""

from __future__ import annotations

import json
import os

import pyarrow.parquet as pq
import pytest

from curate.query import query
from curate.pipeline import run_pipeline
from curate.schemas import CLIPS, VIDEOS


def _rows(out: str, sql: str) -> list[dict]:
    return query(out, sql).to_pylist()


@pytest.fixture(scope="module")
def sample_run(ray_local, tmp_path_factory, samples, bad_inputs):
    """One run over the samples plus every bad input."""
    from curate.config import load_config

    out = str(tmp_path_factory.mktemp("run") / "out")
    cfg = load_config(None, [f"output.dir={out}", "clips.min_s=0.5", "clips.max_s=10"])
    missing = os.path.join(os.path.dirname(bad_inputs["empty"]), "does_not_exist.mp4")
    cfg.input.sources = [s.path for s in samples.values()] + list(bad_inputs.values()) + [missing]
    summary = run_pipeline(cfg)
    return cfg, out, summary, missing


def test_every_input_is_a_row(sample_run, samples, bad_inputs):
    cfg, out, summary, _ = sample_run
    n_inputs = len(samples) + len(bad_inputs) + 1
    assert summary.videos == n_inputs == _rows(out, "SELECT count(*) AS n FROM videos")[0]["n"]
    assert summary.videos_ok == len(samples)


def test_bad_inputs_have_reasons(sample_run, bad_inputs):
    _, out, summary, missing = sample_run
    rows = {r["source"]: r for r in _rows(out, "SELECT source, status, error, error_detail FROM videos")}
    expected = {
        bad_inputs["empty"]: "empty_file",
        bad_inputs["text"]: "not_a_video",
        bad_inputs["truncated"]: "not_a_video",  # moov atom lost: FFmpeg cannot parse the container
        bad_inputs["truncated_faststart"]: "truncated",
        bad_inputs["audio_only"]: "no_video_stream",
        missing: "not_found",
    }
    for src, reason in expected.items():
        assert rows[src]["status"] == "failed", rows[src]
        assert rows[src]["error"] == reason, rows[src]
        assert rows[src]["error_detail"]
    assert sum(summary.failures.values()) == len(expected)


def test_clips_match_cuts(sample_run, samples):
    _, out, _, _ = sample_run
    bikes = samples["bikes"].path
    v = _rows(out, f"SELECT video_id, cut_frames, num_clips, num_frames FROM videos WHERE source = '{bikes}'")[0]
    assert v["num_frames"] == 250 and v["num_clips"] == 5
    clips = _rows(out, f"SELECT * FROM clips WHERE video_id = '{v['video_id']}' ORDER BY start_frame")
    assert len(clips) == 5
    # trimmed by 2 frames next to each cut; no clip spans a cut
    cuts = v["cut_frames"]
    for c in clips:
        assert not any(c["start_frame"] < k < c["end_frame"] for k in cuts)
        assert c["status"] == "ok"
        assert os.path.isfile(os.path.join(out, c["clip_path"]))
        assert os.path.isfile(os.path.join(out, c["thumbnail_path"]))


def test_clip_files_are_frame_accurate(sample_run):
    import av

    _, out, _, _ = sample_run
    for c in _rows(out, "SELECT clip_path, num_frames FROM clips LIMIT 4"):
        with av.open(os.path.join(out, c["clip_path"])) as f:
            n = sum(1 for _ in f.decode(video=0))
        assert n == c["num_frames"]


def test_written_schema_equals_declared(sample_run):
    _, out, _, _ = sample_run
    manifest = json.load(open(os.path.join(out, "manifest.json")))
    assert manifest["shards"]
    for s in manifest["shards"]:
        for table, schema in (("videos", VIDEOS), ("clips", CLIPS)):
            written = pq.read_schema(os.path.join(out, s[table]))
            assert written.remove_metadata().equals(schema.remove_metadata()), table
            assert (written.field(schema[0].name).metadata or {}).get(b"description")


def test_manifest_and_resolved_config(sample_run):
    cfg, out, summary, _ = sample_run
    m = json.load(open(os.path.join(out, "manifest.json")))
    assert m["rows"]["videos"] == summary.videos and m["rows"]["clips"] == summary.clips
    assert m["shards"][0]["config_hash"] == cfg.hash()
    assert m["runs"][-1]["run_id"] == summary.run_id
    assert {"probe", "cuts", "clips", "analyze"} <= set(summary.stage_seconds)  # video and clip stages
    assert os.path.isfile(os.path.join(out, "config.resolved.yaml"))


def test_rerun_skips_done_and_never_duplicates(sample_run):
    cfg, out, first, _ = sample_run
    before = _rows(out, "SELECT count(*) AS v, (SELECT count(*) FROM clips) AS c FROM videos")[0]
    second = run_pipeline(cfg)
    assert second.videos == 0 and second.videos_skipped_done == first.videos
    after = _rows(out, "SELECT count(*) AS v, (SELECT count(*) FROM clips) AS c FROM videos")[0]
    assert after == before
    dup = _rows(out, "SELECT count(*) - count(DISTINCT clip_id) AS d FROM clips")[0]["d"]
    assert dup == 0


def test_loads_with_hf_datasets(sample_run):
    datasets = pytest.importorskip("datasets")
    _, out, summary, _ = sample_run
    ds = datasets.load_dataset("parquet", data_files={"train": os.path.join(out, "clips", "part-*.parquet")},
                               split="train")
    assert len(ds) == summary.clips
    assert "clip_id" in ds.column_names


def test_after_run_steps_are_rebuilt_when_missing_and_skipped_when_current(sample_run):
    """A kill between the last shard commit and dedup: the next (no-op) run rebuilds dedup and the report."""
    import pyarrow.parquet as pq

    from curate.dedup import DEDUP_PATH

    cfg, out, _, _ = sample_run
    dedup_file, report = os.path.join(out, DEDUP_PATH), os.path.join(out, "report.html")
    want = pq.read_table(dedup_file).sort_by("clip_id").to_pylist()
    os.remove(dedup_file)
    os.remove(report)
    again = run_pipeline(cfg)
    assert again.videos == 0 and not again.after_errors
    assert pq.read_table(dedup_file).sort_by("clip_id").to_pylist() == want  # same duplicates as before
    assert os.path.isfile(report)
    stamps = (os.path.getmtime(dedup_file), os.path.getmtime(report))
    run_pipeline(cfg)  # nothing changed: nothing is rebuilt
    assert (os.path.getmtime(dedup_file), os.path.getmtime(report)) == stamps


@pytest.mark.parametrize("reader", ["pandas", "pyarrow", "polars", "duckdb", "datasets"])
def test_every_table_folder_reads_directly(sample_run, reader):
    """Table folders hold only Parquet (clip media live under media/): each library reads them as they are."""
    _, out, summary, _ = sample_run
    for table, want in (("videos", summary.videos_discovered), ("clips", summary.clips)):
        folder = os.path.join(out, table)
        assert {os.path.splitext(f)[1] for f in os.listdir(folder)} == {".parquet"}
        if reader == "pandas":
            n = len(pytest.importorskip("pandas").read_parquet(folder))
        elif reader == "pyarrow":
            import pyarrow.dataset as pads

            n = pads.dataset(folder, format="parquet").count_rows()
        elif reader == "polars":
            n = pytest.importorskip("polars").scan_parquet(folder).select("video_id").collect().height
        elif reader == "duckdb":
            import duckdb

            n = duckdb.sql(f"SELECT count(*) FROM read_parquet('{folder}/*.parquet', union_by_name=true)").fetchall()[0][0]
        else:
            datasets = pytest.importorskip("datasets")
            n = len(datasets.load_dataset("parquet", data_dir=folder, split="train"))
        assert n == want, (reader, table, n, want)
    clip = _rows(out, "SELECT clip_path, thumbnail_path FROM clips WHERE clip_path IS NOT NULL LIMIT 1")[0]
    assert clip["clip_path"].startswith("media/clips/") and clip["thumbnail_path"].startswith("media/thumbnails/")
    assert os.path.isfile(os.path.join(out, clip["clip_path"]))
