"""What a training regime trains: LoRA on the language model, the whole language model, or everything.

Module names differ by family (`visual` / `vision_tower` / `vision_model`, `language_model` / `text_model`,
`merger` / `multi_modal_projector` / `connector`); they are found once by `find_parts`, and LoRA targets are
a regex anchored on the language model's decoder layers, because suffix lists such as `q_proj` also hit
SigLIP and Qwen2.5-VL vision blocks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import torch
from peft import LoraConfig, PeftModel, get_peft_model

from mimic_vlm.errors import MimicError

METHODS = ("lora", "full-lm", "full")
LANGUAGE = ("language_model", "text_model")
PROJECTOR = ("multi_modal_projector", "connector", "merger", "mm_projector")
VISION = ("visual", "vision_tower", "vision_model")


@dataclass(frozen=True)
class Parts:
    """Module paths of a VLM's language model, vision tower(s) and projector(s)."""

    language_model: str
    vision: tuple[str, ...]
    projector: tuple[str, ...]


@dataclass(frozen=True)
class LoraSettings:
    """Defaults are the official run's (r 128, alpha 32, dropout 0.05)."""

    r: int = 128
    alpha: int = 32
    dropout: float = 0.05


def _last(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def find_parts(model: torch.nn.Module) -> Parts:
    names = [n for n, _ in model.named_modules()]
    lm = [n for n in names if _last(n) in LANGUAGE and hasattr(model.get_submodule(n), "layers")]
    if not lm:
        raise MimicError(f"{type(model).__name__}: no language model found (looked for {', '.join(LANGUAGE)})")
    return Parts(lm[0], tuple(n for n in names if _last(n) in VISION),
                 tuple(n for n in names if _last(n) in PROJECTOR))


def lora_target_regex(model: torch.nn.Module, parts: Parts) -> str:
    """A full-match regex for every linear layer inside the language model's decoder layers."""
    prefix = re.escape(parts.language_model) + r"\.layers\.\d+\."
    suffixes = sorted({re.sub(rf"^{prefix}", "", n) for n, m in model.named_modules()
                       if isinstance(m, torch.nn.Linear) and re.match(prefix, n)})
    if not suffixes:
        raise MimicError(f"{parts.language_model}: no linear layers to put LoRA on")
    return prefix + "(?:" + "|".join(map(re.escape, suffixes)) + ")"


def _inside(name: str, roots: tuple[str, ...]) -> bool:
    return any(name == r or name.startswith(r + ".") or f".{r}." in f".{name}." for r in roots)


def assert_language_model_only(model: torch.nn.Module, parts: Parts) -> None:
    """The paper's recipe never adapts the vision side: a LoRA layer there is a bug, not a choice."""
    vision_side = parts.vision + parts.projector
    bad = [n for n, m in model.named_modules() if hasattr(m, "lora_A") and _inside(n, vision_side)]
    if bad:
        raise AssertionError(f"LoRA layers on the vision side: {bad[:5]}")


def prepare(model: Any, method: str, *, lora: LoraSettings | None = None,
            train_projector: bool = False) -> torch.nn.Module:
    """Freeze and wrap `model` for `method`; returns the model to train (a PeftModel for LoRA).

    lora: adapters on every language-model linear layer, everything else frozen (the projector trained in
    full with `train_projector`, as `modules_to_save`). full-lm: the language model (with embeddings and
    head) trains, vision tower and projector stay frozen unless `train_projector`. full: everything trains.
    """
    if method not in METHODS:
        raise MimicError(f"--method {method}: choose one of {', '.join(METHODS)}")
    parts = find_parts(model)
    model.config.use_cache = False
    if method == "lora":
        lora = lora or LoraSettings()
        cfg = LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, bias="none",
                         task_type="CAUSAL_LM", target_modules=lora_target_regex(model, parts),
                         modules_to_save=list(parts.projector) if train_projector else None)
        peft_model = get_peft_model(model, cfg)
        assert_language_model_only(peft_model, parts)
        return peft_model
    model.requires_grad_(method == "full")
    if method == "full-lm":
        model.get_submodule(parts.language_model).requires_grad_(True)
        model.get_output_embeddings().requires_grad_(True)
        for p in parts.projector if train_projector else ():
            model.get_submodule(p).requires_grad_(True)
    return model


def trainable_names(model: torch.nn.Module) -> list[str]:
    return [n for n, p in model.named_parameters() if p.requires_grad]


def is_peft(model: torch.nn.Module) -> bool:
    return isinstance(model, PeftModel)
