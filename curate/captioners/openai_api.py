"""``openai`` backend: any OpenAI-compatible chat-completions endpoint, via ``httpx``.

Images travel as base64 JPEG data URLs. At most ``openai.max_concurrency`` requests are in
flight per actor; connection errors, timeouts, 429 and 5xx are retried with exponential
backoff (``Retry-After`` honoured, capped at 60 s); other 4xx fail that request at once.
Token counts come from the response's ``usage`` (0 when the server sends none).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import threading
from typing import Any, Sequence

from curate.captioners.base import (
    ModelUnavailable,
    Request,
    Result,
    openai_messages,
    unavailable_message,
)
from curate.config import CaptionsConfig

log = logging.getLogger("curate")

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class OpenAICaptioner:
    backend = "openai"

    def __init__(self, cfg: CaptionsConfig) -> None:
        try:
            import httpx
        except ImportError:
            raise ModelUnavailable(unavailable_message(self.backend, cfg.model, "httpx is not installed")) from None
        self.httpx = httpx
        self.cfg, self.oc, self.model = cfg, cfg.openai, cfg.model
        self.url = self.oc.base_url.rstrip("/")
        self.headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.oc.api_key_env)
        if key:
            self.headers["Authorization"] = f"Bearer {key}"
        if self.oc.check_endpoint:
            self._check()

    def _check(self) -> None:
        httpx = self.httpx
        try:
            r = httpx.get(f"{self.url}/models", headers=self.headers, timeout=min(10.0, self.oc.timeout_s))
        except httpx.HTTPError as exc:
            raise ModelUnavailable(unavailable_message(
                self.backend, self.model, f"endpoint {self.url} unreachable: {type(exc).__name__}: {exc}")) from None
        if r.status_code in (401, 403):
            raise ModelUnavailable(unavailable_message(
                self.backend, self.model, f"endpoint {self.url} refused the API key (HTTP {r.status_code}); "
                f"set ${self.oc.api_key_env}"))
        if r.status_code == 200:
            try:
                served = [m.get("id") for m in r.json().get("data", [])]
            except (ValueError, AttributeError):
                served = []
            if served and self.model not in served:
                raise ModelUnavailable(unavailable_message(
                    self.backend, self.model, f"endpoint {self.url} serves {served}, not '{self.model}'"))

    def generate(self, requests: Sequence[Request]) -> list[Result]:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self._all(requests))
        box: list[list[Result]] = []  # called from inside an event loop (notebook): use a thread
        t = threading.Thread(target=lambda: box.append(asyncio.run(self._all(requests))))
        t.start()
        t.join()
        return box[0]

    async def _all(self, requests: Sequence[Request]) -> list[Result]:
        sem = asyncio.Semaphore(self.oc.max_concurrency)
        limits = self.httpx.Limits(max_connections=self.oc.max_concurrency)
        async with self.httpx.AsyncClient(timeout=self.oc.timeout_s, limits=limits, headers=self.headers) as client:
            return list(await asyncio.gather(*(self._one(client, sem, r) for r in requests)))

    def _payload(self, req: Request) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "messages": openai_messages(req),
                                "max_tokens": req.max_new_tokens, "temperature": req.temperature}
        if req.temperature > 0 and req.seed is not None:
            body["seed"] = req.seed
        return body

    async def _one(self, client: Any, sem: asyncio.Semaphore, req: Request) -> Result:
        httpx = self.httpx
        body = self._payload(req)
        last = "no attempt"
        for attempt in range(self.oc.retries + 1):
            delay = self.oc.backoff_s * (2**attempt) * (0.75 + 0.5 * random.random())
            async with sem:
                try:
                    r = await client.post(f"{self.url}/chat/completions", json=body)
                except httpx.HTTPError as exc:
                    last = f"{type(exc).__name__}: {exc}"
                    r = None
            if r is not None:
                if r.status_code == 200:
                    return self._parse(r)
                last = f"HTTP {r.status_code}: {r.text[:200]}"
                if r.status_code not in RETRY_STATUS:
                    return Result(None, "error", error=last)
                ra = r.headers.get("retry-after")
                if ra and ra.replace(".", "", 1).isdigit():
                    delay = min(60.0, float(ra))
            if attempt < self.oc.retries:
                await asyncio.sleep(delay)
        return Result(None, "error", error=f"{last} (after {self.oc.retries} retries)")

    @staticmethod
    def _parse(r: Any) -> Result:
        try:
            data = r.json()
            choice = data["choices"][0]
            text = (choice.get("message") or {}).get("content")
            if isinstance(text, list):  # some servers return content parts
                text = "".join(p.get("text", "") for p in text if isinstance(p, dict))
            finish = choice.get("finish_reason") or "stop"
            usage = data.get("usage") or {}
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            return Result(None, "error", error=f"malformed response: {type(exc).__name__}: {exc}")
        return Result(text, "length" if finish == "length" else "stop",
                      prompt_tokens=int(usage.get("prompt_tokens") or 0),
                      output_tokens=int(usage.get("completion_tokens") or 0))
