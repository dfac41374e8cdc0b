"""``transformers`` backend: any chat VLM via AutoProcessor + AutoModelForImageTextToText.

CPU or GPU. Requests are grouped by (has images, max_new_tokens, temperature), sorted by
prompt length and run as left-padded batches of ``captions.max_batch_requests`` through one
``generate`` call each. Finish reason: 'stop' when an EOS token was generated, 'length'
when the generation hit max_new_tokens without one (flagged as truncated by the guards).
"""

from __future__ import annotations

import io
import logging
import os
from collections import defaultdict
from typing import Any, Sequence

from curate.captioners.base import (
    ModelUnavailable,
    Request,
    Result,
    check_hub_model,
    unavailable_message,
)
from curate.config import CaptionsConfig

log = logging.getLogger("curate")


def _messages(req: Request) -> list[dict[str, Any]]:
    msgs: list[dict[str, Any]] = []
    if req.system:
        msgs.append({"role": "system", "content": [{"type": "text", "text": req.system}]})
    content: list[dict[str, Any]] = [{"type": "image"} for _ in req.images]
    content.append({"type": "text", "text": req.prompt})
    msgs.append({"role": "user", "content": content})
    return msgs


class TransformersCaptioner:
    backend = "transformers"

    def __init__(self, cfg: CaptionsConfig) -> None:
        try:
            import torch
            import transformers
            from transformers import AutoProcessor

            auto_model = getattr(transformers, "AutoModelForImageTextToText", None) or transformers.AutoModelForVision2Seq
        except ImportError as exc:
            raise ModelUnavailable(unavailable_message(
                self.backend, cfg.model, f"{exc}; install the captions extra: pip install 'curate[captions]'")) from None
        self.cfg, self.model = cfg, cfg.model
        self.torch = torch
        from curate.devices import resolve_device

        self.device = resolve_device(cfg.device)  # auto: a GPU only if Ray reserved one for this actor
        if self.device == "cpu":  # use the CPUs this actor was given, not every core (oversubscription)
            torch.set_num_threads(max(1, int(cfg.num_cpus)))
        if cfg.dtype == "auto":
            dtype = torch.bfloat16 if self.device.startswith("cuda") else torch.float32
        else:
            dtype = getattr(torch, cfg.dtype)
        offline = check_hub_model(self.backend, cfg.model, cfg.revision, cfg.local_files_only)
        kw: dict[str, Any] = {"trust_remote_code": cfg.trust_remote_code, "local_files_only": offline}
        if cfg.revision and not os.path.isdir(cfg.model):
            kw["revision"] = cfg.revision
        try:
            self.processor = AutoProcessor.from_pretrained(cfg.model, **kw)
            major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
            mkw = dict(kw, **{"dtype" if (major, minor) >= (4, 56) else "torch_dtype": dtype})
            if cfg.attn_implementation:
                mkw["attn_implementation"] = cfg.attn_implementation
            self.net = auto_model.from_pretrained(cfg.model, **mkw)
        except (OSError, ValueError, KeyError, ImportError) as exc:
            raise ModelUnavailable(unavailable_message(self.backend, cfg.model, exc)) from None
        self.net.to(self.device).eval()
        self.tok = getattr(self.processor, "tokenizer", self.processor)
        self.tok.padding_side = "left"
        if hasattr(self.processor, "padding_side"):
            self.processor.padding_side = "left"
        if self.tok.pad_token_id is None:
            self.tok.pad_token = self.tok.eos_token
        eos = self.net.generation_config.eos_token_id
        eos = list(eos) if isinstance(eos, (list, tuple)) else [eos]
        self.eos_ids = {int(e) for e in [*eos, self.tok.eos_token_id] if e is not None}
        log.info("captions: loaded %s on %s (%s)", cfg.model, self.device, dtype)

    def generate(self, requests: Sequence[Request]) -> list[Result]:
        groups: dict[tuple, list[int]] = defaultdict(list)
        for i, r in enumerate(requests):
            groups[(bool(r.images), r.max_new_tokens, r.temperature, r.seed)].append(i)
        out: list[Result | None] = [None] * len(requests)
        step = self.cfg.max_batch_requests
        for idx in groups.values():
            idx.sort(key=lambda i: (len(requests[i].images), len(requests[i].prompt)))
            for k in range(0, len(idx), step):
                chunk = idx[k : k + step]
                try:
                    res = self._batch([requests[i] for i in chunk])
                except Exception as exc:  # noqa: BLE001 - e.g. CUDA OOM: these requests fail, others go on
                    log.warning("captions: transformers batch of %d failed: %s: %s", len(chunk), type(exc).__name__, exc)
                    res = [Result(None, "error", error=f"{type(exc).__name__}: {exc}") for _ in chunk]
                for i, r in zip(chunk, res):
                    out[i] = r
        return [r for r in out if r is not None]

    def _batch(self, reqs: list[Request]) -> list[Result]:
        from PIL import Image

        torch = self.torch
        texts = [self.processor.apply_chat_template(_messages(r), tokenize=False, add_generation_prompt=True)
                 for r in reqs]
        images = [Image.open(io.BytesIO(b)).convert("RGB") for r in reqs for b in r.images]
        inputs = self.processor(text=texts, images=images or None, padding=True, return_tensors="pt").to(self.device)
        r0 = reqs[0]
        gen: dict[str, Any] = {"max_new_tokens": r0.max_new_tokens, "pad_token_id": self.tok.pad_token_id,
                               "repetition_penalty": self.cfg.repetition_penalty}
        if r0.temperature > 0:
            gen.update(do_sample=True, temperature=r0.temperature, top_p=0.9)
            if r0.seed is not None:
                torch.manual_seed(r0.seed)
        else:
            gen.update(do_sample=False)
        with torch.inference_mode():
            seq = self.net.generate(**inputs, **gen)
        n_in = inputs["input_ids"].shape[1]
        prompt_lens = inputs["attention_mask"].sum(dim=1).tolist()
        results = []
        for i, row in enumerate(seq[:, n_in:].tolist()):
            n = next((j + 1 for j, t in enumerate(row) if t in self.eos_ids), None)
            if n is None:
                ids = [t for t in row if t != self.tok.pad_token_id]
                finish = "length" if len(row) >= r0.max_new_tokens else "stop"
            else:
                ids, finish = row[:n], "stop"
            text = self.tok.decode(ids, skip_special_tokens=True).strip()
            results.append(Result(text, finish, prompt_tokens=int(prompt_lens[i]), output_tokens=len(ids)))
        return results
