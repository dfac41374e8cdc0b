"""Aesthetics stage with a tiny randomly-initialised open_clip model (no weights ship here):
shapes, batching, determinism, the real checkpoint-loading path, and the skip path."""

from __future__ import annotations

import json
import os

import numpy as np
import pyarrow as pa
import pytest

torch = pytest.importorskip("torch")
open_clip = pytest.importorskip("open_clip")

from curate.aesthetic_model import AestheticScorer, aesthetic_head, sample_frames  # noqa: E402
from curate.config import AestheticsConfig  # noqa: E402
from curate.schemas import stream_schema  # noqa: E402
from curate.schemas.aesthetics import AESTHETIC_FIELDS  # noqa: E402
from curate.stage import RunContext  # noqa: E402
from curate.stages.aesthetics import Aesthetics  # noqa: E402

TINY = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "patch_size": 16, "head_width": 32},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    """A tiny open_clip config + a saved random checkpoint + a saved random aesthetic head."""
    d = tmp_path_factory.mktemp("tinyclip")
    (d / "tiny-clip.json").write_text(json.dumps(TINY))
    open_clip.add_model_config(str(d / "tiny-clip.json"))
    torch.manual_seed(0)
    model = open_clip.create_model("tiny-clip", pretrained=None)
    torch.save(model.state_dict(), d / "tiny.pt")
    head = aesthetic_head(TINY["embed_dim"])
    torch.save(head.state_dict(), d / "head.pth")
    return str(d / "tiny.pt"), str(d / "head.pth")


def _clip_rows(samples, n=3):
    path = samples["bikes"].path
    spans = [(0, 28), (32, 74), (78, 135)][:n]
    return [{"record": "clip", "status": "ok", "clip_id": f"c{i}", "video_id": "v", "local_path": path,
             "start_frame": a, "end_frame": b} for i, (a, b) in enumerate(spans)]


def test_scorer_shapes_and_determinism(tiny_ckpt, samples):
    ckpt, head = tiny_ckpt
    scorer = AestheticScorer("tiny-clip", ckpt, head, device="cpu")  # the real checkpoint-loading path
    frames = sample_frames(samples["bikes"].path, 3, 0, 28)
    assert len(frames) == 3 and frames[0].ndim == 3
    emb, scores = scorer.embed_and_score(frames)
    assert emb.shape == (3, 32) and scores.shape == (3,)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    emb2, scores2 = AestheticScorer("tiny-clip", ckpt, head).embed_and_score(frames)
    np.testing.assert_allclose(emb, emb2, atol=1e-6)
    np.testing.assert_allclose(scores, scores2, atol=1e-6)
    # batching: one forward for all frames equals frame-by-frame
    single = np.concatenate([scorer.embed_and_score([f])[0] for f in frames])
    np.testing.assert_allclose(emb, single, atol=1e-5)


def test_stage_fills_columns(tiny_ckpt, samples, tmp_path):
    ckpt, head = tiny_ckpt
    cfg = AestheticsConfig(enabled=True, model="tiny-clip", pretrained=ckpt, head_path=head, device="cpu")
    stage = Aesthetics(cfg, RunContext("r", str(tmp_path), str(tmp_path)))
    rows = _clip_rows(samples) + [{"record": "video", "status": "ok", "video_id": "v"}]
    out = stage(pa.Table.from_pylist(rows, schema=stream_schema())).to_pylist()
    clips = [r for r in out if r["record"] == "clip"]
    assert all(r["aesthetic_status"] == "ok" for r in clips)
    assert all(len(r["clip_embedding"]) == 32 and isinstance(r["aesthetic_score"], float) for r in clips)
    assert out[-1].get("aesthetic_status") is None  # video records untouched
    # timed like RowStage stages: each clip carries its frames + share of the forward pass
    assert all(dict(r["stage_seconds"])["aesthetics"] > 0 for r in clips)
    assert not dict(out[-1].get("stage_seconds") or []).get("aesthetics")
    for f in AESTHETIC_FIELDS:
        assert stage(pa.Table.from_pylist(rows, schema=stream_schema())).schema.field(f.name).type == f.type
    # different clips, different embeddings
    assert not np.allclose(clips[0]["clip_embedding"], clips[2]["clip_embedding"])


