"""Caption columns in the schema/DAG, and one real Ray run with the tiny VLM (shards + summary)."""

from __future__ import annotations

import pytest
from curate.schemas import CLIPS, SCHEMA_VERSION, stream_schema
from curate.schemas.captions import CAPTION_FIELDS, POINT, SPAN

from curate.config import load_config
from curate.dag import check_chain, plan


def test_caption_columns_in_clip_schema():
    names = CLIPS.names
    for f in CAPTION_FIELDS:
        assert f.name in names and CLIPS.field(f.name).type == f.type
        assert (f.metadata or {}).get(b"description"), f.name
    assert CLIPS.field("caption_windows").type.value_type == SPAN
    assert CLIPS.field("caption_diffs").type.value_type == POINT
    assert CLIPS.field("caption_keyframes_s").type == __import__("pyarrow").list_(__import__("pyarrow").float64())
    assert "caption_frames" not in names and "caption_frames" not in stream_schema().names  # stream-only bytes
    assert tuple(int(x) for x in SCHEMA_VERSION.split(".")) >= (1, 1, 0)


def test_plan_with_captions_enabled_and_disabled():
    assert "captions" not in [s.cls.name for s in plan(load_config("configs/local.yaml"))]  # fast local default
    cfg = load_config(None, ["captions.enabled=true", "captions.num_gpus=0.5", "captions.batch_size=8",
                             "captions.concurrency=2"])
    specs = plan(cfg)
    assert [s.cls.name for s in specs][-2:] == ["caption_frames", "captions"]
    cols = check_chain(specs)
    assert {"caption_brief", "caption_detailed", "caption_frames"} <= set(cols)
    frames, caps = specs[-2].resources, specs[-1].resources
    assert not frames.actor and frames.num_gpus == 0  # CPU decode task ahead of the actor
    assert caps.actor and caps.num_gpus == 0.5 and caps.batch_size == 8 and caps.concurrency == 2
    kw = caps.map_batches_kwargs(4)
    assert kw["num_gpus"] == 0.5 and kw["memory"] > 0 and "concurrency" not in kw  # deprecated in Ray 2.60
    assert (kw["compute"].min_size, kw["compute"].max_size) == (2, 2)
    openai = plan(load_config(None, ["captions.enabled=true", "captions.backend=openai"]))[-1].resources
    assert openai.num_gpus == 0


@pytest.mark.ray_cluster
def test_pipeline_with_tiny_vlm(samples, make_cfg, ray_local, tiny_vlm):
    from curate.query import query
    from curate.pipeline import run_pipeline

    cfg = make_cfg([samples["bikes"].path], clips__min_s=1.5, clips__long_take_min_s=2.4,
                   captions__enabled="true", captions__model=tiny_vlm, captions__num_gpus=0,
                   captions__window_s=2.0, captions__image_max_side=112, captions__max_keyframes=2,
                   captions__batch_size=4, captions__memory_gb=0.5,
                   captions__max_new_tokens__window=6, captions__max_new_tokens__diff=6,
                   captions__max_new_tokens__detailed=8, captions__max_new_tokens__brief=6,
                   captions__max_new_tokens__chapter=4)
    s = run_pipeline(cfg)
    assert s.clips_ok >= 3
    t = query(cfg.output.dir, "SELECT clip_id, is_long_take, caption_status, caption_windows, caption_chapters, "
                              "caption_keyframes_s, caption_output_tokens FROM clips")
    rows = t.to_pylist()
    assert rows and all(r["caption_status"] in ("ok", "flagged", "failed") for r in rows)
    assert all(r["caption_windows"] and r["caption_keyframes_s"][0] == 0.0 and r["caption_output_tokens"] > 0
               for r in rows)
    assert any(r["is_long_take"] and r["caption_chapters"] for r in rows)
    [stats] = s.captions
    assert stats["backend"] == "transformers" and stats["clips"] == len(rows)
    assert stats["clips_per_s"] > 0 and stats["output_tokens_per_s"] > 0
    assert s.stage_seconds.get("captions", 0) > 0  # the batched actor stage is timed like row stages


