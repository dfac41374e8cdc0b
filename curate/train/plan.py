"""How big a training step is, before any GPU is touched: tokens per clip and memory per GPU.

A video DiT's activation memory grows with the number of video tokens,
``(T / pt) * (H / ph) * (W / pw)`` per clip, times batch size, width and depth. A config that
does not fit would only fail (CUDA out of memory) after the cluster, the shards selection and
the feed have all started; :func:`check_fits` says so up front, with the numbers.

The activation figure follows the per-layer estimate for transformers of Korthikanti et al.
("Reducing Activation Recomputation in Large Transformer Models", 2022): ~34 bytes per token
per hidden unit in 16-bit with a fused (flash) attention kernel, plus ~10 for the
cross-attention block of this DiT, i.e. ~44 bytes (bf16) or ~88 (fp32) per token x width x
layer. With ``train.grad_checkpoint`` only each block's input is kept (2 or 4 bytes per token x
width x layer) plus one block's full activations during its recomputation. Weights, gradients
and AdamW moments take 16 bytes per parameter (fp32 master weights). It is an estimate to
catch configs that are off by multiples, not a profiler: measured peaks are printed by the GPU
verification benchmark.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from curate.config import TrainConfig

GIB = 1024**3
ACT_BYTES_PER_TOKEN_DIM_LAYER = {"bf16": 44, "fp32": 88}
BYTES_PER_PARAM = 16  # fp32 weights + fp32 grads + AdamW exp_avg + exp_avg_sq


@dataclass
class MemoryEstimate:
    tokens_per_clip: int  # video tokens of the largest bucket
    bucket: str  # that bucket: "16:9/32x256x456"
    params: int
    param_gib: float  # weights + grads + optimizer state
    activation_gib: float  # per GPU, one batch of the largest bucket
    total_gib: float

    def describe(self) -> str:
        return (f"largest bucket {self.bucket}: {self.tokens_per_clip:,} video tokens per clip; estimated "
                f"{self.activation_gib:.1f} GiB of activations + {self.param_gib:.1f} GiB of weights/grads/AdamW "
                f"({self.params / 1e6:.1f} M parameters) = {self.total_gib:.1f} GiB per GPU")


def count_params(tc: TrainConfig) -> int:
    """Exact parameter count of the reference model (built on the meta device: no memory)."""
    import torch

    from curate.train.model import VideoDiT

    with torch.device("meta"):
        model = VideoDiT.from_config(tc.model)
    return sum(p.numel() for p in model.parameters())


def largest_bucket(tc: TrainConfig) -> tuple[str, int]:
    """(bucket key, video tokens) of the bucket with the most tokens in ``tc``'s grid."""
    pt, ph, pw = tc.model.patch
    best = ("", 0)
    for aspect in tc.aspect_ratios:
        w_, h_ = (float(x) for x in aspect.split(":"))
        a = w_ / h_
        for res in tc.resolutions:
            if a >= 1:
                h, w = res, max(pw, int(round(res * a / pw)) * pw)
            else:
                w, h = res, max(ph, int(round(res / a / ph)) * ph)
            for t in tc.frames:
                tokens = (t // pt) * (h // ph) * (w // pw)
                if tokens > best[1]:
                    best = (f"{aspect}/{t}x{h}x{w}", tokens)
    return best


def estimate(tc: TrainConfig, params: int | None = None) -> MemoryEstimate:
    """Memory per GPU of one training step of ``tc`` on its largest bucket (see module docstring)."""
    bucket, tokens = largest_bucket(tc)
    params = count_params(tc) if params is None else params
    precision = tc.precision if tc.use_gpu else "fp32"
    per = ACT_BYTES_PER_TOKEN_DIM_LAYER[precision]
    d, depth, b = tc.model.dim, tc.model.depth, tc.batch_size
    if tc.grad_checkpoint:
        kept = 2 if precision == "bf16" else 4
        act = b * tokens * d * (kept * depth + per)
    else:
        act = b * tokens * d * per * depth
    p = params * BYTES_PER_PARAM
    return MemoryEstimate(tokens, bucket, params, p / GIB, act / GIB, (act + p) / GIB)


def check_fits(tc: TrainConfig, gpu_memory_gib: float | None = None) -> MemoryEstimate:
    """Raise ValueError when a GPU run cannot fit ``train.gpu_memory_gb``; returns the estimate.

    ``gpu_memory_gib`` (e.g. read from the GPU itself) overrides the config value.
    """
    est = estimate(tc)
    if not tc.use_gpu:
        return est
    cap = gpu_memory_gib if gpu_memory_gib is not None else tc.gpu_memory_gb
    if est.total_gib > 0.9 * cap:
        fix = [] if tc.grad_checkpoint else ["set train.grad_checkpoint: true"]
        per_clip = est.activation_gib / tc.batch_size
        fits = math.floor((0.9 * cap - est.param_gib) / per_clip) if per_clip > 0 else 0
        if fits >= 1:
            fix.append(f"lower train.batch_size from {tc.batch_size} to {fits} or less")
        fix.append(f"use larger patches (train.model.patch {tc.model.patch}), fewer train.frames or smaller "
                   "train.resolutions")
        raise ValueError(f"train: {est.describe()}, more than 90% of a {cap:g} GiB GPU (train.gpu_memory_gb): "
                         + "; or ".join(fix) + ".")
    return est


def summary(tc: TrainConfig) -> dict[str, Any]:
    e = estimate(tc)
    return {"tokens_per_clip": e.tokens_per_clip, "bucket": e.bucket, "params": e.params,
            "activation_gib": round(e.activation_gib, 2), "total_gib": round(e.total_gib, 2)}
