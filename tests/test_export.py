"""curate export: WebDataset tars read back with `webdataset`, an HF dataset loaded with `datasets`.

The output is hand-committed shards (no Ray) whose clip files are real footage: pieces of
bikes.mp4 cut with ffmpeg. The selection must be the training selection: rejected, duplicate,
labelled-reject and licence-excluded clips never leave.
"""

from __future__ import annotations

import io
import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.config import ConfigError, TrainConfig
from curate.media import run_ffmpeg

N_CLIPS = 6


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory, samples) -> str:
    from curate.dedup import DEDUP_PATH, DEDUP_SCHEMA
    from curate.schemas import CLIPS, VIDEOS, from_rows
    from curate.shards import ShardWriter
    from curate.storage import Output

    root = tmp_path_factory.mktemp("export")
    out = Output(str(root / "out"))
    w = ShardWriter(out, "run", "hash", 100, 100)
    bikes = samples["bikes"].path
    clips = []
    for i in range(N_CLIPS):  # 1 s pieces of real handheld street footage, re-encoded small
        rel = f"clips/v/c{i}.mp4"
        os.makedirs(os.path.dirname(out.path(rel)), exist_ok=True)
        run_ffmpeg(["-ss", str(i * 1.2), "-t", "1", "-i", bikes, "-vf", "scale=160:-2", "-an", "-c:v", "libx264",
                    "-preset", "ultrafast", "-pix_fmt", "yuv420p", out.path(rel)])
        clips.append({"clip_id": f"c{i}", "video_id": "v-by" if i < 4 else "v-nc", "status": "ok" if i != 3 else "rejected",
                      "clip_path": rel, "width": 160, "height": 68, "fps": 25.0, "num_frames": 25, "duration_s": 1.0,
                      "start_s": i * 1.2, "end_s": i * 1.2 + 1, "motion_score": 0.1 * i, "caption_brief": f"street, piece {i}",
                      "clip_embedding": [0.5] * 8, "ocr_texts": ["SHOP"] if i == 2 else []})
    videos = [{"video_id": "v-by", "status": "ok", "licence": "CC-BY-4.0", "title": "Bikes", "uploader": "Ann",
               "uploader_url": "https://example.org/ann", "webpage_url": "https://example.org/bikes", "source": bikes},
              {"video_id": "v-nc", "status": "ok", "licence": "CC-BY-NC-4.0", "title": "Bikes NC", "uploader": "Bo",
               "webpage_url": "https://example.org/bikes-nc", "source": bikes}]
    w.commit(from_rows(videos[:1], VIDEOS), from_rows(clips[:4], CLIPS))
    w.commit(from_rows(videos[1:], VIDEOS), from_rows(clips[4:], CLIPS))
    buf = io.BytesIO()  # c1 is a near-duplicate of c0
    pq.write_table(pa.Table.from_pylist([{"clip_id": "c1", "duplicate_of": "c0", "distance": 2, "matched": 1.0}],
                                        schema=DEDUP_SCHEMA), buf)
    out.write_bytes(DEDUP_PATH, buf.getvalue())
    return out.path("")


def _cfg(**select) -> TrainConfig:
    return TrainConfig(select=select)