def test_bad_prompt_file_is_a_config_error(tmp_path):
    from curate.config import ConfigError

    cfg = load_config(None, ["captions.enabled=true", f"captions.prompts={tmp_path / 'nope.yaml'}"])
    with pytest.raises(ConfigError, match="prompt file not found"):
        plan(cfg)  # before any data flows (curate run, check-config, doctor)
    plan(load_config(None, [f"captions.prompts={tmp_path / 'nope.yaml'}"]))  # disabled: not read


def test_gpu_request_falls_back_to_cpu_without_gpus():
    from curate.dag import fit_gpus

    specs = fit_gpus(plan(load_config(None, ["captions.enabled=true", "captions.num_gpus=1"])), [0.0], autoscale=False)
    assert specs[-1].cls.name == "captions" and specs[-1].resources.num_gpus == 0


def test_gpu_budget_checked_per_node_and_in_total(caplog):
    """Per node, not cluster total; pools that cannot all be placed are refused locally, warned on a cluster."""
    from curate.config import ConfigError
    from curate.dag import fit_gpus

    two_gpus = ["captions.enabled=true", "captions.num_gpus=2", "aesthetics.enabled=false"]
    # 2 GPUs per actor on two 1-GPU nodes: never placeable although the cluster has 2
    local = fit_gpus(plan(load_config(None, two_gpus)), [1.0, 1.0], autoscale=False)
    assert local[-1].resources.num_gpus == 0
    # on a cluster (autoscaler) nothing is moved to CPU behind the user's back
    cluster = fit_gpus(plan(load_config(None, two_gpus)), [0.0], autoscale=True)
    assert cluster[-1].resources.num_gpus == 2 and "autoscaler" in caplog.text
    # 8 caption actors x 1 GPU + aesthetics 0.25 on 8 GPUs: one actor would wait forever
    over = ["captions.enabled=true", "captions.num_gpus=1", "captions.concurrency=8",
            "aesthetics.enabled=true", "aesthetics.num_gpus=0.25"]
    with pytest.raises(ConfigError, match=r"need 8.25 GPUs \(aesthetics: 0.25, captions: 8"):
        fit_gpus(plan(load_config(None, over)), [8.0], autoscale=False)
    fits = over[:2] + ["captions.concurrency=7"] + over[3:]
    assert [s.resources.num_gpus for s in fit_gpus(plan(load_config(None, fits)), [8.0], autoscale=False)
            if s.cls.name in ("captions", "aesthetics")] == [0.25, 1.0]
    with pytest.raises(ConfigError, match="aesthetics asks for 2 GPUs"):
        fit_gpus(plan(load_config(None, ["aesthetics.enabled=true", "aesthetics.num_gpus=2"])), [1.0], autoscale=False)


def test_auto_device_follows_the_ray_reservation(monkeypatch):
    """auto = cuda only when Ray reserved a GPU for this worker (or outside Ray when CUDA exists)."""
    from curate import devices

    monkeypatch.setattr(devices, "cuda_available", lambda: True)
    for ids, want in ((None, "cuda"), ([], "cpu"), (["0"], "cuda")):
        monkeypatch.setattr(devices, "ray_gpu_ids", lambda ids=ids: ids)
        assert devices.resolve_device("auto") == want
    assert devices.resolve_device("cuda:1") == "cuda:1"
    monkeypatch.setattr(devices, "cuda_available", lambda: False)
    assert devices.resolve_device("auto") == "cpu"


def test_ray_gpu_ids_inside_a_worker_is_what_it_reserved(ray_local):
    """In a Ray task that reserved no GPU the answer is [] (not None): auto then means cpu."""
    from curate import devices

    assert devices.ray_gpu_ids() is None  # the driver
    assert ray_local.get(ray_local.remote(num_gpus=0)(devices.ray_gpu_ids).remote()) == []


