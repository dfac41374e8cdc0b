"""The train stage: feed (selection, decode, buckets), the reference generator, Ray Train runs, resume."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

torch = pytest.importorskip("torch")

from curate.config import ConfigError, TrainConfig, load_config  # noqa: E402
from curate.media import run_ffmpeg  # noqa: E402
from curate.train.feed import (  # noqa: E402
    SELECTION_COLUMNS, SKIP_REASONS, Bucket, BucketBatcher, BucketSpec, Selection, build_dataset, decode_batch,
    iter_bucketed,
)

# tiny but real: 4-8 frames at 32 px, a 1-block DiT
TINY = ["train.frames=[4]", "train.resolutions=[32]", "train.fps=8", "train.batch_size=2", "train.model.dim=32",
        "train.model.depth=1", "train.model.heads=2", "train.model.vocab_size=256", "train.model.max_tokens=8",
        "train.cpus_per_worker=0.5", "train.warmup_steps=1", "train.log_every=2", "train.checkpoint_every=2",
        "train.decode_batch=2"]
TINY_SETS = sum((["--set", s] for s in TINY), [])


def _tiny_train_cfg(**kw) -> TrainConfig:
    base = dict(frames=[4, 8], resolutions=[32], fps=8, batch_size=2, decode_batch=3,
                model=dict(dim=32, depth=1, heads=2, vocab_size=256, max_tokens=8))
    base.update(kw)
    return TrainConfig.model_validate(base)


# -- shards built by a real `curate run` that ends with training --------------------------------------
@pytest.fixture(scope="module")
def trained(ray_local, tmp_path_factory, samples):
    from curate.pipeline import run_pipeline

    out = str(tmp_path_factory.mktemp("train") / "out")
    sets = [f"output.dir={out}", "clips.min_s=0.5", "clips.max_s=10", "ray.num_cpus=2", "analyze.ocr=false",
            "aesthetics.enabled=false", "filter.enabled=false", "report.enabled=false", "report.card=false",
            "train.enabled=true", "train.steps=4", "train.fallback_caption=a synthetic test pattern", *TINY]
    cfg = load_config(None, sets)
    cfg.input.sources = [samples["synthetic_cuts"].path]
    summary = run_pipeline(cfg)
    return cfg, out, summary


def test_run_ends_with_training(trained):
    """train.enabled: `curate run` writes the shards, then trains on them; the manifest links both."""
    from curate.query import query

    cfg, out, summary = trained
    assert summary.train_error is None
    tr = summary.train
    assert tr is not None and tr["step"] == 4 and tr["start_step"] == 0
    ok = query(out, "SELECT count(*) AS n FROM clips WHERE status = 'ok' AND clip_path IS NOT NULL").to_pylist()[0]["n"]
    assert ok >= 4 and tr["selected_rows"] == ok
    assert tr["captions"] == {"fallback": ok}  # no captioner ran: every clip uses the fallback text
    assert tr["samples_seen"] >= 4 and math.isfinite(tr["loss"]) and tr["samples_per_s"] > 0
    assert tr["skipped"] == {}
    assert all(Bucket.parse(b).frames == 4 for b in tr["buckets"])
    assert os.path.isfile(os.path.join(tr["checkpoint"], "state.pt"))
    assert tr["checkpoint"].endswith("checkpoint_step_00000004")
    manifest = json.load(open(os.path.join(out, "manifest.json")))
    rec = manifest["trainings"][-1]
    assert rec["checkpoint"] == tr["checkpoint"]
    assert rec["shards"] == [{"clips": s["clips"], "rows": s["rows"]["clips"], "selected": s["rows"]["clips"]}
                             for s in manifest["shards"]]
    assert "status = 'ok'" in rec["selection_sql"]
    assert json.load(open(os.path.join(tr["run_dir"], "train_record.json")))["step"] == 4


def test_config_errors_are_clear(trained):
    from typer.testing import CliRunner

    from curate.cli import app

    cfg, out, _ = trained
    runner = CliRunner()
    res = runner.invoke(app, ["train", "--shards", out, "--set", "train.loop=no_such_module:loop"])
    assert res.exit_code == 2 and "train.loop" in res.output and "no_such_module" in res.output
    res = runner.invoke(app, ["train", "--shards", out, "--set", "train.loop=curate.train.loop:nope"])
    assert res.exit_code == 2 and "has no function 'nope'" in res.output
    res = runner.invoke(app, ["train", "--shards", out, "--set", "train.select.where=duration_s > 1e9"])
    assert res.exit_code == 2 and "matched no clips" in res.output and "Traceback" not in res.output
    res = runner.invoke(app, ["train", "--shards", out, "--set", "train.select.where=no_such_column > 1"])
    assert res.exit_code == 2 and "train.select.where" in res.output
    res = runner.invoke(app, ["train", "--shards", out, "--set", "train.select.min_scores={bogus: 1}"])
    assert res.exit_code == 2 and "bogus" in res.output
    res = runner.invoke(app, ["train", "--shards", str(os.path.dirname(out)) + "/nowhere"])
    assert res.exit_code == 2 and "manifest.json missing" in res.output
    res = runner.invoke(app, ["train", "--shards", out, *TINY_SETS, "--set", "train.cpus_per_worker=2"])
    assert res.exit_code == 2 and "would wait for data forever" in res.output  # no deadlock on 2 CPUs
    from curate.train.__main__ import main  # python -m curate.train (ray job submit)

    assert main(["--shards", out, "--set", "train.loop=no_such_module:loop"]) == 2
    with pytest.raises(ConfigError, match="train.frames"):
        load_config(None, ["train.frames=[3]"])  # not a multiple of patch[0] = 2


def test_resume_continues_and_broken_clip_is_skipped(trained, ray_local):
    """A second `curate train` continues at the checkpoint's step; an undecodable clip is counted, not fatal."""
    from typer.testing import CliRunner

    from curate.cli import app
    from curate.query import query

    cfg, out, summary = trained
    first = summary.train
    broken = query(out, "SELECT clip_path FROM clips WHERE status = 'ok' ORDER BY clip_id LIMIT 1").to_pylist()[0]
    with open(os.path.join(out, broken["clip_path"]), "r+b") as f:  # keep the header, garble the frames
        f.seek(48)
        f.write(os.urandom(max(0, os.path.getsize(f.name) - 48)))
    sets = [f"output.dir={out}", "train.steps=6", "train.fallback_caption=x", *TINY]
    res = CliRunner().invoke(app, ["train", "--shards", out, *sum((["--set", s] for s in sets), [])])
    assert res.exit_code == 0, res.output
    rec = json.load(open(os.path.join(out, "manifest.json")))["trainings"][-1]
    assert rec["start_step"] == first["step"] == 4 and rec["step"] == 6
    assert rec["resumed_from"] and rec["resumed_from"].endswith("checkpoint_step_00000004")
    assert rec["samples_seen"] > first["samples_seen"]
    assert sum(rec["skipped"].values()) >= 1 and set(rec["skipped"]) <= set(SKIP_REASONS), rec["skipped"]
    assert rec["checkpoint"].endswith("checkpoint_step_00000006")
    # a differently shaped model cannot resume that checkpoint: a config error naming the key, no Ray Train wall
    res = CliRunner().invoke(app, ["train", "--shards", out, *sum((["--set", s] for s in sets), []),
                                   "--set", "train.steps=8", "--set", "train.model.dim=64"])
    assert res.exit_code == 2 and "train.model.dim: checkpoint 32 vs config 64" in res.output, res.output


