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


def engine_kwargs(cfg: CaptionsConfig, model_path: str | None = None) -> dict[str, Any]:
    """``vllm.LLM(**kwargs)`` for ``cfg`` (pure: tested without vLLM).

    * ``gpu_memory_utilization`` is a fraction of the WHOLE GPU per engine: with
      ``captions.num_gpus`` < 1 two replicas share a GPU, so it is capped at ``0.9 x num_gpus``
      (two engines at 0.85 each cannot fit on one GPU).
    * ``limit_mm_per_prompt``: the images a window can hold, and no video inputs (so vLLM
      reserves no encoder memory for a modality that never comes).
    * ``model_path``: the resolved local snapshot when the model must load from the cache only.
    """
    vc = cfg.vllm
    util = vc.gpu_memory_utilization
    if 0 < cfg.num_gpus < 1 and util > 0.9 * cfg.num_gpus:
        util = round(0.9 * cfg.num_gpus, 3)
        log.info("captions: vllm.gpu_memory_utilization capped to %.3f (captions.num_gpus=%g shares the GPU)",
                 util, cfg.num_gpus)
    kw: dict[str, Any] = dict(
        model=model_path or cfg.model, revision=None if model_path else cfg.revision,
        trust_remote_code=cfg.trust_remote_code, dtype=cfg.dtype, seed=cfg.seed, gpu_memory_utilization=util,
        max_model_len=vc.max_model_len, tensor_parallel_size=vc.tensor_parallel_size, enforce_eager=vc.enforce_eager,
        limit_mm_per_prompt={"image": max(2, cfg.max_frames_per_window), "video": 0},
    )
    if vc.mm_processor_kwargs:
        kw["mm_processor_kwargs"] = dict(vc.mm_processor_kwargs)
    return kw


def local_snapshot(model: str, revision: str | None) -> str | None:
    """The local folder of a cached hub model (no network), or None."""
    import os

    if os.path.isdir(model):
        return model
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(model, revision=revision, local_files_only=True)
    except Exception:  # noqa: BLE001 - not fully cached
        return None


def drain(llm: Any) -> int:
    """Abort requests a failed ``LLM.chat`` left in the engine; returns how many.

    When one prompt of a batch is rejected (e.g. longer than ``max_model_len``) ``LLM.chat``
    raises after the earlier prompts were queued; left there they would finish inside the
    next call and shift its outputs.
    """
    engine = getattr(llm, "llm_engine", None)
    if engine is None:
        return 0
    ids: list[str] = []
    states = getattr(getattr(engine, "output_processor", None), "request_states", None)  # vLLM V1
    if isinstance(states, dict):
        ids = [str(k) for k in states]
    else:  # V0 schedulers
        for sch in getattr(engine, "scheduler", None) or []:
            for queue in (getattr(sch, "waiting", ()), getattr(sch, "running", ()), getattr(sch, "swapped", ())):
                ids += [str(g.request_id) for g in queue]
    if ids:
        engine.abort_request(ids)
    return len(ids)


class VLLMCaptioner:
    backend = "vllm"

    def __init__(self, cfg: CaptionsConfig, llm: Any = None, vllm_module: Any = None) -> None:
        """Load the engine (``llm``/``vllm_module``: an already built engine and module, for tests)."""
        if vllm_module is None:
            try:
                import vllm as vllm_module
            except ImportError as exc:
                raise ModelUnavailable(unavailable_message(self.backend, cfg.model, f"vllm is not installed ({exc})")) from None
        self.vllm, self.cfg, self.model = vllm_module, cfg, cfg.model
        if llm is None:
            llm = self._load(cfg)
        self.llm = llm

    def _load(self, cfg: CaptionsConfig) -> Any:
        import os

        cache_only = check_hub_model(self.backend, cfg.model, cfg.revision, cfg.local_files_only)
        path = None
        if cache_only:  # an offline GPU node: load the snapshot folder, never ask the hub
            path = local_snapshot(cfg.model, cfg.revision)
            os.environ["HF_HUB_OFFLINE"] = "1"  # this actor's process only
        try:
            llm = self.vllm.LLM(**engine_kwargs(cfg, path))
        except (OSError, ValueError) as exc:
            raise ModelUnavailable(unavailable_message(self.backend, cfg.model, exc)) from None
        log.info("captions: vLLM engine ready for %s", path or cfg.model)
        return llm

    def _params(self, r: Request) -> Any:
        kw: dict[str, Any] = dict(max_tokens=r.max_new_tokens, temperature=r.temperature,
                                  repetition_penalty=self.cfg.repetition_penalty)
        if r.temperature > 0:
            kw.update(top_p=0.9, seed=r.seed)
        return self.vllm.SamplingParams(**kw)

    def _chat(self, requests: Sequence[Request]) -> list[Result]:
        convs = [openai_messages(r) for r in requests]
        outs = self.llm.chat(convs, sampling_params=[self._params(r) for r in requests], use_tqdm=False)
        if len(outs) != len(requests):
            raise RuntimeError(f"vLLM returned {len(outs)} outputs for {len(requests)} requests")
        return [self._result(o) for o in outs]

    @staticmethod
    def _result(o: Any) -> Result:
        c = o.outputs[0] if o.outputs else None
        if c is None:
            return Result(None, "error", error="vLLM returned no output")
        finish = "length" if c.finish_reason == "length" else ("stop" if c.finish_reason == "stop" else "error")
        return Result(c.text, finish, prompt_tokens=len(o.prompt_token_ids or []), output_tokens=len(c.token_ids or []),
                      error=None if finish != "error" else f"finish_reason={c.finish_reason}")

    def generate(self, requests: Sequence[Request]) -> list[Result]:
        """One batched ``LLM.chat``; if the engine rejects the batch, each request alone.

        One bad request (a prompt over ``max_model_len``, an unreadable image) then fails only
        itself, with the engine's message as its error.
        """
        if not requests:
            return []
        try:
            return self._chat(requests)
        except Exception as exc:  # noqa: BLE001 - any engine rejection: isolate the bad request(s)
            dropped = drain(self.llm)
            log.warning("captions: vLLM rejected a batch of %d (%s: %s); retrying one request at a time%s",
                        len(requests), type(exc).__name__, str(exc)[:200],
                        f" ({dropped} queued requests aborted)" if dropped else "")
        results = []
        for r in requests:
            try:
                results += self._chat([r])
            except Exception as exc:  # noqa: BLE001
                drain(self.llm)
                results.append(Result(None, "error", error=f"{type(exc).__name__}: {str(exc)[:300]}"))
        return results
