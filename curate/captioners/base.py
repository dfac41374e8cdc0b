"""The captioner interface: a batch of chat requests (text + JPEG images) in, results out.

Every backend (``transformers``, ``vllm``, ``openai``) implements :class:`Captioner`; the
caption stage and the hierarchy logic only see this protocol, so tests hand in a tiny real
model directly. A backend that cannot load its model raises :class:`ModelUnavailable`
from its constructor with a message saying which model and how to provide it.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any, Protocol, Sequence


@dataclass(frozen=True)
class Request:
    """One chat turn: optional system prompt, then a user turn of images followed by text."""

    prompt: str
    images: tuple[bytes, ...] = ()  # JPEG bytes, in the order the prompt refers to them
    system: str | None = None
    max_new_tokens: int = 128
    temperature: float = 0.0
    seed: int | None = None


@dataclass
class Result:
    text: str | None
    finish_reason: str  # "stop" (EOS), "length" (hit max_new_tokens), "error"
    prompt_tokens: int = 0
    output_tokens: int = 0
    error: str | None = None


class Captioner(Protocol):
    backend: str
    model: str

    def generate(self, requests: Sequence[Request]) -> list[Result]:
        """One result per request, same order. Failures are results with finish_reason='error'."""
        ...


class ModelUnavailable(RuntimeError):
    """The configured model/endpoint cannot be used here; the message says how to provide it."""


def unavailable_message(backend: str, model: str, cause: BaseException | str) -> str:
    why = cause if isinstance(cause, str) else f"{type(cause).__name__}: {str(cause).strip().splitlines()[0] if str(cause).strip() else ''}"
    if backend == "openai":
        how = ("start the server (e.g. `vllm serve MODEL`), set captions.openai.base_url / captions.model to "
               "what it serves, or set captions.enabled=false")
    else:
        how = ("set captions.model to a local folder (a save_pretrained / snapshot_download copy), pre-fill the "
               "Hugging Face cache (`huggingface-cli download MODEL` on a machine with network, then copy "
               "~/.cache/huggingface or point HF_HOME at it), or set captions.enabled=false")
        if backend == "vllm":
            how = "install the vllm extra (`pip install 'curate[vllm]'`) on GPU nodes; " + how
    return (f"captions: cannot load model '{model}' with backend '{backend}' ({why}). To provide it: {how}. "
            "Caption columns of this run are left null with caption_status='skipped'.")


def data_url(jpeg: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


def openai_messages(req: Request) -> list[dict[str, Any]]:
    """OpenAI chat format (also what vllm.LLM.chat takes): images as base64 data URLs."""
    msgs: list[dict[str, Any]] = []
    if req.system:
        msgs.append({"role": "system", "content": req.system})
    content: list[dict[str, Any]] = [{"type": "image_url", "image_url": {"url": data_url(b)}} for b in req.images]
    content.append({"type": "text", "text": req.prompt})
    msgs.append({"role": "user", "content": content})
    return msgs


def check_hub_model(backend: str, model: str, revision: str | None = None, local_files_only: bool = False,
                    timeout_s: float = 5.0) -> bool:
    """Decide quickly whether ``model`` can be loaded; return True when it must load from the cache only.

    A local folder or a model already in the Hugging Face cache loads without network. Otherwise
    one short request to the hub decides (hub clients retry for minutes when offline); raises
    ModelUnavailable when the model is neither cached nor reachable.
    """
    import os

    if os.path.isdir(model):
        return True
    if model.startswith(("/", "./", "../", "~")):
        raise ModelUnavailable(unavailable_message(backend, model, "no such local folder"))
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(model, "config.json", revision=revision)
        if isinstance(cached, str):
            return True
    except Exception:  # noqa: BLE001 - malformed ids fall through to the hub check
        pass
    if local_files_only or os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        raise ModelUnavailable(unavailable_message(backend, model, "not in the local Hugging Face cache and offline mode is on"))
    import httpx

    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    headers = {}
    token = os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        r = httpx.get(f"{endpoint}/api/models/{model}", headers=headers, timeout=timeout_s, follow_redirects=True)
    except httpx.HTTPError as exc:
        raise ModelUnavailable(unavailable_message(
            backend, model, f"not in the local Hugging Face cache and {endpoint} is unreachable ({type(exc).__name__})")) from None
    if r.status_code in (401, 403, 404):
        raise ModelUnavailable(unavailable_message(
            backend, model, f"{endpoint} answered HTTP {r.status_code} (unknown, private or gated model; set HF_TOKEN)"))
    return False