@pytest.mark.slow  # one more Ray Train start (~20-45 s on 2 shared cores): python -m pytest -m slow -k custom_loop
def test_custom_loop_gets_the_same_feed(trained):
    """train.loop points at another function: it runs under Ray Train on the same bucketed feed."""
    from curate.train.launch import train

    cfg, out, _ = trained
    sets = [f"output.dir={out}", "train.loop=curate.train.examples:feed_check_loop", "train.name=feedcheck",
            "train.steps=3", "train.loop_config={report_every: 3}", "train.select.max_clips=3", *TINY]
    s = train(load_config(None, sets))
    assert s.loop == "curate.train.examples:feed_check_loop" and s.checkpoint is None
    assert s.step == 3 and s.selected_rows == 3 and s.samples_seen >= 3
    assert sum(s.buckets.values()) == s.samples_seen and all(Bucket.parse(b).frames == 4 for b in s.buckets)
    rec = json.load(open(os.path.join(out, "manifest.json")))["trainings"][-1]
    assert rec["loop"] == s.loop and rec["selected_rows"] == 3 and sum(x["selected"] for x in rec["shards"]) == 3


# -- the feed without Ray Train -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def clip_files(tmp_path_factory):
    """Real H.264 clips of several aspect ratios and durations (10 fps), a broken and a missing one."""
    d = tmp_path_factory.mktemp("clips")
    specs = {"wide": ("64x36", 1.2), "tall": ("36x64", 1.2), "square": ("48x48", 1.2), "square_short": ("48x48", 0.6),
             "four_three": ("64x48", 1.2), "tiny": ("48x48", 0.1)}
    paths = {}
    for name, (size, secs) in specs.items():
        p = str(d / f"{name}.mp4")
        run_ffmpeg(["-f", "lavfi", "-t", str(secs), "-i", f"testsrc2=size={size}:rate=10", "-c:v", "libx264",
                    "-preset", "ultrafast", "-pix_fmt", "yuv420p", p])
        paths[name] = (p, *map(int, size.split("x")), secs)
    bad = str(d / "broken.mp4")
    with open(bad, "wb") as f:
        f.write(b"\x00\x00\x00\x18ftypmp42" + os.urandom(4000))
    paths["broken"] = (bad, 64, 36, 1.2)
    paths["missing"] = (str(d / "missing.mp4"), 64, 36, 1.2)
    return paths


