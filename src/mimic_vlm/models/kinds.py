"""What each model kind is and can do: one record per kind, consulted by eval, sweep, probe and train.

A `--model` spec is `KIND` or `KIND:ARGUMENT`. Commands ask the kind's record (`kind_of(spec).pooling`, ...)
instead of matching spec prefixes, so a kind that gains a capability gains it everywhere at once. This module
imports nothing heavy: the builders live in `models/registry.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mimic_vlm.errors import MimicError


@dataclass(frozen=True)
class ModelKind:
    """One kind of `--model` and what it can do."""

    name: str
    usage: str
    """How the spec is written, e.g. `hf:PATH_OR_ID` (a kind without an argument: its name)."""
    transformers: bool = False
    """A transformers VLM run in this process: the diagnostics (`mimic probe`) and training take it."""
    mask: bool = False
    """Takes the image-block attention mask (`--mask-layers`)."""
    pooling: bool = False
    """Its vision tokens can be pooled (`mimic probe pooling`, `mimic sweep --vary pooling`)."""
    adapter: bool = False
    """A PEFT `--adapter` can change its weights (any other kind would silently ignore it)."""
    vision_tokens: bool = False
    """Reports the image tokens of each prompt (`Generation.vision_tokens`)."""
    pixel_cap: bool = False
    """`--max-pixels` changes what it sees (a Qwen-style token budget for transformers models; a client-side
    resize for served models)."""
    needs_bench: bool = False
    """Answers from the bench itself (the baselines): it is built with the bench (`models.base.BenchView`)."""

    @property
    def takes_argument(self) -> bool:
        return ":" in self.usage


_LOCAL = {"transformers": True, "mask": True, "pooling": True, "adapter": True, "vision_tokens": True,
          "pixel_cap": True}

KINDS: dict[str, ModelKind] = {k.name: k for k in (
    ModelKind("hf", "hf:PATH_OR_ID", **_LOCAL),
    ModelKind("tiny", "tiny:FAMILY", **_LOCAL),
    ModelKind("toy", "toy:NAME", **_LOCAL),
    ModelKind("openai", "openai:MODEL@BASE_URL", pixel_cap=True),
    *(ModelKind(name, name, needs_bench=True) for name in ("chance", "prior", "single-image", "oracle")),
)}
"""Every kind by name. Other packages may add kinds with `models.registry.register_kind`."""


def check_spec(spec: str) -> tuple[ModelKind, str]:
    """(kind, argument) of a `--model` spec, checked without building anything (a command with several
    models checks them all before its first slow step)."""
    name, _, arg = spec.partition(":")
    kind = KINDS.get(name)
    if kind is None:
        raise MimicError(f"--model {spec}: unknown model kind {name!r}; known: "
                         + ", ".join(k.usage for k in KINDS.values()))
    if kind.takes_argument and not arg:
        raise MimicError(f"--model {spec}: {name}: needs an argument, e.g. {name}:...")
    return kind, arg


def kind_of(spec: str) -> ModelKind:
    return check_spec(spec)[0]


def with_kinds(capability: str) -> str:
    """The kinds that have a capability, as users write them: `hf:, tiny:, toy:`."""
    return ", ".join(k.name + (":" if k.takes_argument else "") for k in KINDS.values() if getattr(k, capability))


_WHAT = {"mask": "an attention mask", "pooling": "vision-token pooling", "adapter": "an adapter"}


def require(spec: str, capability: str, where: str) -> ModelKind:
    """The kind of `spec`, refused with one line naming `where` unless it has `capability` (a field name)."""
    kind = kind_of(spec)
    if getattr(kind, capability):
        return kind
    if capability == "transformers":
        raise MimicError(f"{where}: --model {spec} is not a transformers model ({with_kinds('transformers')})")
    raise MimicError(f"{where}: only {with_kinds(capability)} models take {_WHAT[capability]}, not --model {spec}")


WEIGHTS = Path(__file__).resolve().parent / "weights"
"""Trained models shipped inside the package: `toy:NAME` is the transformers folder `WEIGHTS/NAME`."""


def toy_folder(name: str) -> Path:
    """The packaged model `toy:NAME`, refused with the known names when there is none of that name."""
    folder = WEIGHTS / name
    if not (folder / "config.json").is_file():
        known = sorted(p.name for p in WEIGHTS.iterdir() if (p / "config.json").is_file()) if WEIGHTS.is_dir() else []
        raise MimicError(f"toy:{name}: no packaged model of that name; known: {', '.join(known) or 'none'}")
    return folder
