"""``vllm`` backend: the offline ``vllm.LLM`` batch engine with multi-modal chat inputs.

One engine per Ray actor (``captions.num_gpus`` GPUs; ``vllm.tensor_parallel_size`` to shard
a big model). Each hierarchy round is ONE ``LLM.chat`` call over every request of the batch;
vLLM's continuous batching keeps the GPU saturated. Images go in as base64 JPEG data URLs.
Install with ``pip install 'curate[vllm]'`` (imported lazily: CPU-only installs never need it).
"""

from __future__ import annotations

import logging
from typing import Any, Sequence

from curate.captioners.base import (
    ModelUnavailable,
    Request,
    Result,
    check_hub_model,
    openai_messages,
    unavailable_message,
)
from curate.config import CaptionsConfig

log = logging.getLogger("curate")


class VLLMCaptioner:
    backend = "vllm"

    def __init__(self, cfg: CaptionsConfig) -> None:
        try:
            import vllm
        except ImportError as exc:
            raise ModelUnavailable(unavailable_message(self.backend, cfg.model, f"vllm is not installed ({exc})")) from None
        self.vllm, self.cfg, self.model = vllm, cfg, cfg.model
        check_hub_model(self.backend, cfg.model, cfg.revision, cfg.local_files_only)
        vc = cfg.vllm
        kw: dict[str, Any] = dict(
            model=cfg.model, revision=cfg.revision, trust_remote_code=cfg.trust_remote_code, dtype=cfg.dtype,
            seed=cfg.seed, gpu_memory_utilization=vc.gpu_memory_utilization, max_model_len=vc.max_model_len,
            tensor_parallel_size=vc.tensor_parallel_size, enforce_eager=vc.enforce_eager,
            limit_mm_per_prompt={"image": max(2, cfg.max_frames_per_window)},
        )
        if vc.mm_processor_kwargs:
            kw["mm_processor_kwargs"] = dict(vc.mm_processor_kwargs)
        try:
            self.llm = vllm.LLM(**kw)
        except (OSError, ValueError) as exc:
            raise ModelUnavailable(unavailable_message(self.backend, cfg.model, exc)) from None
        log.info("captions: vLLM engine ready for %s", cfg.model)

    def _params(self, r: Request) -> Any:
        kw: dict[str, Any] = dict(max_tokens=r.max_new_tokens, temperature=r.temperature,
                                  repetition_penalty=self.cfg.repetition_penalty)
        if r.temperature > 0:
            kw.update(top_p=0.9, seed=r.seed)
        return self.vllm.SamplingParams(**kw)

    def generate(self, requests: Sequence[Request]) -> list[Result]:
        if not requests:
            return []
        convs = [openai_messages(r) for r in requests]
        outs = self.llm.chat(convs, sampling_params=[self._params(r) for r in requests], use_tqdm=False)
        results = []
        for o in outs:
            c = o.outputs[0] if o.outputs else None
            if c is None:
                results.append(Result(None, "error", error="vLLM returned no output"))
                continue
            finish = "length" if c.finish_reason == "length" else ("stop" if c.finish_reason == "stop" else "error")
            results.append(Result(c.text, finish, prompt_tokens=len(o.prompt_token_ids or []),
                                  output_tokens=len(c.token_ids or []),
                                  error=None if finish != "error" else f"finish_reason={c.finish_reason}"))
        return results
