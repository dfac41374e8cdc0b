"""CLIP image embeddings (open_clip) + a LAION-style aesthetic MLP head.

The head is the "improved aesthetic predictor" architecture (an MLP on the L2-normalised CLIP
ViT-L/14 image embedding, scores on a 1-10 scale) loaded from a local ``.pth`` file. Nothing
is downloaded behind the user's back: a pretrained tag (e.g. ``openai``) is loaded from the
Hugging Face cache if it is there, after a quick check; a local checkpoint path loads as is.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

log = logging.getLogger("curate")


class ModelUnavailable(RuntimeError):
    """The configured model cannot be loaded here; the message says how to provide it."""


def _how(model: str, pretrained: str | None) -> str:
    return (f"aesthetics: cannot load open_clip model '{model}' (pretrained='{pretrained}'). To provide it: set "
            "aesthetics.pretrained to a local checkpoint file, pre-fill the Hugging Face cache on a machine with "
            "network (python -c \"import open_clip; open_clip.create_model('"
            f"{model}', pretrained='{pretrained}')\") and copy ~/.cache/huggingface, or set aesthetics.enabled=false. "
            "aesthetic_score / clip_embedding stay null with aesthetic_status='skipped'.")


def _check_pretrained(model: str, pretrained: str, timeout_s: float = 5.0) -> None:
    """Raise ModelUnavailable quickly when a pretrained tag is neither cached nor reachable."""
    import open_clip

    cfg = open_clip.get_pretrained_cfg(model, pretrained)
    if not cfg:
        raise ModelUnavailable(_how(model, pretrained) + f" (open_clip knows no tag '{pretrained}' for '{model}')")
    hub = (cfg.get("hf_hub") or "").strip("/")
    if hub:
        try:
            from huggingface_hub import try_to_load_from_cache

            for fname in ("open_clip_model.safetensors", "open_clip_pytorch_model.bin"):
                if isinstance(try_to_load_from_cache(hub, fname), str):
                    return
        except Exception:  # noqa: BLE001
            pass
    url = "https://huggingface.co/api/models/" + hub if hub else cfg.get("url", "")
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        raise ModelUnavailable(_how(model, pretrained) + " (not cached; HF_HUB_OFFLINE is set)")
    import requests

    try:
        requests.head(url, timeout=timeout_s, allow_redirects=True)
    except requests.RequestException as exc:
        raise ModelUnavailable(_how(model, pretrained) + f" (not cached and {url} is unreachable: "
                               f"{type(exc).__name__})") from None


def aesthetic_head(dim: int):
    """The LAION improved-aesthetic-predictor MLP (same layer names, so its .pth loads)."""
    from torch import nn

    class AestheticMLP(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = nn.Sequential(
                nn.Linear(dim, 1024), nn.Dropout(0.2), nn.Linear(1024, 128), nn.Dropout(0.2),
                nn.Linear(128, 64), nn.Dropout(0.1), nn.Linear(64, 16), nn.Linear(16, 1),
            )

        def forward(self, x):
            return self.layers(x)

    return AestheticMLP()


def needs_quick_gelu(model: str, pretrained: str | None, override: bool | None = None) -> bool:
    """Whether ``model`` must be built with QuickGELU to match its weights.

    OpenAI's CLIP weights were trained with QuickGELU, but open_clip 3.x builds ``ViT-L-14`` with
    plain GELU and only warns when the ``openai`` tag is loaded into it: the embeddings then
    drift and the LAION head's scores with them. The pretrained tag's config says which
    activation it needs (``quick_gelu``); a local checkpoint file cannot tell, so
    ``aesthetics.quick_gelu`` (``override``) decides there (true for a saved copy of the openai weights).
    """
    if override is not None:
        return override
    if not pretrained or os.path.isfile(pretrained):
        return False
    import open_clip

    return bool((open_clip.get_pretrained_cfg(model, pretrained) or {}).get("quick_gelu", False))


class AestheticScorer:
    """Embeds RGB frames with open_clip and scores them with the aesthetic head (if given)."""

    def __init__(self, model: str, pretrained: str | None, head_path: str | None, device: str = "cpu",
                 quick_gelu: bool | None = None) -> None:
        import open_clip
        import torch

        from curate.devices import resolve_device

        self.device = device = resolve_device(device)  # auto: a GPU only if Ray reserved one for this actor
        if pretrained and not os.path.isfile(pretrained):
            _check_pretrained(model, pretrained)
        try:
            self.model, _, self.preprocess = open_clip.create_model_and_transforms(
                model, pretrained=pretrained or None, device=device,
                force_quick_gelu=needs_quick_gelu(model, pretrained, quick_gelu))
        except Exception as exc:  # noqa: BLE001
            raise ModelUnavailable(_how(model, pretrained) + f" ({type(exc).__name__}: {exc})") from None
        if not pretrained:
            log.warning("aesthetics: '%s' has random weights (pretrained=None): scores are meaningless", model)
        self.model.eval()
        self.dim = int(self.model.visual.output_dim)
        self.head = None
        if head_path:
            if not os.path.isfile(head_path):
                raise ModelUnavailable(f"aesthetics: head_path '{head_path}' does not exist: download the LAION "
                                       "improved-aesthetic-predictor weights (e.g. sac+logos+ava1-l14-linearMSE.pth) "
                                       "to a local path, or set aesthetics.head_path=null to keep only embeddings.")
            head = aesthetic_head(self.dim)
            state = torch.load(head_path, map_location="cpu", weights_only=True)
            head.load_state_dict(state.get("state_dict", state) if isinstance(state, dict) else state)
            self.head = head.to(device).eval()

    def embed_and_score(self, frames: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray | None]:
        """(L2-normalised embeddings [N, D], aesthetic scores [N] or None) for RGB uint8 frames."""
        import torch
        from PIL import Image

        if not frames:
            return np.zeros((0, self.dim), np.float32), None
        x = torch.stack([self.preprocess(Image.fromarray(f)) for f in frames]).to(self.device)
        with torch.inference_mode():
            emb = self.model.encode_image(x).float()
            emb = emb / emb.norm(dim=-1, keepdim=True).clamp_min(1e-6)
            scores = self.head(emb).squeeze(-1).float().cpu().numpy() if self.head is not None else None
        return emb.cpu().numpy().astype(np.float32), scores


def sample_frames(path: str, n: int, start: int = 0, end: int | None = None, min_side: int = 448) -> list[np.ndarray]:
    """``n`` RGB frames spread evenly over frames [start, end) of ``path`` (first/.../last),
    upright (display rotation applied) and box-filtered so the shorter side is ``min_side``
    (2x CLIP's 224 input: the model's own resize sees the same picture, at a fraction of the
    cost of full-resolution frames).

    One seek + decode of the span (:func:`curate.analysers.frames.decode_span`: packets of
    frames nobody asked for are sent with ``skip_frame=NONREF``); only the picked frames are
    converted. Frame indices are timestamp-based, as everywhere else."""
    from curate.analysers.frames import decode_span, spread_picks
    from curate.media import open_video

    with open_video(path) as (c, vs):
        rate = vs.average_rate or vs.guessed_rate or vs.base_rate
        fps = float(rate) if rate else 0.0
        total = (end if end is not None else (vs.frames or 0)) - start
        if total <= 0:
            total = sum(1 for _ in c.decode(vs)) - start
    picks = spread_picks(total, n)
    if not picks or fps <= 0:
        return []
    out: list[np.ndarray] = []
    for _off, fr in decode_span(path, start, start + total, fps, set(picks), 256):
        out.append(np.ascontiguousarray(fr.short_side(min_side)[..., ::-1]))
    return out


