"""The reference ``train_loop_per_worker``: the video DiT on the bucketed feed.

AdamW, linear warm-up then cosine decay, gradient clipping, classifier-free-guidance caption
dropout, metrics through ``ray.train.report`` every ``log_every`` steps and a checkpoint every
``checkpoint_every`` steps (and at the last step). Resume: the latest checkpoint Ray Train
restores for this run (``ray.train.get_checkpoint()``), else ``config["resume_from"]`` (the
newest ``checkpoint_step_*`` the launcher found under the run directory); the step counter,
model, optimizer, LR schedule, RNG and counters continue from it.

A custom loop (``train.loop: my_pkg.my_mod:my_loop``) gets the same ``config`` dict and the
same feed: ``feed.iter_train_batches(ray.train.get_dataset_shard("train"), cfg, BucketBatcher(...))``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import time
from collections import Counter
from typing import Any

import torch

from curate.config import TrainConfig
from curate.train.feed import SKIP_REASONS, BucketBatcher, iter_train_batches
from curate.train.model import HashTokenizer, VideoDiT, flow_matching_loss, frames_to_tensor

log = logging.getLogger("curate")

STATE_FILE = "state.pt"
META_FILE = "meta.json"


def lr_lambda(cfg: TrainConfig):
    """Multiplier of ``cfg.lr`` at a step: linear warm-up, then cosine down to ``min_lr_ratio``."""

    def f(step: int) -> float:
        if cfg.warmup_steps and step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        span = max(1, cfg.steps - cfg.warmup_steps)
        progress = min(1.0, (step - cfg.warmup_steps) / span)
        return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return f


def build(cfg: TrainConfig) -> tuple[torch.nn.Module, torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    torch.manual_seed(cfg.seed)
    model = VideoDiT.from_config(cfg.model)
    model.grad_checkpoint = cfg.grad_checkpoint
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embed" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embed" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.99))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(cfg))
    return model, opt, sched


def autocast(device: Any, precision: str):
    """bf16 autocast on CUDA when ``precision == 'bf16'`` (no grad scaler needed); fp32 elsewhere."""
    dev = torch.device(device) if device is not None else torch.device("cpu")
    return torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda" and precision == "bf16")


def train_step(model, opt, sched, cfg: TrainConfig, tokenizer: HashTokenizer, frames: Any, texts: list[str],
               gen: torch.Generator, device: Any = None,
               noise_gen: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimizer step on one batch; returns (loss, grad norm before clipping) as 0-d tensors.

    They stay on the device: converting them to Python floats every step would make the host
    wait for the GPU; the loop converts them only at its log steps. ``gen`` (CPU) draws the
    caption dropout, ``noise_gen`` (default ``gen``; a CUDA generator on GPU) the timesteps and noise.
    """
    model.train()
    # grad mode is process-global: a user's loop may call this from a no_grad/inference context
    with torch.enable_grad():
        x0 = frames_to_tensor(frames, device)
        drop = torch.rand(len(texts), generator=gen) < cfg.model.text_dropout
        tokens = tokenizer.encode(["" if d else t for d, t in zip(drop.tolist(), texts)]).to(x0.device)
        with autocast(x0.device, cfg.precision):
            loss = flow_matching_loss(model, x0, tokens, generator=noise_gen if noise_gen is not None else gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        sched.step()
    return loss.detach(), gnorm.detach()


def save_state(directory: str, model, opt, sched, step: int, samples_seen: int, skipped: Counter, gen: torch.Generator,
               cfg: TrainConfig, noise_gen: torch.Generator | None = None) -> None:
    core = getattr(model, "module", model)  # unwrap DDP
    state = {"model": core.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
             "step": step, "samples_seen": samples_seen, "skipped": dict(skipped), "rng": gen.get_state(),
             "torch_rng": torch.get_rng_state()}
    if noise_gen is not None and noise_gen is not gen:
        state["noise_rng"], state["noise_rng_device"] = noise_gen.get_state(), noise_gen.device.type
    torch.save(state, os.path.join(directory, STATE_FILE))
    with open(os.path.join(directory, META_FILE), "w") as f:
        json.dump({"step": step, "samples_seen": samples_seen, "model": cfg.model.model_dump(mode="json"),
                   "format": "curate-train-checkpoint/1"}, f, indent=2)


def load_state(directory: str, model, opt, sched, gen: torch.Generator, device: Any = None,
               noise_gen: torch.Generator | None = None) -> dict[str, Any]:
    """Restore a checkpoint into ``model``/``opt``/``sched``/generators.

    With ``device`` (anything ``Module.to`` takes) the model is moved there FIRST: ``Optimizer.load_state_dict`` casts the saved
    state to the device of the parameters it belongs to, so AdamW's moments land next to the
    parameters (loading first would leave them on the CPU and fail the first step on a GPU).
    """
    if device is not None:
        getattr(model, "module", model).to(device)
    state = torch.load(os.path.join(directory, STATE_FILE), map_location="cpu", weights_only=False)
    getattr(model, "module", model).load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    if noise_gen is not None and noise_gen is not gen and state.get("noise_rng_device") == noise_gen.device.type:
        noise_gen.set_state(state["noise_rng"])
    sched.load_state_dict(state["scheduler"])
    gen.set_state(state["rng"])
    torch.set_rng_state(state["torch_rng"])
    return state


def load_model(checkpoint_dir: str) -> VideoDiT:
    """The generator of a checkpoint directory, for :func:`curate.train.model.sample`."""
    from curate.config import TrainModelConfig

    with open(os.path.join(checkpoint_dir, META_FILE)) as f:
        meta = json.load(f)
    model = VideoDiT.from_config(TrainModelConfig.model_validate(meta["model"]))
    state = torch.load(os.path.join(checkpoint_dir, STATE_FILE), map_location="cpu", weights_only=False)
    model.load_state_dict(state["model"])
    return model


def _all_reduce(values: list[float]) -> list[float]:
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return values
    t = torch.tensor(values, dtype=torch.float64)
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.all_reduce(t)
    return t.cpu().tolist()


def train_loop_per_worker(config: dict[str, Any]) -> None:
    """Ray Train entry point (``train.loop`` default)."""
    import ray.train
    import ray.train.torch
    from ray.train import Checkpoint

    cfg = TrainConfig.model_validate(config["train"])
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    device = ray.train.torch.get_device()
    if not cfg.use_gpu:
        torch.set_num_threads(max(1, int(cfg.cpus_per_worker) or 1))
    if device.type == "cuda":  # TF32 tensor-core matmuls/convolutions for what autocast leaves in fp32
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True

    model, opt, sched = build(cfg)
    model.to(device)  # before any optimizer state exists or is loaded (see load_state)
    gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + rank)
    # noise on the device: a CUDA generator on GPU; on CPU the one stream of ``gen`` (as before)
    noise_gen = gen if device.type == "cpu" else torch.Generator(device=device).manual_seed(cfg.seed * 1_000_003 + rank)
    step, samples_seen, skipped_before = 0, 0, Counter()
    ckpt = ray.train.get_checkpoint()
    resumed_from = None
    if ckpt is None and config.get("resume_from"):
        ckpt = Checkpoint(config["resume_from"])
    if ckpt is not None:
        with ckpt.as_directory() as d:
            state = load_state(d, model, opt, sched, gen, device=device, noise_gen=noise_gen)
        step, samples_seen = int(state["step"]), int(state["samples_seen"])
        skipped_before = Counter(state.get("skipped") or {})
        resumed_from = ckpt.path
        if rank:  # the checkpoint holds rank 0's noise stream; other ranks get their own
            gen.manual_seed(cfg.seed * 1_000_003 + rank + 7919 * step)
            if noise_gen is not gen:
                noise_gen.manual_seed(cfg.seed * 1_000_003 + rank + 7919 * step)
        if rank == 0:
            log.info("train: resumed from %s at step %d", ckpt.path, step)
    start_step = step
    model = ray.train.torch.prepare_model(model)  # device placement; DDP when world > 1
    tokenizer = HashTokenizer(cfg.model.vocab_size, cfg.model.max_tokens)

    batcher = BucketBatcher(cfg.batch_size, cfg.drop_last)
    feed = iter_train_batches(ray.train.get_dataset_shard("train"), cfg, batcher)
    window_t0, window_samples, window_wait, losses = time.perf_counter(), 0, 0.0, []
    run_t0, run_samples = time.perf_counter(), 0
    epoch, buckets = 0, Counter()

    def report(checkpoint: bool) -> None:
        nonlocal window_t0, window_samples, window_wait, losses
        dt = max(1e-9, time.perf_counter() - window_t0)
        skipped = skipped_before + batcher.skipped
        loss_sum = float(torch.stack(losses).sum()) if losses else 0.0  # the one host sync per log step
        sums = _all_reduce([window_samples, run_samples, loss_sum, float(len(losses)), window_wait,
                            float(batcher.decoded)] + [float(skipped.get(r, 0)) for r in SKIP_REASONS])
        metrics = {
            "step": step, "start_step": start_step, "epoch": epoch,
            "loss": sums[2] / max(1.0, sums[3]),
            "lr": sched.get_last_lr()[0],
            "samples_per_s": sums[0] / dt,  # this report window
            "run_samples_per_s": sums[1] / max(1e-9, time.perf_counter() - run_t0),  # since this run started
            "data_wait_frac": min(1.0, sums[4] / max(1, world) / dt),
            "samples_seen": samples_seen + int(sums[1]),  # all workers, this run and the runs resumed from
            "decoded": int(sums[5]),
            "skipped": {r: int(n) for r, n in zip(SKIP_REASONS, sums[6:]) if n},
            "buckets": dict(buckets),
            "world_size": world,
            "resumed_from": resumed_from,
        }
        if checkpoint:
            with tempfile.TemporaryDirectory() as tmp:
                if rank == 0:
                    save_state(tmp, model, opt, sched, step, metrics["samples_seen"], skipped, gen, cfg, noise_gen)
                    ray.train.report(metrics, checkpoint=Checkpoint.from_directory(tmp),
                                     checkpoint_dir_name=f"checkpoint_step_{step:08d}")
                else:
                    ray.train.report(metrics, checkpoint=None, checkpoint_dir_name=f"checkpoint_step_{step:08d}")
        else:
            ray.train.report(metrics)
        if rank == 0:
            log.info("train step %d loss %.4f lr %.2e %.1f samples/s skipped %s", step, metrics["loss"],
                     metrics["lr"], metrics["samples_per_s"], metrics["skipped"])
        window_t0, window_samples, window_wait, losses = time.perf_counter(), 0, 0.0, []

    if step >= cfg.steps:  # nothing left to do: report where the run stands
        report(checkpoint=False)
        return
    while step < cfg.steps:
        t_wait = time.perf_counter()
        epoch, batch = next(feed)
        window_wait += time.perf_counter() - t_wait
        loss, _ = train_step(model, opt, sched, cfg, tokenizer, batch.frames, batch.texts, gen, device, noise_gen)
        step += 1
        n = len(batch.texts)
        window_samples += n
        run_samples += n
        losses.append(loss)
        buckets[batch.bucket] += n
        ckpt_now = step % cfg.checkpoint_every == 0 or step == cfg.steps
        if ckpt_now or step % cfg.log_every == 0:
            report(checkpoint=ckpt_now)
