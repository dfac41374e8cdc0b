"""Fixtures for the report / card / notebook / gallery tests.

``pipeline_out``: the real pipeline run once on two sample videos plus a text file posing as an
mp4 (so a failure shows up); the run writes report.html and README.md itself.

``enriched_out``: a copy of that output whose shards gained the kinds of columns other stages
add (a score computed from each thumbnail, a brief caption, timed captions, a topic, a licence
on videos) and some clips rejected with reasons, so the generic column discovery is exercised
on columns the spine's schema does not know.
"""

from __future__ import annotations

import io
import os
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from curate.schemas import field

from curate.config import load_config
from curate.shards import read_manifest
from curate.storage import Output

TOPICS = {"bikes": "cycling", "synthetic_cuts": "test patterns"}
LICENCES = {"bikes": "CC-BY-4.0", "synthetic_cuts": "CC0"}
LUMA_REJECT = 0.35  # clips with a darker thumbnail are marked rejected ("too_dark")


@pytest.fixture(scope="session")
def pipeline_out(tmp_path_factory, samples, bad_inputs, ray_local) -> str:
    from curate.pipeline import run_pipeline

    out = str(tmp_path_factory.mktemp("report") / "out")
    cfg = load_config(None, [f"output.dir={out}", "clips.min_s=0.5", "clips.max_s=10", "ray.num_cpus=2",
                             "clips.thumbnail_width=160", "name=report-test",
                             # the enriched fixture adds its own scores and rejects; keep the
                             # scoring stages out so its expectations are exact
                             "analyze.enabled=false", "filter.enabled=false", "dedup.enabled=false"])
    cfg.input.sources = [samples["bikes"].path, samples["synthetic_cuts"].path, bad_inputs["text"]]
    summary = run_pipeline(cfg)
    assert summary.videos_failed == 1 and summary.clips_ok > 5
    return out


def _luma(path: str) -> float:
    from PIL import Image, ImageStat

    return ImageStat.Stat(Image.open(path).convert("L")).mean[0] / 255.0


@pytest.fixture(scope="session")
def enriched_out(pipeline_out, tmp_path_factory) -> str:
    out = str(tmp_path_factory.mktemp("enriched") / "out")
    shutil.copytree(pipeline_out, out, ignore=shutil.ignore_patterns("_work"))
    o = Output(out)
    names: dict[str, str] = {}
    for s in read_manifest(o)["shards"]:
        vt = pq.read_table(o.path(s["videos"]))
        for vid, src in zip(vt.column("video_id").to_pylist(), vt.column("source").to_pylist()):
            names[vid] = os.path.splitext(os.path.basename(src))[0]
        lic = [LICENCES.get(names[v]) for v in vt.column("video_id").to_pylist()]
        lic_field = field("licence", pa.string(), "Licence of the source video as published.")
        if "licence" in vt.column_names:  # the provenance schema has it (null for local files)
            vt = vt.set_column(vt.column_names.index("licence"), lic_field, pa.array(lic))
        else:
            vt = vt.append_column(lic_field, pa.array(lic))
        pq.write_table(vt, o.path(s["videos"]))

        ct = pq.read_table(o.path(s["clips"]))
        rows = ct.to_pylist()
        luma, brief, timed, topic = [], [], [], []
        for r in rows:
            name = names[r["video_id"]]
            y = _luma(os.path.join(out, r["thumbnail_path"])) if r["thumbnail_path"] else None
            luma.append(y)
            brief.append(f"{name} clip {r['clip_index']} from {r['start_s']:.2f}s")
            mid = (r["start_s"] + r["end_s"]) / 2
            timed.append([{"start_s": r["start_s"], "end_s": mid, "text": f"first half of {name} {r['clip_index']}"},
                          {"start_s": mid, "end_s": r["end_s"], "text": f"second half of {name} {r['clip_index']}"}])
            topic.append(TOPICS[name])
            if y is not None and y < LUMA_REJECT:
                r["status"], r["reject_reasons"] = "rejected", ["too_dark"] + (["short"] if r["duration_s"] < 1.5 else [])
        status = pa.array([r["status"] for r in rows])
        reasons = pa.array([r["reject_reasons"] or [] for r in rows], pa.list_(pa.string()))
        ct = ct.set_column(ct.schema.get_field_index("status"), ct.schema.field("status"), status)
        ct = ct.set_column(ct.schema.get_field_index("reject_reasons"), ct.schema.field("reject_reasons"), reasons)
        seg = pa.list_(pa.struct([("start_s", pa.float64()), ("end_s", pa.float64()), ("text", pa.string())]))
        for f, vals in ((field("luma_mean", pa.float64(), "Mean luma of the middle frame (0-1)."), luma),
                        (field("caption_brief", pa.string(), "One-sentence caption."), brief),
                        (field("caption_windows", seg, "Per-window captions with timestamps."), timed),
                        (field("topic_name", pa.string(), "Name of the topic cluster."), topic)):
            if f.name in ct.column_names:  # declared by a stage's schema (e.g. captions): fill it
                i = ct.column_names.index(f.name)
                ct = ct.set_column(i, ct.schema.field(i), pa.array(vals, ct.schema.field(i).type))
            else:
                ct = ct.append_column(f, pa.array(vals, f.type))
        buf = io.BytesIO()
        pq.write_table(ct, buf)
        o.write_bytes(s["clips"], buf.getvalue())
    for stale in ("report.html", "README.md"):
        o.remove(stale)
    return out
