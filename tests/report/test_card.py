"""The dataset card: front matter from the data, feature list == the shards' Arrow schema, loadable by `datasets`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from curate.schemas import CLIPS, VIDEOS, schema_table

from curate.card import MARKER, build_card, features, hf_licence, size_category, write_card
from curate.columns import table_schema
from curate.query import connect


def _front(text: str) -> dict:
    m = re.match(r"^---\n(.*?)\n---\n", text, re.DOTALL)
    assert m, text[:200]
    return yaml.safe_load(m.group(1))


def _features(text: str, heading: str) -> list[tuple[str, str, str]]:
    section = text.split(heading, 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([^`]+)` \| `([^`]+)` \| (.*) \|$", section, re.MULTILINE)
    return [(n, t, d.replace("\\|", "|")) for n, t, d in rows]


def test_run_writes_card_with_schema_features(pipeline_out):
    text = Path(pipeline_out, "README.md").read_text()  # written by run_pipeline itself
    front = _front(text)
    assert front["task_categories"] == ["text-to-video"]
    assert front["license"] == ["unknown"]  # the spine has no licence column
    assert front["size_categories"] == ["n<1K"]
    cfgs = {c["config_name"]: c for c in front["configs"]}
    assert cfgs["clips"]["data_files"] == [{"split": "train", "path": "clips/*.parquet"}] and cfgs["clips"]["default"]
    assert cfgs["videos"]["data_files"] == [{"split": "train", "path": "videos/*.parquet"}]
    assert front["pretty_name"] == "report-test"
    assert _features(text, "### `clips`") == features(CLIPS)
    assert _features(text, "### `videos`") == features(VIDEOS)
    # ... which is curate.schemas.schema_table with Parquet's list naming normalised
    assert [(n, d) for n, _, d in features(CLIPS)] == [(n, d) for n, _, d in schema_table(CLIPS)]
    assert ("reject_reasons", "list<string>") in [(n, t) for n, t, _ in features(CLIPS)]
    assert "config.resolved.yaml" in text and "min_s: 0.5" in text  # how it was made
    assert MARKER in text


def test_card_follows_new_columns_and_licences(enriched_out):
    text = build_card(enriched_out)
    front = _front(text)
    assert front["license"] == ["cc-by-4.0", "cc0-1.0"]
    feats = _features(text, "### `clips`")
    assert feats == features(table_schema(enriched_out, "clips"))
    assert any(name == "caption_windows" and desc for name, _, desc in feats)
    assert ("luma_mean", "double", "Mean luma of the middle frame (0-1).") in feats
    assert any(name == "licence" and desc for name, _, desc in _features(text, "### `videos`"))
    con = connect(enriched_out)
    n_ok = con.execute("SELECT count(*) FROM clips WHERE status='ok'").fetchone()[0]
    n_rej = con.execute("SELECT count(*) FROM clips WHERE status='rejected'").fetchone()[0]
    con.close()
    assert text.count(f"{n_ok} training clips") == 1
    assert f"- `too_dark`: {n_rej}" in text
    assert "| CC-BY-4.0 | 1 | `cc-by-4.0` |" in text and "`licence`" in text


def test_card_configs_load_with_datasets(enriched_out, tmp_path):
    datasets = pytest.importorskip("datasets")
    write_card(enriched_out)
    ds = datasets.load_dataset(enriched_out, "clips", split="train", cache_dir=str(tmp_path / "hf"))
    con = connect(enriched_out)
    n = con.execute("SELECT count(*) FROM clips").fetchone()[0]
    con.close()
    assert ds.num_rows == n and "luma_mean" in ds.column_names
    vids = datasets.load_dataset(enriched_out, "videos", split="train", cache_dir=str(tmp_path / "hf"))
    assert vids.num_rows == 3


def test_card_never_overwrites_a_foreign_readme(enriched_out, tmp_path):
    import shutil

    d = tmp_path / "o"
    shutil.copytree(enriched_out, d)
    (d / "README.md").write_text("# my own notes\n")
    with pytest.raises(FileExistsError):
        write_card(str(d))
    assert (d / "README.md").read_text() == "# my own notes\n"
    write_card(str(d), force=True)
    assert MARKER in (d / "README.md").read_text()
    write_card(str(d))  # our own card is regenerated without --force


@pytest.mark.parametrize("raw, hf", [
    ("CC-BY-4.0", "cc-by-4.0"), ("cc-by-sa-3.0", "cc-by-sa-3.0"), ("CC BY 4.0", "cc-by-4.0"),
    ("Creative Commons Attribution license (reuse allowed)", "cc-by-3.0"), ("CC0", "cc0-1.0"),
    ("CC0 1.0 Universal", "cc0-1.0"), ("public domain", "other"), ("CC-BY-NC-4.0", "cc-by-nc-4.0"),
    ("cc-by-nc-nd-4.0", "other"), ("Standard YouTube License", "other"), (None, "unknown"), ("", "unknown"),
])
def test_hf_licence(raw, hf):
    assert hf_licence(raw) == hf


def test_size_category():
    assert [size_category(n) for n in (0, 999, 1000, 250_000, 5_000_000)] == [
        "n<1K", "n<1K", "1K<n<10K", "100K<n<1M", "1M<n<10M"]
