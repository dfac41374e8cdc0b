"""Captioners: one small interface (``base.Captioner``), three backends, one loader.

``load_captioner(cfg)`` picks the backend named by ``captions.backend`` and imports it lazily
(torch/transformers, vllm and httpx are optional extras). The hierarchy (``hierarchy.py``),
prompt templates (``prompts.py``) and guards (``guards.py``) are backend-independent.
"""

from __future__ import annotations

from curate.captioners.base import Captioner, ModelUnavailable, Request, Result
from curate.config import CaptionsConfig


def load_captioner(cfg: CaptionsConfig) -> Captioner:
    """Build the configured backend; raises ModelUnavailable with a how-to-fix message."""
    if cfg.backend == "transformers":
        from curate.captioners.hf_transformers import TransformersCaptioner

        return TransformersCaptioner(cfg)
    if cfg.backend == "vllm":
        from curate.captioners.vllm_engine import VLLMCaptioner

        return VLLMCaptioner(cfg)
    from curate.captioners.openai_api import OpenAICaptioner

    return OpenAICaptioner(cfg)


__all__ = ["Captioner", "ModelUnavailable", "Request", "Result", "load_captioner"]
