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
import re
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
TOO_MANY_IMAGES = re.compile(r"at most (\d+) image\(?s?\)? may be provided", re.IGNORECASE)
"""vLLM's refusal of a prompt with more images than `--limit-mm-per-prompt` allows."""
CONTEXT_LENGTH = re.compile(r"maximum (?:context|model) length is (\d+)", re.IGNORECASE)
MAX_REPLY_BYTES = 64 << 20
"""A chat completion is kilobytes; a reply past this is no answer (and must not fill the memory)."""


class TransientError(Exception):
    """A fault worth retrying (rate limit, server error, dropped connection, timeout)."""

    def __init__(self, reason: str, wait_s: float | None = None) -> None:
        super().__init__(reason)
        self.wait_s = wait_s


class Refused(MimicError):
    """The server answered a request with a client error (4xx other than a retried one)."""

    def __init__(self, message: str, status: int, detail: str) -> None:
        super().__init__(message)
        self.status, self.detail = status, detail


def limit_message(status: int, detail: str, n_images: int, request_bytes: int) -> str | None:
    """One line naming the server limit a refusal hit and the option that fits it (None: no known limit)."""
    many = TOO_MANY_IMAGES.search(detail)
    if many:
        return (f"the server takes at most {many.group(1)} image(s) per prompt and this sample has {n_images}: "
                f"serve the model with vLLM --limit-mm-per-prompt '{{\"image\": {n_images}}}' (SGLang, other "
                "servers: their per-request image limit), or evaluate a bench with fewer images per sample")
    if status == 413 or "too large" in detail.lower():
        size = f"{request_bytes / 1e6:.1f} MB" if request_bytes >= 1e6 else f"{request_bytes / 1e3:.1f} kB"
        return (f"the server refused a request of {size} as too large (HTTP {status}): send "
                "smaller images with --max-pixels (e.g. 401408) and/or JPEG with --jpeg-quality 85, or raise the "
                "server's request size limit")
    context = CONTEXT_LENGTH.search(detail)
    if context:
        return (f"the prompt and its token budget exceed the server's context of {context.group(1)} tokens "
                f"(this sample has {n_images} images): lower --max-new-tokens or --max-pixels, or serve the model "
                "with a longer context (vLLM --max-model-len)")
    return None


class OpenAIModel:
    """Chat completions at temperature 0, `concurrency` requests in flight."""

    def __init__(self, model: str, base_url: str, *, api_key: str | None = None, concurrency: int = 8,
                 timeout: float = 120.0, retries: int = 4, backoff_s: float = 1.0,
                 max_pixels: int | None = None, jpeg_quality: int | None = None) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise MimicError(f"openai:{model}@{base_url}: the base URL must start with http:// or https://")
        self.model, self.base_url = model, base_url.rstrip("/")
        self.name = f"openai:{model}@{self.base_url}"
        self.api_key, self.timeout, self.retries, self.backoff_s = api_key, timeout, retries, backoff_s
        self.max_pixels = max_pixels
        if jpeg_quality is not None and not 1 <= jpeg_quality <= 95:
            raise MimicError(f"--jpeg-quality {jpeg_quality}: must lie within 1-95")
        self.jpeg_quality = jpeg_quality
        self.max_batch_size = concurrency
        self.checked = False
        """Whether a first request went alone: a server limit then fails once, before any concurrency."""
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="mimic-openai")
        self.abort = threading.Event()

    def describe(self) -> dict[str, Any]:
        """`runtime` (server, concurrency, timeouts) does not change answers: a run may resume elsewhere."""
        return {"kind": "openai", "model": self.model, "max_pixels": self.max_pixels, "temperature": 0,
                "decoding": "greedy", **({"jpeg_quality": self.jpeg_quality} if self.jpeg_quality else {}),
                "runtime": {"base_url": self.base_url, "concurrency": self.max_batch_size,
                                                  "timeout_s": self.timeout, "retries": self.retries}}

    def body(self, request: Request) -> dict[str, Any]:
        """The chat-completions payload: images as base64 data URLs, in the prompt's layout."""
        content = [{"type": "text", "text": part} if isinstance(part, str) else
                   {"type": "image_url", "image_url": {"url": data_url(request.images[part], self.max_pixels,
                                                                          self.jpeg_quality)}}
                   for part in layout(request.text, len(request.images), f"sample {request.id!r}")]
        messages = [{"role": "user", "content": content}]
        if request.system:
            messages.insert(0, {"role": "system", "content": request.system})
        return {"model": self.model, "messages": messages, "max_tokens": request.max_new_tokens,
                "temperature": 0}

    def generate(self, requests: list[Request]) -> list[Generation]:
        """Answers in order; the very first request of this model goes alone (the runner puts its heaviest
        sample first), so a server limit is one clear error, not one per request in flight."""
        self.abort.clear()
        first: list[Generation] = []
        if not self.checked and requests:
            first, requests = [self.complete(requests[0])], requests[1:]
            self.checked = True
        futures = [self.pool.submit(self.complete, r) for r in requests]
        try:
            return first + [f.result() for f in futures]
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
            except Refused as e:
                limit = limit_message(e.status, e.detail, len(request.images), len(payload))
                if limit is None:
                    raise
                raise MimicError(f"{where}: {limit}") from None
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
            body = e.read()[:4000].decode("utf-8", "replace").strip()
            detail = body[:200]
            if e.code in RETRY_STATUS:
                raise TransientError(f"HTTP {e.code} {detail}", _retry_after(e.headers.get("Retry-After"))) from None
            raise Refused(f"{where}: HTTP {e.code} {detail}", e.code, body) from None
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError) as e:
            reason = getattr(e, "reason", None) or e
            raise TransientError(f"{type(reason).__name__}: {reason}") from None


