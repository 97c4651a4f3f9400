"""Any OpenAI-compatible chat-completions server (vLLM, SGLang, LMDeploy, hosted APIs) as a `Model`.

This is how evaluation scales past one machine: serve the model anywhere, point `openai:MODEL@BASE_URL` at
it. Standard library only (urllib + threads): no client package to pin. Transient faults (429, 5xx, dropped
connections, timeouts) are retried with exponential backoff, a bounded number of times; anything else, or a
server that keeps failing, is a MimicError naming the server and the sample, raised before the batch is
written, so every prediction already saved stays saved.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mimic_vlm.errors import MimicError
from mimic_vlm.images import data_url
from mimic_vlm.models.base import Generation, Request, layout

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}
MAX_WAIT_S = 60.0
MAX_REPLY_BYTES = 64 << 20
"""A chat completion is kilobytes; a reply past this is no answer (and must not fill the memory)."""


class TransientError(Exception):
    """A fault worth retrying (rate limit, server error, dropped connection, timeout)."""

    def __init__(self, reason: str, wait_s: float | None = None) -> None:
        super().__init__(reason)
        self.wait_s = wait_s


class OpenAIModel:
    """Chat completions at temperature 0, `concurrency` requests in flight."""

    def __init__(self, model: str, base_url: str, *, api_key: str | None = None, concurrency: int = 8,
                 timeout: float = 120.0, retries: int = 4, backoff_s: float = 1.0,
                 max_pixels: int | None = None) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise MimicError(f"openai:{model}@{base_url}: the base URL must start with http:// or https://")
        self.model, self.base_url = model, base_url.rstrip("/")
        self.name = f"openai:{model}@{self.base_url}"
        self.api_key, self.timeout, self.retries, self.backoff_s = api_key, timeout, retries, backoff_s
        self.max_pixels = max_pixels
        self.max_batch_size = concurrency
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="mimic-openai")
        self.abort = threading.Event()

    def describe(self) -> dict[str, Any]:
        """`runtime` (server, concurrency, timeouts) does not change answers: a run may resume elsewhere."""
        return {"kind": "openai", "model": self.model, "max_pixels": self.max_pixels, "temperature": 0,
                "decoding": "greedy", "runtime": {"base_url": self.base_url, "concurrency": self.max_batch_size,
                                                  "timeout_s": self.timeout, "retries": self.retries}}

    def body(self, request: Request) -> dict[str, Any]:
        """The chat-completions payload: images as base64 data URLs, in the prompt's layout."""
        content = [{"type": "text", "text": part} if isinstance(part, str) else
                   {"type": "image_url", "image_url": {"url": data_url(request.images[part], self.max_pixels)}}
                   for part in layout(request.text, len(request.images), f"sample {request.id!r}")]
        messages = [{"role": "user", "content": content}]
        if request.system:
            messages.insert(0, {"role": "system", "content": request.system})
        return {"model": self.model, "messages": messages, "max_tokens": request.max_new_tokens,
                "temperature": 0}

    def generate(self, requests: list[Request]) -> list[Generation]:
        self.abort.clear()
        futures = [self.pool.submit(self.complete, r) for r in requests]
        try:
            return [f.result() for f in futures]
        except BaseException:
            self.abort.set()  # requests in flight stop retrying, so the error surfaces now
            for f in futures:
                f.cancel()
            raise

    def complete(self, request: Request) -> Generation:
        """One request with bounded retries on transient faults."""
        where = f"{self.name}: sample {request.id!r}"
        payload = json.dumps(self.body(request)).encode()
        for attempt in range(self.retries + 1):
            try:
                return parse_completion(self.post(payload, where), where)
            except TransientError as e:
                if attempt == self.retries or self.abort.is_set():
                    raise MimicError(f"{where}: {e} (gave up after {attempt + 1} attempts)") from None
                self.abort.wait(e.wait_s if e.wait_s is not None else self.backoff_s * 2 ** attempt)
        raise AssertionError("unreachable")

    def post(self, payload: bytes, where: str) -> bytes:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(f"{self.base_url}/chat/completions", data=payload, headers=headers)
        deadline = time.monotonic() + self.timeout  # in all: a server that drips bytes never trips a per-read one
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                chunks, size = [], 0
                while chunk := resp.read1(1 << 16):
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > MAX_REPLY_BYTES:
                        raise MimicError(f"{where}: the server's reply exceeds {MAX_REPLY_BYTES >> 20} MiB")
                    if time.monotonic() > deadline:
                        raise TransientError(f"TimeoutError: no whole reply within {self.timeout:g} s")
                return b"".join(chunks)
        except urllib.error.HTTPError as e:
            detail = e.read()[:200].decode("utf-8", "replace").strip()
            if e.code in RETRY_STATUS:
                raise TransientError(f"HTTP {e.code} {detail}", _retry_after(e.headers.get("Retry-After"))) from None
            raise MimicError(f"{where}: HTTP {e.code} {detail}") from None
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError) as e:
            reason = getattr(e, "reason", None) or e
            raise TransientError(f"{type(reason).__name__}: {reason}") from None


def parse_completion(raw: bytes, where: str) -> Generation:
    """The first choice's text and the token usage; anything else is a broken server, not a retry."""
    try:
        answer = json.loads(raw)
        message = answer["choices"][0]["message"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise MimicError(f"{where}: the server returned no chat completion: {raw[:120]!r}") from None
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, list):  # the newer list-of-parts form: its text parts, in order
        content = "".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    usage = answer.get("usage") or {}
    tokens = [usage.get(k) for k in ("prompt_tokens", "completion_tokens")] if isinstance(usage, dict) else None
    if not isinstance(message, dict) or not isinstance(content, (str, type(None))):
        raise MimicError(f"{where}: the server's message content is not text: {raw[:120]!r}")
    if tokens is None or not all(t is None or type(t) is int and t >= 0 for t in tokens):
        raise MimicError(f"{where}: the server's usage holds no token counts: {raw[:120]!r}")
    return Generation(text=(content or "").strip(), prompt_tokens=tokens[0], output_tokens=tokens[1])


def _retry_after(value: str | None) -> float | None:
    try:
        return min(float(value), MAX_WAIT_S) if value else None
    except ValueError:
        return None


def load_openai(spec: str, *, api_key_env: str | None = None, **options: Any) -> OpenAIModel:
    """`MODEL@BASE_URL` (the part after `openai:`); the key comes from $OPENAI_API_KEY or `api_key_env`."""
    model, sep, base_url = spec.rpartition("@")
    if not sep or not model:
        raise MimicError(f"openai:{spec}: expected openai:MODEL@BASE_URL, e.g. openai:qwen2-vl@http://127.0.0.1:8000/v1")
    key = os.environ.get(api_key_env or "OPENAI_API_KEY")
    if api_key_env and not key:
        raise MimicError(f"--api-key-env {api_key_env}: that environment variable is not set")
    return OpenAIModel(model, base_url, api_key=key, **options)
