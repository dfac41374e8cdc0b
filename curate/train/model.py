"""The reference generator: a small text-conditioned video diffusion transformer (DiT).

* **Text**: an offline hashed word tokenizer (no vocabulary file, no download, deterministic
  across processes) into a learned embedding table, one transformer layer, a never-masked
  null token (so an empty caption still has something to attend to).
* **Video**: pixels in [-1, 1], cut into 3D patches (``patch = [t, h, w]``) by a strided
  Conv3d; fixed 3D sin-cos positions computed for each bucket's shape, so one model trains on
  every bucket.
* **Blocks**: adaLN-Zero modulation from (timestep + pooled text), self-attention over all
  video tokens, cross-attention to the caption tokens, MLP.
* **Objective**: rectified flow / flow matching (SD3, Open-Sora): ``x_t = (1 - t) x0 + t e``,
  the model predicts the velocity ``e - x0``; ``t`` is logit-normal. :func:`sample` integrates
  the ODE from noise with Euler steps and classifier-free guidance.
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

_WORD = re.compile(r"\w+|[^\w\s]", re.UNICODE)


class HashTokenizer:
    """Words -> ids by a stable hash (blake2b) into ``vocab_size - 1`` buckets; 0 is padding."""

    def __init__(self, vocab_size: int = 8192, max_tokens: int = 32) -> None:
        self.vocab_size = vocab_size
        self.max_tokens = max_tokens

    def token_id(self, word: str) -> int:
        h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
        return 1 + h % (self.vocab_size - 1)

    def encode(self, texts: list[str]) -> torch.Tensor:
        out = torch.zeros(len(texts), self.max_tokens, dtype=torch.long)
        for i, text in enumerate(texts):
            ids = [self.token_id(w) for w in _WORD.findall((text or "").lower())][: self.max_tokens]
            if ids:
                out[i, : len(ids)] = torch.tensor(ids)
        return out


def _sincos(pos: torch.Tensor, dim: int) -> torch.Tensor:
    half = dim // 2
    freq = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=pos.device) / max(1, half))
    ang = pos.float()[:, None] * freq[None]
    return torch.cat([ang.sin(), ang.cos()], dim=1)


def pos_embed_3d(t: int, h: int, w: int, dim: int, device: Any = None) -> torch.Tensor:
    """Fixed (t*h*w, dim) sin-cos positions: dim split over time, height, width."""
    d_t = (dim // 3) // 2 * 2
    d_h = (dim // 3) // 2 * 2
    d_w = dim - d_t - d_h
    gt, gh, gw = torch.meshgrid(torch.arange(t, device=device), torch.arange(h, device=device),
                                torch.arange(w, device=device), indexing="ij")
    emb = torch.cat([_sincos(gt.flatten(), d_t), _sincos(gh.flatten(), d_h), _sincos(gw.flatten(), d_w)], dim=1)
    return emb[:, :dim]


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    return _sincos(t * 1000.0, dim)


class TextEncoder(nn.Module):
    def __init__(self, vocab_size: int, max_tokens: int, dim: int, heads: int) -> None:
        super().__init__()
        self.tok = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.pos = nn.Parameter(torch.zeros(1, max_tokens + 1, dim))
        self.null = nn.Parameter(torch.zeros(1, 1, dim))
        self.layer = nn.TransformerEncoderLayer(dim, heads, dim * 2, dropout=0.0, batch_first=True, norm_first=True)
        self.norm = nn.LayerNorm(dim)
        nn.init.normal_(self.pos, std=0.02)
        nn.init.normal_(self.null, std=0.02)

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> (sequence (B, L+1, D), padding mask (B, L+1) True = pad, pooled (B, D))."""
        b = tokens.shape[0]
        x = torch.cat([self.null.expand(b, -1, -1), self.tok(tokens)], dim=1) + self.pos[:, : tokens.shape[1] + 1]
        pad = torch.cat([torch.zeros(b, 1, dtype=torch.bool, device=tokens.device), tokens == 0], dim=1)
        x = self.norm(self.layer(x, src_key_padding_mask=pad))
        keep = (~pad).float().unsqueeze(-1)
        pooled = (x * keep).sum(1) / keep.sum(1)
        return x, pad, pooled


def _modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


class DiTBlock(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm_x = nn.LayerNorm(dim)
        self.cross = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False)
        self.mlp = nn.Sequential(nn.Linear(dim, dim * 4), nn.GELU(approximate="tanh"), nn.Linear(dim * 4, dim))
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))
        nn.init.zeros_(self.ada[1].weight)
        nn.init.zeros_(self.ada[1].bias)

    def forward(self, x, c, text, pad):
        s1, g1, sh2, sc2, g2, sc1 = self.ada(c).chunk(6, dim=1)
        h = _modulate(self.norm1(x), s1, sc1)
        x = x + g1.unsqueeze(1) * self.attn(h, h, h, need_weights=False)[0]
        h = self.norm_x(x)
        x = x + self.cross(h, text, text, key_padding_mask=pad, need_weights=False)[0]
        x = x + g2.unsqueeze(1) * self.mlp(_modulate(self.norm2(x), sh2, sc2))
        return x