def parse_completion(raw: bytes, where: str) -> Generation:
    """The first choice's answer, reasoning, finish reason and token usage, every field type-checked: a wrong
    type is one MimicError naming the field (a broken server, not a retry), never a traceback.

    `content` may be text, null (all tokens went to the reasoning) or a list of parts (`{"type": "text",
    "text": ...}`, joined); the reasoning is `reasoning_content` (vLLM before 0.17, SGLang, DeepSeek) or
    `reasoning` (vLLM since); `usage` gives `prompt_tokens`, `completion_tokens`, and where the server reports
    them `completion_tokens_details.reasoning_tokens` and `prompt_tokens_details.image_tokens`."""
    try:
        answer = json.loads(raw)
        message = answer["choices"][0]["message"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise MimicError(f"{where}: the server returned no chat completion: {raw[:120]!r}") from None
    if not isinstance(message, dict):
        raise MimicError(f"{where}: the server's choices[0].message is {_json_kind(message)}, expected an object")
    choice = answer["choices"][0]
    reasoning = _text(message.get("reasoning_content"), "reasoning_content", where)
    if reasoning is None:
        reasoning = _text(message.get("reasoning"), "reasoning", where)
    finish = choice.get("finish_reason")
    if finish is not None and not isinstance(finish, str):
        raise MimicError(f"{where}: the server's finish_reason is {_json_kind(finish)}, expected a string")
    usage = answer.get("usage")
    if usage is None:
        usage = {}
    if not isinstance(usage, dict):
        raise MimicError(f"{where}: the server's usage is {_json_kind(usage)}, expected an object of token counts")
    details = _object(usage.get("completion_tokens_details"), "usage.completion_tokens_details", where)
    prompt_details = _object(usage.get("prompt_tokens_details"), "usage.prompt_tokens_details", where)
    return Generation(text=(_text(message.get("content"), "content", where) or "").strip(),
                      prompt_tokens=_count(usage.get("prompt_tokens"), "usage.prompt_tokens", where),
                      output_tokens=_count(usage.get("completion_tokens"), "usage.completion_tokens", where),
                      vision_tokens=_count(prompt_details.get("image_tokens"),
                                           "usage.prompt_tokens_details.image_tokens", where),
                      reasoning=reasoning.strip() if reasoning else None,
                      reasoning_tokens=_count(details.get("reasoning_tokens"),
                                              "usage.completion_tokens_details.reasoning_tokens", where),
                      finish_reason=finish)


def _json_kind(value: Any) -> str:
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list",
            dict: "an object"}.get(type(value), "null" if value is None else type(value).__name__)


def _text(value: Any, field: str, where: str) -> str | None:
    """A message text field: a string, null, or a list of text parts (joined)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(p, dict) for p in value):
        texts = [p.get("text") for p in value if p.get("type", "text") == "text"]
        if all(isinstance(t, str) for t in texts):
            return "".join(texts)
    raise MimicError(f"{where}: the server's message {field} is {_json_kind(value)}, expected text")


def _object(value: Any, field: str, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MimicError(f"{where}: the server's {field} is {_json_kind(value)}, expected an object")
    return value


def _count(value: Any, field: str, where: str) -> int | None:
    """A token count: a whole number >= 0, or absent."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MimicError(f"{where}: the server's {field} is {value!r}, expected a whole number of tokens")
    return value


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