def _selection_rows(clip_files, copies: dict[str, int]) -> pa.Table:
    rows = []
    for name, n in copies.items():
        path, w, h, secs = clip_files[name]
        for i in range(n):
            rows.append({"clip_id": f"{name}-{i}", "video_id": name, "path": path, "width": w, "height": h, "fps": 10.0,
                         "num_frames": int(round(secs * 10)), "duration_s": secs, "text": f"a {name} clip",
                         "caption_source": "caption_brief", "shard": "clips/part-00000.parquet"})
    return pa.Table.from_pylist(rows).select(SELECTION_COLUMNS)


def test_bucket_assignment():
    spec = BucketSpec.from_config(_tiny_train_cfg())
    assert spec.assign(1920, 1080, 5.0, 30).key == "16:9/8x32x56"
    assert spec.assign(1080, 1920, 5.0, 30).key == "9:16/8x56x32"
    assert spec.assign(640, 480, 0.6, 30).key == "4:3/4x32x44"  # 0.6 s holds 4 frames at 8 fps, not 8
    assert spec.assign(48, 48, 0.1, 10) is None  # too short for the smallest frame count


def test_bucketing_never_mixes_shapes(ray_local, clip_files, tmp_path):
    """Clips of 4 aspect ratios and 2 durations through Ray Data: every batch one shape, every clip once."""
    import ray

    copies = {"wide": 3, "tall": 3, "square": 2, "square_short": 3, "four_three": 1, "broken": 1, "missing": 1,
              "tiny": 1}
    table = _selection_rows(clip_files, copies)
    files = []
    for i in range(0, table.num_rows, 5):  # several selection files = several read/decode tasks
        f = str(tmp_path / f"part-{i:05d}.parquet")
        pq.write_table(table.slice(i, 5), f)
        files.append(f)
    cfg = _tiny_train_cfg()
    ds = build_dataset(Selection(files, table.num_rows, [], {}, ""), cfg)
    assert isinstance(ds, ray.data.Dataset)
    batcher = BucketBatcher(batch_size=2)
    seen, shapes = [], {}
    for batch in iter_bucketed(ds.iter_batches(batch_size=2, batch_format="pyarrow"), batcher):
        b = Bucket.parse(batch.bucket)
        assert batch.frames.shape == (len(batch.clip_ids), b.frames, b.height, b.width, 3)
        assert batch.frames.dtype == np.uint8 and 1 <= len(batch.clip_ids) <= 2
        assert {c.rsplit("-", 1)[0] for c in batch.clip_ids} <= {"wide", "tall", "square", "square_short", "four_three"}
        shapes.setdefault(batch.bucket, set()).update(c.rsplit("-", 1)[0] for c in batch.clip_ids)
        seen += batch.clip_ids
    good = [f"{n}-{i}" for n in ("wide", "tall", "square", "square_short", "four_three") for i in range(copies[n])]
    assert sorted(seen) == sorted(good)  # every decodable sample exactly once
    assert shapes == {"16:9/8x32x56": {"wide"}, "9:16/8x56x32": {"tall"}, "1:1/8x32x32": {"square"},
                      "1:1/4x32x32": {"square_short"}, "4:3/8x32x44": {"four_three"}}
    assert sum(batcher.skipped.values()) == 3 and batcher.skipped["too_short"] == 1
    assert batcher.skipped["not_found"] == 1, batcher.skipped


