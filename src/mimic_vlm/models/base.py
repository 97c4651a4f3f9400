"""The protocol every model implements; the runner serves them all through it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from mimic_vlm.errors import MimicError
from mimic_vlm.schema import Sample


@dataclass(frozen=True)
class Request:
    """One prompt: images (resolved paths, in order) then text; the sample rides along for baselines."""

    id: str
    images: tuple[Path, ...]
    text: str
    max_new_tokens: int
    sample: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    system: str | None = None
    reasoning_tags: tuple[str, str] | None = None
    """The thinking block's (open, close) tags, so a model can count the tokens spent inside it."""


class BenchView(Protocol):
    """What a model that answers from the bench itself (the baselines) is given: its samples and vocabulary.

    A loaded `Bench` is one; models see the bench only through this, never by importing the bench package."""

    @property
    def samples(self) -> Sequence[Sample]: ...

    @property
    def vocabulary(self) -> Mapping[str, Mapping[str, Any]]: ...


@dataclass
class Generation:
    text: str
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    vision_tokens: int | None = None
    """Image tokens in the prompt (what the language model attends over for the images), where known."""
    reasoning: str | None = None
    """Thinking the server handed over apart from `text` (vLLM / SGLang `reasoning_content`)."""
    reasoning_tokens: int | None = None
    """Output tokens spent thinking (inside the thinking block, or the server's count), where known."""
    finish_reason: str | None = None
    """"length" when the output stopped at its token limit, "stop" when the model ended it; None: unknown."""


@runtime_checkable
class Model(Protocol):
    """`generate` answers a batch of requests, in order. Outputs must not depend on the batch size."""

    name: str
    max_batch_size: int

    def generate(self, requests: list[Request]) -> list[Generation]: ...

    def describe(self) -> dict[str, Any]:
        """Settings recorded in the run folder (model id, dtype, attention, adapter, ...)."""
        ...


IMAGE_MARKER = "<image>"
"""A prompt holding one `<image>` per image gets its images at those places; otherwise images come first."""


def layout(text: str, n_images: int, where: str = "prompt") -> list[str | int]:
    """The order of a prompt's parts: text pieces and image indices (images first, or at `<image>` markers).

    Images first, then the question, is the official MIMIC protocol; markers let a template interleave.
    """
    pieces = text.split(IMAGE_MARKER)
    if len(pieces) == 1:
        return [*range(n_images), text]
    if len(pieces) != n_images + 1:
        raise MimicError(f"{where}: {len(pieces) - 1} {IMAGE_MARKER} markers for {n_images} images")
    parts: list[str | int] = []
    for i, piece in enumerate(pieces):
        parts += [i - 1] if i else []
        parts += [piece] if piece else []
    return parts
