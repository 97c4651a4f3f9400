"""The protocol every model implements; the runner serves them all through it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class Request:
    """One prompt: images (resolved paths, in order) then text; the sample rides along for baselines."""

    id: str
    images: tuple[Path, ...]
    text: str
    max_new_tokens: int
    sample: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    system: str | None = None


@dataclass
class Generation:
    text: str
    prompt_tokens: int | None = None
    output_tokens: int | None = None


@runtime_checkable
class Model(Protocol):
    """`generate` answers a batch of requests, in order. Outputs must not depend on the batch size."""

    name: str
    max_batch_size: int

    def generate(self, requests: list[Request]) -> list[Generation]: ...

    def describe(self) -> dict[str, Any]:
        """Settings recorded in the run folder (model id, dtype, attention, adapter, ...)."""
        ...