def test_decode_batch_counts_failures(clip_files):
    cfg = _tiny_train_cfg()
    out = decode_batch(_selection_rows(clip_files, {"wide": 1, "broken": 1, "missing": 1}), BucketSpec.from_config(cfg))
    rows = out.to_pylist()
    assert rows[0]["skip"] is None and len(rows[0]["frames"]) == 8 * 32 * 56 * 3
    frames = np.frombuffer(rows[0]["frames"], np.uint8).reshape(8, 32, 56, 3)
    assert frames.std() > 10 and not np.array_equal(frames[0], frames[-1])  # real, moving testsrc2 content
    assert rows[1]["skip"] in SKIP_REASONS and rows[1]["skip"] != "too_short"
    assert rows[2]["skip"] == "not_found"


# -- the reference generator -----------------------------------------------------------------------------
def _fixed_set(b=4, t=4, h=32, w=32):
    g = torch.Generator().manual_seed(3)
    tt = torch.linspace(0, 1, t)[:, None, None]
    yy = torch.linspace(-1, 1, h)[None, :, None]
    xx = torch.linspace(-1, 1, w)[None, None, :]
    clips = []
    for k in range(b):
        ph = float(torch.rand(1, generator=g)) * 3
        r = torch.sin(3 * (xx + ph) + 2 * tt) * torch.cos(2 * yy)
        gr = torch.cos(2 * (yy - ph) + tt) + 0 * xx
        bl = xx * yy * (k - 1.5) / 1.5 + 0 * tt
        clips.append(torch.stack([r.expand(t, h, w), gr.expand(t, h, w), bl.expand(t, h, w)]))
    x = torch.stack(clips).clamp(-1, 1)  # (B, 3, T, H, W) in [-1, 1]
    frames = ((x + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 4, 1).numpy()
    return frames, [f"pattern number {k}" for k in range(b)]


def test_overfits_tiny_fixed_set():
    """Same model, loss and optimizer step as the Ray loop: the loss on a fixed set falls by > 2x in 60 steps."""
    from curate.train.loop import build, train_step
    from curate.train.model import HashTokenizer, flow_matching_loss, frames_to_tensor

    torch.set_num_threads(1)
    cfg = TrainConfig.model_validate(dict(steps=60, lr=2e-3, warmup_steps=5, min_lr_ratio=0.3, grad_clip=1.0,
                                          model=dict(dim=64, depth=2, heads=4, vocab_size=512, max_tokens=8,
                                                     text_dropout=0.0)))
    model, opt, sched = build(cfg)
    frames, texts = _fixed_set()
    tok = HashTokenizer(512, 8)
    g = torch.Generator().manual_seed(1)
    x0 = frames_to_tensor(frames).repeat(8, 1, 1, 1, 1)
    t_eval, n_eval = torch.sigmoid(torch.randn(32, generator=g)), torch.randn(x0.shape, generator=g)

    def eval_loss() -> float:
        with torch.no_grad():
            return flow_matching_loss(model, x0, tok.encode(texts * 8), t=t_eval, noise=n_eval).item()

    before = eval_loss()
    gen = torch.Generator().manual_seed(0)
    losses = [float(train_step(model, opt, sched, cfg, tok, frames, texts, gen)[0]) for _ in range(cfg.steps)]
    after = eval_loss()
    assert after < 0.5 * before, (before, after)
    assert np.mean(losses[-10:]) < 0.6 * np.mean(losses[:10])
    assert sched.get_last_lr()[0] == pytest.approx(cfg.lr * cfg.min_lr_ratio, rel=1e-3)


def test_checkpoint_roundtrip_and_sampling(tmp_path):
    from collections import Counter

    from curate.train.loop import build, load_model, load_state, save_state, train_step
    from curate.train.model import HashTokenizer, sample

    cfg = _tiny_train_cfg(steps=4)
    model, opt, sched = build(cfg)
    frames, texts = _fixed_set(2, 4, 32, 32)
    tok = HashTokenizer(cfg.model.vocab_size, cfg.model.max_tokens)
    gen = torch.Generator().manual_seed(0)
    for _ in range(2):
        train_step(model, opt, sched, cfg, tok, frames, texts, gen)
    save_state(str(tmp_path), model, opt, sched, 2, 4, Counter({"decode_error": 1}), gen, cfg)
    cont = [float(train_step(model, opt, sched, cfg, tok, frames, texts, gen)[0]) for _ in range(2)]
    m2, o2, s2 = build(cfg.model_copy(update={"seed": 99}))
    g2 = torch.Generator()
    state = load_state(str(tmp_path), m2, o2, s2, g2)
    assert state["step"] == 2 and state["skipped"] == {"decode_error": 1} and s2.last_epoch == 2
    again = [float(train_step(m2, o2, s2, cfg, tok, frames, texts, g2)[0]) for _ in range(2)]
    assert again == pytest.approx(cont, rel=1e-5)  # resume reproduces the exact continuation
    video = sample(load_model(str(tmp_path)), tok.encode(["a test"]), (4, 32, 32), steps=2,
                   generator=torch.Generator().manual_seed(0))
    assert video.shape == (1, 4, 32, 32, 3) and video.dtype == torch.uint8


# -- selection over hand-made shards (no Ray) -------------------------------------------------------------
@pytest.fixture
def fake_shards(tmp_path):
    """Two committed shard pairs with known scores, licences, topics and captions."""
    from curate.schemas import CLIPS, VIDEOS, from_rows
    from curate.shards import ShardWriter
    from curate.storage import Output

    out = Output(str(tmp_path / "out"))
    w = ShardWriter(out, "run", "hash", 100, 100)
    videos = [{"video_id": "v-cc", "status": "ok", "licence": "CC-BY-4.0"},
              {"video_id": "v-nc", "status": "ok", "licence": "CC-BY-NC-4.0"}]
    clips = []
    for i in range(6):
        clips.append({"clip_id": f"c{i}", "video_id": "v-cc" if i < 4 else "v-nc", "status": "ok" if i != 3 else "rejected",
                      "clip_path": f"clips/x/c{i}.mp4", "width": 64, "height": 36, "fps": 10.0, "num_frames": 20,
                      "duration_s": 2.0, "motion_score": 0.1 * i, "topic_id": i % 2, "topic_name": ["cats", "cars"][i % 2],
                      "caption_brief": "a brief" if i == 0 else ("  " if i == 1 else None),
                      "caption_detailed": "a detailed one" if i in (0, 1) else None})
    w.commit(from_rows(videos[:1], VIDEOS), from_rows(clips[:4], CLIPS))
    w.commit(from_rows(videos[1:], VIDEOS), from_rows(clips[4:], CLIPS))
    return out.path("")


def _select(out, tmp_path, **select):
    from curate.train.feed import select_clips

    cfg = _tiny_train_cfg(select=select, fallback_caption="no caption")
    sel = select_clips(out, cfg, str(tmp_path / "sel"))
    rows = pa.concat_tables([pq.read_table(f) for f in sel.files]).to_pylist()
    return sel, {r["clip_id"]: r for r in rows}


def test_selection_filters_captions_and_shard_link(fake_shards, tmp_path):
    sel, rows = _select(fake_shards, tmp_path)
    assert sorted(rows) == ["c0", "c1", "c2", "c4", "c5"]  # the rejected clip never trains
    assert rows["c0"]["text"] == "a brief" and rows["c0"]["caption_source"] == "caption_brief"
    assert rows["c1"]["text"] == "a detailed one" and rows["c1"]["caption_source"] == "caption_detailed"
    assert rows["c2"]["text"] == "no caption" and sel.captions == {"caption_brief": 1, "caption_detailed": 1, "fallback": 3}
    assert rows["c0"]["path"] == os.path.join(fake_shards, "clips/x/c0.mp4")
    assert sel.shards == [{"clips": "clips/part-00000-run.parquet", "rows": 4, "selected": 3},
                          {"clips": "clips/part-00001-run.parquet", "rows": 2, "selected": 2}]
    assert sorted(_select(fake_shards, tmp_path, licences=["CC-BY"])[1]) == ["c0", "c1", "c2"]  # not CC-BY-NC
    assert sorted(_select(fake_shards, tmp_path, min_scores={"motion_score": 0.15})[1]) == ["c2", "c4", "c5"]
    assert sorted(_select(fake_shards, tmp_path, topics=["cars"])[1]) == ["c1", "c5"]
    assert sorted(_select(fake_shards, tmp_path, where="licence LIKE 'CC-BY-NC%' OR clip_id = 'c0'")[1]) == ["c0", "c4", "c5"]
    with pytest.raises(ConfigError, match="matched no clips .*5 ok clips"):
        _select(fake_shards, tmp_path, topics=["dogs"])
    with pytest.raises(ConfigError, match="no column 'nope'"):
        _select(fake_shards, tmp_path, max_scores={"nope": 1})


def test_resume_puts_optimizer_state_next_to_the_parameters(tmp_path):
    """load_state(device=...) moves the model first, so AdamW's moments follow the parameters.

    ``Optimizer.load_state_dict`` casts saved state to each parameter's device AND dtype, and
    ``Module.to`` changes both in place, so a dtype (float64) stands in for a GPU here: loading
    before moving (the old order) leaves the moments float32 on the CPU next to float64
    parameters -- on a real GPU that is the device mismatch of the first step after a resume.
    """
    from collections import Counter

    from curate.train.loop import build, load_state, save_state, train_step
    from curate.train.model import HashTokenizer

    cfg = _tiny_train_cfg(steps=2)
    model, opt, sched = build(cfg)
    frames, texts = _fixed_set(2, 4, 32, 32)
    tok = HashTokenizer(cfg.model.vocab_size, cfg.model.max_tokens)
    gen = torch.Generator().manual_seed(0)
    train_step(model, opt, sched, cfg, tok, frames, texts, gen)
    save_state(str(tmp_path), model, opt, sched, 1, 2, Counter(), gen, cfg)
    m2, o2, s2 = build(cfg)
    load_state(str(tmp_path), m2, o2, s2, torch.Generator(), device=torch.float64)
    moments = [(p.dtype, v.dtype) for p, st in o2.state.items() for k, v in st.items() if k != "step"]
    assert moments and all(pd == vd == torch.float64 for pd, vd in moments), moments


def test_train_step_returns_device_tensors_and_noise_comes_from_noise_gen():
    """No host sync per step (0-d tensors back); the noise stream is the one passed as noise_gen."""
    from curate.train.loop import build, train_step
    from curate.train.model import HashTokenizer

    cfg = _tiny_train_cfg(steps=2)
    frames, texts = _fixed_set(2, 4, 32, 32)
    tok = HashTokenizer(cfg.model.vocab_size, cfg.model.max_tokens)
    runs = []
    for noise_seed in (5, 5, 6):
        model, opt, sched = build(cfg)
        loss, gnorm = train_step(model, opt, sched, cfg, tok, frames, texts, torch.Generator().manual_seed(0),
                                 noise_gen=torch.Generator().manual_seed(noise_seed))
        assert isinstance(loss, torch.Tensor) and loss.ndim == 0 and not loss.requires_grad
        runs.append(float(loss))
    assert runs[0] == runs[1] and runs[0] != runs[2]


def test_memory_plan_refuses_a_cluster_config_that_cannot_fit_and_ships_one_that_does():
    """tokens per clip x batch x width x depth: the old cluster settings were ~470 GiB per GPU."""
    from curate.config import load_config
    from curate.train.plan import check_fits, estimate, largest_bucket

    cfg = load_config("configs/cluster.yaml", [])
    est = check_fits(cfg.train)  # the shipped settings fit the 40 GiB they state
    assert est.total_gib < 0.9 * cfg.train.gpu_memory_gb
    old = cfg.train.model_copy(update={"grad_checkpoint": False,
                                       "model": cfg.train.model.model_copy(update={"patch": [2, 4, 4]})})
    assert largest_bucket(old) == ("16:9/32x256x456", 16 * 64 * 114)
    with pytest.raises(ValueError, match=r"116,736 video tokens.*more than 90% of a 40 GiB GPU.*grad_checkpoint"):
        check_fits(old)
    assert estimate(old).activation_gib > 10 * estimate(cfg.train).activation_gib  # checkpointing + patches
    check_fits(old.model_copy(update={"use_gpu": False}))  # CPU runs are not checked against a GPU


def test_grad_checkpoint_gives_the_same_gradients():
    from curate.train.loop import build
    from curate.train.model import HashTokenizer, flow_matching_loss, frames_to_tensor

    cfg = _tiny_train_cfg(steps=1)
    frames, texts = _fixed_set(2, 4, 32, 32)
    tok = HashTokenizer(cfg.model.vocab_size, cfg.model.max_tokens)
    grads = []
    for ckpt in (False, True):
        model, _, _ = build(cfg.model_copy(update={"grad_checkpoint": ckpt}))
        assert model.grad_checkpoint is ckpt
        for p in model.parameters():  # adaLN-Zero starts at zero: perturb so every block gets gradient
            torch.nn.init.normal_(p, std=0.02) if p.ndim >= 2 else None
        loss = flow_matching_loss(model, frames_to_tensor(frames), tok.encode(texts),
                                  generator=torch.Generator().manual_seed(3))
        loss.backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None]))
    assert torch.allclose(grads[0], grads[1], atol=1e-6)


def test_check_resources_refuses_missing_or_shared_gpus(monkeypatch):
    import ray

    from curate.config import ConfigError, load_config
    from curate.train.launch import check_resources

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 64.0, "GPU": 4.0})
    sets = ["train.use_gpu=true", "train.cpus_per_worker=1", "train.gpu_memory_gb=80"]
    check_resources(load_config(None, sets + ["train.num_workers=4"]))
    with pytest.raises(ConfigError, match=r"8 x 1 = 8 GPUs but the Ray cluster has 4"):
        check_resources(load_config(None, sets + ["train.num_workers=8"]))
    with pytest.raises(ConfigError, match="cannot share one GPU"):
        check_resources(load_config(None, sets + ["train.num_workers=2", "train.gpus_per_worker=0.5"]))
