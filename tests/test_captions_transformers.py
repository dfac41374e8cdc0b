"""transformers backend end to end with a tiny random-init Qwen2-VL loaded by local path.

The model writes random text: these tests assert plumbing (batching, chat templating with
images, timestamps, hierarchy, schema, token accounting, skip path), never wording.
"""

from __future__ import annotations

import logging

import pyarrow as pa
import pytest
from curate.schemas import CLIPS, stream_schema
from curate.stages.caption_frames import CaptionFrames, window_spans
from curate.stages.captions import Captions

from curate.captioners import load_captioner
from curate.captioners.base import Request
from curate.config import CaptionsConfig, CaptionTokens
from curate.stage import RunContext

pytest.importorskip("transformers")
TOKENS = CaptionTokens(window=12, diff=12, detailed=16, brief=12, chapter=8)
# Short templates keep the CPU prefill small (the default file is checked in test_caption_guards.py).
SHORT_PROMPTS = {
    "system": "be exact",
    "window": "{n_frames} frames at {times} of {start_s}-{end_s} of {duration_s}",
    "keyframe": "frame {t_s} of {duration_s}",
    "diff": "{prev_t_s}: {prev_text} now {t_s}",
    "detailed": "detailed caption of {duration_s}: {windows} {diffs} {hints}",
    "brief": "brief {max_words}: {detailed}",
    "chapter": "chapter {start_s}-{end_s}: {windows} {diffs}",
}


@pytest.fixture(scope="module")
def prompts_file(tmp_path_factory) -> str:
    import yaml

    path = tmp_path_factory.mktemp("prompts") / "short.yaml"
    path.write_text(yaml.safe_dump(SHORT_PROMPTS))
    return str(path)


def _cfg(model: str, prompts: str = "configs/prompts/captions.yaml", **kw) -> CaptionsConfig:
    base = dict(enabled=True, backend="transformers", model=model, device="cpu", num_gpus=0, prompts=prompts,
                max_new_tokens=TOKENS, window_s=2.0, frames_fps=1.0, max_frames_per_window=2,
                image_max_side=112, keyframe_interval_s=2.0, max_keyframes=3, chapter_min_s=2.0, chapter_max_s=4.0)
    base.update(kw)
    return CaptionsConfig(**base)


def _jpeg(color: tuple[int, int, int]) -> bytes:
    import cv2
    import numpy as np

    img = np.zeros((64, 96, 3), np.uint8)
    img[:] = color
    return cv2.imencode(".jpg", img)[1].tobytes()


def test_batched_generate_with_images(tiny_vlm):
    cap = load_captioner(_cfg(tiny_vlm, max_batch_requests=4))  # the real loading path, by local folder
    assert cap.backend == "transformers" and cap.model == tiny_vlm
    a, b = _jpeg((0, 0, 255)), _jpeg((0, 255, 0))
    reqs = [Request("describe", (a,), system="be brief", max_new_tokens=6),
            Request("describe these two frames in detail please", (a, b), max_new_tokens=6),
            Request("text only", (), max_new_tokens=6),
            Request("describe", (b,), max_new_tokens=6)]
    res = cap.generate(reqs)
    assert len(res) == 4
    for r in res:
        assert r.finish_reason in ("stop", "length") and r.text is not None
        assert 0 < r.output_tokens <= 6 and r.prompt_tokens > 0
    # image tokens are in the prompt: two images cost more prompt tokens than one, text-only fewest
    assert res[1].prompt_tokens > res[0].prompt_tokens > res[2].prompt_tokens
    # left padding: a request's greedy output does not depend on what it is batched with
    alone = cap.generate([reqs[0]])[0]
    assert alone.text == res[0].text and alone.output_tokens == res[0].output_tokens


def _clip_rows(samples, tmp_path) -> list[dict]:
    bikes, bbb = samples["bikes"].path, samples["bigbuckbunny"].path
    rows = [
        {"record": "clip", "status": "ok", "clip_id": "bikes-76", "video_id": "v1", "local_path": bikes,
         "clip_path": None, "start_s": 3.04, "end_s": 5.48, "duration_s": 2.44, "is_long_take": False},
        {"record": "clip", "status": "ok", "clip_id": "bbb-long", "video_id": "v2", "local_path": bbb,
         "clip_path": None, "start_s": 0.0, "end_s": 6.0, "duration_s": 6.0, "is_long_take": True,
         "camera_motion": "pan_left", "motion_score": 0.4, "ocr_texts": ["BIG BUCK BUNNY"]},
        {"record": "clip", "status": "rejected", "clip_id": "rej", "video_id": "v1", "local_path": bikes,
         "clip_path": None, "start_s": 0.0, "end_s": 1.0, "duration_s": 1.0, "is_long_take": False},
        {"record": "video", "status": "ok", "video_id": "v1", "local_path": bikes},
    ]
    return rows


