"""What a `--model` kind can do, asked in one place (eval, sweep, probe and study consult it).

The answers follow the kind alone (the part of the spec before `:`), so they are known before anything
loads. `toy:` models are transformers models shipped in the package and get everything `hf:` gets.
"""

from __future__ import annotations

from dataclasses import dataclass

from mimic_vlm.models.registry import check_spec

TRANSFORMERS_KINDS = ("hf", "tiny", "toy")


@dataclass(frozen=True)
class Abilities:
    transformers: bool
    """Runs locally as a transformers model (attention probe, hooks)."""
    mask: bool
    """Takes the image-block attention mask (`--mask-layers`)."""
    pooling: bool
    """Its vision tokens can be pooled (`probe/pooling.py`; the family is checked once loaded)."""
    adapter: bool
    """Takes a PEFT `--adapter`."""
    pixel_cap: bool
    """`--max-pixels` changes what it sees (a Qwen-style token budget for transformers models; a resize for
    API models)."""
    vision_tokens: bool
    """Reports the vision tokens of each prompt in its predictions."""


def abilities(spec: str) -> Abilities:
    """The abilities of the kind a `--model` spec names (an unknown kind is the registry's MimicError)."""
    kind, _ = check_spec(spec)
    local = kind in TRANSFORMERS_KINDS
    return Abilities(transformers=local, mask=local, pooling=local, adapter=local,
                     pixel_cap=local or kind == "openai", vision_tokens=local)