def test_webdataset_export_reads_back_with_webdataset(out_dir, tmp_path):
    import webdataset as wds

    from curate.export import export
    from curate.labels import set_labels

    set_labels(out_dir, ["c5"], "reject")
    try:
        # tiny shard target: every clip its own shard (a shard always takes at least one sample)
        res = export(out_dir, str(tmp_path / "wds"), "webdataset", _cfg(), shard_mb=0.001)
    finally:
        set_labels(out_dir, ["c5"], None)
    # c1 duplicate, c3 rejected, c5 labelled reject -> c0, c2, c4
    assert res.samples == 3 and len(res.shards) == 3 and res.videos == 2
    urls = [str(tmp_path / "wds" / s["path"]) for s in res.shards]
    samples = list(wds.WebDataset(urls, shardshuffle=False).decode())
    assert [s["__key__"] for s in samples] == ["c0", "c2", "c4"]
    by = {s["__key__"]: s for s in samples}
    meta = by["c2"]["json"]
    assert meta["licence"] == "CC-BY-4.0" and meta["licence_url"].startswith("https://creativecommons.org/licenses/by/4.0")
    assert meta["author"] == "Ann" and meta["source_url"] == "https://example.org/bikes" and meta["title"] == "Bikes"
    assert meta["caption_brief"] == "street, piece 2" and meta["text"] == "street, piece 2" and meta["ocr_texts"] == ["SHOP"]
    assert abs(meta["motion_score"] - 0.2) < 1e-6 and "clip_embedding" not in meta and "clip_path" not in meta
    assert by["c4"]["json"]["licence"] == "CC-BY-NC-4.0"
    assert by["c2"]["txt"] == "street, piece 2"
    with open(os.path.join(out_dir, "clips/v/c2.mp4"), "rb") as f:
        assert by["c2"]["mp4"] == f.read()  # the clip file as-is
    # attribution for the exported videos only, and the manifest written last
    att = (tmp_path / "wds" / "ATTRIBUTION.csv").read_text()
    assert "Ann" in att and "Bo" in att and "CC-BY-NC-4.0" in att
    man = json.loads((tmp_path / "wds" / "export.json").read_text())
    assert man["samples"] == 3 and [s["path"] for s in man["shards"]] == [f"shard-00000{i}.tar" for i in range(3)]
    # same selection semantics as training: licences and --where compose with the rest
    res2 = export(out_dir, str(tmp_path / "wds"), "webdataset", _cfg(licences=["CC-BY"]), where="motion_score >= 0.15")
    assert res2.samples == 1 and len(res2.shards) == 1
    assert sorted(os.listdir(tmp_path / "wds")) == ["ATTRIBUTION.csv", "ATTRIBUTION.md", "export.json", "shard-000000.tar"]
    assert [s["__key__"] for s in wds.WebDataset(str(tmp_path / "wds" / "shard-000000.tar"), shardshuffle=False)] == ["c2"]


def test_hf_export_loads_with_datasets_as_video_feature(out_dir, tmp_path):
    from datasets import Video, load_dataset

    from curate.export import export
    from curate.labels import set_labels

    set_labels(out_dir, ["c2"], "accept", tags_add=["shop-sign"])
    try:
        res = export(out_dir, str(tmp_path / "hf"), "hf", _cfg(), shard_mb=0.001)
        only = export(out_dir, str(tmp_path / "hf_acc"), "hf", _cfg(), accepted_only=True)
    finally:
        set_labels(out_dir, ["c2"], None, tags_remove=["shop-sign"])
    assert res.samples == 4 and len(res.shards) == 4  # c0 c2 c4 c5
    ds = load_dataset(str(tmp_path / "hf"), split="train")  # README.md YAML points at data/
    assert isinstance(ds.features["video"], Video)
    assert ds.num_rows == 4 and ds.column_names[0] == "video"
    raw = ds.cast_column("video", Video(decode=False))
    row = raw[1]
    with open(os.path.join(out_dir, "clips/v/c2.mp4"), "rb") as f:
        assert row["video"]["bytes"] == f.read() and row["video"]["path"] == "c2.mp4"
    assert row["clip_id"] == "c2" and row["licence"] == "CC-BY-4.0" and row["author_url"] == "https://example.org/ann"
    assert row["ocr_texts"] == ["SHOP"] and "clip_embedding" not in raw.column_names
    try:  # decoding needs torchcodec; where it is installed, the frames must come out
        import torchcodec  # noqa: F401
    except ImportError:
        pass
    else:
        assert len(ds[0]["video"].get_frames_in_range(0, 3).data) == 3
    assert load_dataset(str(tmp_path / "hf_acc"), split="train")["clip_id"] == ["c2"]
    card = (tmp_path / "hf" / "README.md").read_text()
    assert "ATTRIBUTION.md" in card and "license: other" in card


def test_export_refuses_bad_input(out_dir, tmp_path):
    from curate.export import export

    with pytest.raises(ConfigError, match="format"):
        export(out_dir, str(tmp_path / "x"), "tfrecord")
    with pytest.raises(ConfigError, match="matched no clips"):
        export(out_dir, str(tmp_path / "x"), "webdataset", where="motion_score > 99")
    with pytest.raises(ConfigError, match="query failed"):
        export(out_dir, str(tmp_path / "x"), "webdataset", where="no_such_column = 1")


def test_cli_export(out_dir, tmp_path):
    from typer.testing import CliRunner

    from curate.cli import app

    r = CliRunner().invoke(app, ["export", out_dir, str(tmp_path / "e"), "--format", "webdataset",
                                 "--where", "clip_id <> 'c0'", "-s", "train.select.licences=[CC-BY]"])
    assert r.exit_code == 0, r.output
    assert "1 clips from 1 videos -> 1 webdataset shard(s)" in r.output  # c2 only (c0 out by --where, NC by licence)
    r = CliRunner().invoke(app, ["export", out_dir, str(tmp_path / "e"), "--where", "nope > 1"])
    assert r.exit_code == 2 and "query failed" in r.output