class VideoDiT(nn.Module):
    """Text-conditioned video DiT on (B, 3, T, H, W) pixels in [-1, 1]."""

    def __init__(self, dim: int = 128, depth: int = 4, heads: int = 4, patch: tuple[int, int, int] = (2, 4, 4),
                 vocab_size: int = 8192, max_tokens: int = 32, channels: int = 3) -> None:
        super().__init__()
        self.dim, self.patch, self.channels = dim, tuple(patch), channels
        self.grad_checkpoint = False  # recompute blocks in backward (train.grad_checkpoint)
        self.embed = nn.Conv3d(channels, dim, kernel_size=self.patch, stride=self.patch)
        self.text = TextEncoder(vocab_size, max_tokens, dim, heads)
        self.t_mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.blocks = nn.ModuleList(DiTBlock(dim, heads) for _ in range(depth))
        self.norm_out = nn.LayerNorm(dim, elementwise_affine=False)
        self.ada_out = nn.Sequential(nn.SiLU(), nn.Linear(dim, 2 * dim))
        self.out = nn.Linear(dim, channels * math.prod(self.patch))
        for m in (self.ada_out[1], self.out):
            nn.init.zeros_(m.weight)
            nn.init.zeros_(m.bias)

    @classmethod
    def from_config(cls, m: Any) -> VideoDiT:
        return cls(dim=m.dim, depth=m.depth, heads=m.heads, patch=tuple(m.patch), vocab_size=m.vocab_size,
                   max_tokens=m.max_tokens)

    def forward(self, x: torch.Tensor, t: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        b, c, T, H, W = x.shape
        pt, ph, pw = self.patch
        gt, gh, gw = T // pt, H // ph, W // pw
        h = self.embed(x).flatten(2).transpose(1, 2)  # (B, N, D)
        h = h + pos_embed_3d(gt, gh, gw, self.dim, x.device).unsqueeze(0).to(h.dtype)
        text, pad, pooled = self.text(tokens)
        cond = self.t_mlp(timestep_embedding(t, self.dim).to(h.dtype)) + pooled
        for blk in self.blocks:
            if self.grad_checkpoint and self.training and torch.is_grad_enabled():
                from torch.utils.checkpoint import checkpoint

                h = checkpoint(blk, h, cond, text, pad, use_reentrant=False)
            else:
                h = blk(h, cond, text, pad)
        shift, scale = self.ada_out(cond).chunk(2, dim=1)
        h = self.out(_modulate(self.norm_out(h), shift, scale))  # (B, N, C*pt*ph*pw)
        h = h.view(b, gt, gh, gw, c, pt, ph, pw).permute(0, 4, 1, 5, 2, 6, 3, 7)
        return h.reshape(b, c, T, H, W)


def frames_to_tensor(frames: Any, device: Any = None) -> torch.Tensor:
    """(B, T, H, W, 3) uint8 -> (B, 3, T, H, W) float in [-1, 1]."""
    x = torch.as_tensor(frames, device=device)
    return x.permute(0, 4, 1, 2, 3).float().div_(127.5).sub_(1.0)


def flow_matching_loss(model: nn.Module, x0: torch.Tensor, tokens: torch.Tensor,
                       generator: torch.Generator | None = None,
                       t: torch.Tensor | None = None, noise: torch.Tensor | None = None) -> torch.Tensor:
    """Rectified-flow loss: MSE between predicted and true velocity ``noise - x0``."""
    b = x0.shape[0]
    # drawn where the generator lives (a CUDA generator makes the noise on the GPU: no full-size
    # host tensor and copy every step); .to() is then a no-op
    dev = generator.device if generator is not None else x0.device
    if t is None:  # logit-normal timesteps (SD3): more weight on the middle of the path
        t = torch.sigmoid(torch.randn(b, generator=generator, device=dev)).to(x0.device)
    if noise is None:
        noise = torch.randn(x0.shape, generator=generator, device=dev).to(x0.device)
    tb = t.view(b, 1, 1, 1, 1)
    xt = (1 - tb) * x0 + tb * noise
    pred = model(xt, t, tokens)
    return F.mse_loss(pred.float(), (noise - x0).float())


@torch.no_grad()
def sample(model: nn.Module, tokens: torch.Tensor, shape: tuple[int, int, int], steps: int = 25,
           guidance: float = 3.0, generator: torch.Generator | None = None) -> torch.Tensor:
    """Generate (B, T, H, W, 3) uint8 videos for ``tokens`` by Euler integration from noise."""
    model.eval()
    dev = next(model.parameters()).device
    b = tokens.shape[0]
    T, H, W = shape
    x = torch.randn((b, 3, T, H, W), generator=generator).to(dev)
    tokens = tokens.to(dev)
    empty = torch.zeros_like(tokens)
    ts = torch.linspace(1.0, 0.0, steps + 1, device=dev)
    for i in range(steps):
        t = ts[i].expand(b)
        v = model(x, t, tokens)
        if guidance != 1.0:
            v_uncond = model(x, t, empty)
            v = v_uncond + guidance * (v - v_uncond)
        x = x + (ts[i + 1] - ts[i]) * v
    x = x.clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 4, 1).cpu()