def test_unavailable_model_is_skipped_once(monkeypatch, tmp_path, samples, caplog):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cfg = AestheticsConfig(enabled=True, model="ViT-L-14", pretrained="openai", device="cpu")
    stage = Aesthetics(cfg, RunContext("r", str(tmp_path), str(tmp_path)))
    out = stage(pa.Table.from_pylist(_clip_rows(samples, 2), schema=stream_schema())).to_pylist()
    assert {r["aesthetic_status"] for r in out} == {"skipped"}
    assert all(r["aesthetic_score"] is None and r["clip_embedding"] is None for r in out)
    assert stage.unavailable and "aesthetics.pretrained" in stage.unavailable


def test_missing_head_file_is_reported(tiny_ckpt, tmp_path, samples):
    ckpt, _ = tiny_ckpt
    cfg = AestheticsConfig(enabled=True, model="tiny-clip", pretrained=ckpt, head_path=str(tmp_path / "nope.pth"))
    stage = Aesthetics(cfg, RunContext("r", str(tmp_path), str(tmp_path)))
    assert stage.unavailable and "head_path" in stage.unavailable
    assert os.path.exists(ckpt)


def test_frames_shared_by_the_analyse_stage(tiny_ckpt, samples, tmp_path, monkeypatch):
    """analyze samples the aesthetics frames from its own decode; aesthetics then scores them
    without decoding (and drops the stream-only column); without them it decodes itself."""
    from curate.config import AnalyzeConfig, Config
    from curate.media import probe
    from curate.stages.analyze import Analyze

    import curate.stages.aesthetics as aes_stage

    # the shared sampling is on exactly when both stages run, with the aesthetics frame count
    assert Config().analyze.aesthetic_frames == 0
    both = Config.model_validate({"aesthetics": {"enabled": True, "frames": 4}})
    assert both.analyze.aesthetic_frames == 4
    assert Config.model_validate({"aesthetics": {"enabled": True}, "analyze": {"aesthetic_frames": 0}}
                                 ).analyze.aesthetic_frames == 0

    ckpt, head = tiny_ckpt
    ctx = RunContext("r", str(tmp_path), str(tmp_path))
    fps = probe(samples["bikes"].path).fps
    analyze = Analyze(AnalyzeConfig(ocr=False, overlay=False, aesthetic_frames=3), ctx)
    rows = [analyze.process({**r, "fps": fps}) for r in _clip_rows(samples)]
    assert all(len(r["aesthetic_frames"]) == 3 and r["aesthetic_frames"][0][:2] == b"\xff\xd8" for r in rows)
    schema = pa.schema(list(stream_schema()) + [pa.field("aesthetic_frames", pa.list_(pa.binary()))])
    cfg = AestheticsConfig(enabled=True, model="tiny-clip", pretrained=ckpt, head_path=head, device="cpu")
    stage = Aesthetics(cfg, ctx)
    own = {r["clip_id"]: r for r in stage(pa.Table.from_pylist(_clip_rows(samples), schema=stream_schema())).to_pylist()}

    def no_decode(*a, **k):
        raise AssertionError("aesthetics decoded although the analyse stage shared its frames")

    monkeypatch.setattr(aes_stage, "sample_frames", no_decode)
    out_tbl = stage(pa.Table.from_pylist(rows, schema=schema))
    assert "aesthetic_frames" not in out_tbl.column_names  # consumed, never reaches the shards
    for r in out_tbl.to_pylist():
        assert r["aesthetic_status"] == "ok"
        ref = own[r["clip_id"]]
        # same frames (upright, 448 px short side) up to JPEG q95: the same embedding and score
        assert float(np.dot(r["clip_embedding"], ref["clip_embedding"])) > 0.995
        assert r["aesthetic_score"] == pytest.approx(ref["aesthetic_score"], abs=0.05)


def test_openai_weights_get_quick_gelu(tiny_ckpt):
    """open_clip 3.x builds ViT-L-14 with GELU; the openai tag needs QuickGELU (else scores drift)."""
    from open_clip.transformer import QuickGELU

    from curate.aesthetic_model import needs_quick_gelu

    assert needs_quick_gelu("ViT-L-14", "openai") is True
    assert needs_quick_gelu("ViT-L-14", "laion2b_s32b_b82k") is False
    ckpt, head = tiny_ckpt
    assert needs_quick_gelu("tiny-clip", ckpt) is False  # a file cannot tell: the config decides
    for flag in (True, False):
        scorer = AestheticScorer("tiny-clip", ckpt, head, device="cpu", quick_gelu=flag)
        acts = {type(m) for m in scorer.model.visual.modules()}
        assert (QuickGELU in acts) is flag