def _frames_table(cfg, rows, tmp_path) -> pa.Table:
    ctx = RunContext("run1", str(tmp_path), str(tmp_path))
    base = stream_schema()  # the scores schema declares the hint columns once merged
    schema = pa.schema(list(base) + [pa.field(k, t) for k, t in
                       (("camera_motion", pa.string()), ("motion_score", pa.float64()), ("ocr_texts", pa.list_(pa.string())))
                       if k not in base.names])
    table = pa.Table.from_pylist(rows, schema=schema)
    return CaptionFrames(cfg, ctx)(table)


def test_hierarchy_end_to_end(tiny_vlm, samples, tmp_path, prompts_file):
    cfg = _cfg(tiny_vlm, prompts_file)
    framed = _frames_table(cfg, _clip_rows(samples, tmp_path), tmp_path)
    assert "caption_frames" in framed.column_names
    stage = Captions(cfg, RunContext("run1", str(tmp_path), str(tmp_path)))
    out = stage(framed)
    assert "caption_frames" not in out.column_names  # the bytes never reach the shards
    for f in CLIPS:  # every caption column has the declared type
        if f.name.startswith("caption_"):
            assert out.schema.field(f.name).type == f.type, f.name
    rows = {r.get("clip_id") or r["video_id"]: r for r in out.to_pylist()}
    assert rows["rej"]["caption_status"] is None and rows["v1"]["caption_status"] is None
    for cid in ("bikes-76", "bbb-long"):
        r = rows[cid]
        assert r["caption_status"] in ("ok", "flagged", "failed"), r["caption_error_detail"]
        assert r["caption_backend"] == "transformers" and r["caption_model"] == tiny_vlm
        spans = window_spans(r["duration_s"], cfg.window_s)
        assert [(w["start_s"], w["end_s"]) for w in r["caption_windows"]] == [(round(a, 3), round(b, 3)) for a, b in spans]
        assert [d["t_s"] for d in r["caption_diffs"]] == r["caption_keyframes_s"]
        assert 1 <= len(r["caption_keyframes_s"]) <= cfg.max_keyframes
        assert r["caption_keyframes_s"][0] == 0.0 and r["caption_keyframes_s"][-1] < r["duration_s"]
        n_req = len(r["caption_windows"]) + len(r["caption_diffs"]) + 2 + len(r["caption_chapters"] or [])
        assert r["caption_requests"] >= n_req  # + retries when a guard fired
        assert r["caption_prompt_tokens"] > 0 and r["caption_output_tokens"] > 0 and r["caption_seconds"] > 0
        for flag in r["caption_flags"]:
            level, guard = flag.split(":")
            assert guard in ("empty", "truncated", "repetitive", "wrong_language", "too_long", "error", "no_source")
        if r["caption_status"] != "failed":
            assert r["caption_detailed"] is not None and r["caption_brief"] is not None
    assert rows["bikes-76"]["caption_chapters"] is None
    chapters = rows["bbb-long"]["caption_chapters"]
    assert len(chapters) >= 2 and chapters[0]["start_s"] == 0.0 and chapters[-1]["end_s"] == 6.0
    assert all(a["end_s"] == b["start_s"] for a, b in zip(chapters, chapters[1:]))


def test_hints_reach_the_detailed_prompt(tiny_vlm, samples, tmp_path, prompts_file):
    seen = []

    class Spy:
        backend, model = "spy", "spy"

        def __init__(self, inner):
            self.inner = inner

        def generate(self, reqs):
            seen.extend(reqs)
            return self.inner.generate(reqs)

    cfg = _cfg(tiny_vlm, prompts_file, max_keyframes=2)
    framed = _frames_table(cfg, _clip_rows(samples, tmp_path)[1:2], tmp_path)
    Captions(cfg, None, captioner=Spy(load_captioner(cfg)))(framed)
    detailed = [r.prompt for r in seen if r.prompt.startswith("detailed caption")]
    assert detailed and "pan_left" in detailed[0] and "BIG BUCK BUNNY" in detailed[0] and "0.40" in detailed[0]
    assert all(not r.images for r in seen if r.prompt.startswith(("detailed", "brief", "chapter")))  # text-only summarisation
    assert any(len(r.images) == 2 for r in seen)  # differential: previous + current keyframe


def test_unloadable_model_skips_cleanly_and_says_so_once(samples, tmp_path, caplog):
    cfg = _cfg(str(tmp_path / "no-such-model"))
    framed = _frames_table(cfg, _clip_rows(samples, tmp_path), tmp_path)
    with caplog.at_level(logging.ERROR, logger="curate"):
        outs = [Captions(cfg, None)(framed) for _ in range(2)]  # two actors / batches
    msgs = [r.message for r in caplog.records if "cannot load model" in r.message]
    assert len(msgs) == 1
    assert str(tmp_path / "no-such-model") in msgs[0] and "captions.enabled=false" in msgs[0]
    for out in outs:
        r = {x.get("clip_id"): x for x in out.to_pylist()}["bikes-76"]
        assert r["caption_status"] == "skipped" and r["caption_error"] == "model_unavailable"
        assert r["caption_detailed"] is None and r["caption_brief"] is None and r["caption_windows"] is None
        assert r["status"] == "ok"  # the clip itself is fine
