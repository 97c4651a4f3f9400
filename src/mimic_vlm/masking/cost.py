"""What the image-block mask saves, counted exactly: attention FLOPs, decoder FLOPs, and mask memory.

Sequence model: `prefix` text tokens, then `images` images of `tokens_per_image` tokens, then `text` tokens
(the question). Attention work is counted over the causal (query, key) pairs a kernel that skips masked
pairs must compute (flash/flex-style), 4 * heads * head_dim FLOPs per pair (QK^T and PV, multiply-adds = 2).
An image query at position j of image k keeps j + 1 keys instead of prefix + k * T + j + 1.

Which accounting gives a figure like the paper's "81% fewer FLOPs": the attention score/value FLOPs *in the
masked layers*, whose reduction tends to 1 - 1/N for N images when images dominate the sequence (81% is
N ~ 5.3; 8 images of 730 tokens give ~87%). Over all layers the attention saving scales with the fraction of
layers masked, and over the whole decoder (projections and MLP included, which the mask does not change)
it is far smaller (8x730 tokens, half the layers masked: 11% for LLaVA-OV-0.5B, 3.6% for 7B): a
whole-model "81%" cannot come from the mask.
The vision tower and the LM head are left out of the decoder count: the mask changes neither.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

from mimic_vlm.errors import MimicError


@dataclass(frozen=True)
class TextModelShape:
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    hidden: int
    intermediate: int


KNOWN_MODELS = {  # text decoders of released checkpoints (their config.json values)
    "llava-ov-0.5b": TextModelShape(24, 14, 2, 64, 896, 4864),
    "llava-ov-7b": TextModelShape(28, 28, 4, 128, 3584, 18944),
    "qwen2-vl-2b": TextModelShape(28, 12, 2, 128, 1536, 8960),
    "qwen2-vl-7b": TextModelShape(28, 28, 4, 128, 3584, 18944),
    "qwen2.5-vl-3b": TextModelShape(36, 16, 2, 128, 2048, 11008),
    "qwen2.5-vl-7b": TextModelShape(28, 28, 4, 128, 3584, 18944),
}


@dataclass(frozen=True)
class SequenceLayout:
    images: int
    tokens_per_image: int
    text: int = 0  # after the images
    prefix: int = 0  # before the images

    @property
    def length(self) -> int:
        return self.prefix + self.images * self.tokens_per_image + self.text


def shape_from_config(path: str | Path) -> TextModelShape:
    """The text decoder's shape from a `config.json` (or a model folder holding one)."""
    path = Path(path)
    file = path / "config.json" if path.is_dir() else path
    try:
        cfg = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:  # ValueError: invalid JSON, or bytes that are no UTF-8
        raise MimicError(f"{file}: cannot read a model config ({e})") from e
    text = (cfg.get("text_config") or cfg.get("llm_config") or cfg) if isinstance(cfg, dict) else None
    if not isinstance(text, dict):
        raise MimicError(f"{file}: not a model config (expected a JSON object)")
    size = partial(_size, file, text)
    heads = size("num_attention_heads")
    hidden = size("hidden_size")
    if heads > hidden:  # hidden // heads would be a head of 0 dimensions
        raise MimicError(f"{file}: num_attention_heads {heads} exceeds hidden_size {hidden}")
    return TextModelShape(layers=size("num_hidden_layers"), heads=heads,
                          kv_heads=size("num_key_value_heads", heads), head_dim=size("head_dim", hidden // heads),
                          hidden=hidden, intermediate=size("intermediate_size"))


def _size(file: Path, text: dict[str, Any], key: str, default: int | None = None) -> int:
    """A positive integer of the config; absent or null takes `default` where there is one."""
    value = text.get(key)
    if value is None and default is not None:
        return default
    if value is None:
        raise MimicError(f"{file}: the text config has no {key!r}")
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise MimicError(f"{file}: {key} {value!r}: expected a positive integer")
    return value


def resolve_shape(name_or_path: str) -> TextModelShape:
    if name_or_path.lower() in KNOWN_MODELS:
        return KNOWN_MODELS[name_or_path.lower()]
    if Path(name_or_path).exists():
        return shape_from_config(name_or_path)
    raise MimicError(f"{name_or_path}: neither a config.json path nor a known model ({', '.join(KNOWN_MODELS)})")


def causal_pairs(layout: SequenceLayout) -> int:
    n = layout.length
    return n * (n + 1) // 2


def masked_pairs(layout: SequenceLayout) -> int:
    """Causal pairs left when each image's queries see only their own image (single images stay unmasked)."""
    if layout.images < 2:
        return causal_pairs(layout)
    t, n = layout.tokens_per_image, layout.images
    removed = t * (n * layout.prefix + t * n * (n - 1) // 2)
    return causal_pairs(layout) - removed


def layer_flops(shape: TextModelShape, length: int, pairs: int) -> dict[str, int]:
    """FLOPs of one decoder layer: q/k/v/o projections, SwiGLU MLP, attention over `pairs`."""
    q_o = 2 * 2 * length * shape.hidden * shape.heads * shape.head_dim
    k_v = 2 * 2 * length * shape.hidden * shape.kv_heads * shape.head_dim
    mlp = 2 * 3 * length * shape.hidden * shape.intermediate
    return {"linear": q_o + k_v + mlp, "attention": 4 * shape.heads * shape.head_dim * pairs}


def block_mask_bytes(batch: int, length: int, block: int = 128) -> int:
    """A FlexAttention BlockMask: kv/q block counts and indices, for partial and full blocks (int32)."""
    n = math.ceil(length / block)
    return 4 * 4 * batch * (n + n * n)


def mask_cost(shape: TextModelShape, layout: SequenceLayout, masked_layers: frozenset[int],
              batch: int = 1) -> dict:
    """Attention and decoder FLOPs with and without the mask, and the mask memory of each approach."""
    n, dense_pairs, kept_pairs = layout.length, causal_pairs(layout), masked_pairs(layout)
    dense_layer = layer_flops(shape, n, dense_pairs)
    masked_layer = layer_flops(shape, n, kept_pairs)
    m = len(masked_layers)
    attn_dense = shape.layers * dense_layer["attention"]
    attn_masked = attn_dense - m * (dense_layer["attention"] - masked_layer["attention"])
    model_dense = shape.layers * (dense_layer["linear"] + dense_layer["attention"])
    model_masked = model_dense - (attn_dense - attn_masked)
    official = batch * shape.heads * n * n  # [B, H, L, L] bool, one byte per element
    ours = batch * n * n  # [B, 1, L, L] bool shared by heads and layers

    def saving(before: int, after: int) -> dict:
        return {"dense": before * batch, "masked": after * batch, "reduction": 1 - after / before}

    return {
        "model": asdict(shape), "layout": asdict(layout) | {"length": n}, "batch": batch,
        "masked_layers": sorted(masked_layers),
        "attention_flops_masked_layer": saving(dense_layer["attention"], masked_layer["attention"]),
        "attention_flops_all_layers": saving(attn_dense, attn_masked),
        "decoder_flops": saving(model_dense, model_masked),
        "mask_bytes": {"official_dense_per_head": official, "ours_sdpa": ours,
                       "ours_flex_block_mask": block_mask_bytes(batch, n),
                       "sdpa_vs_official": ours / official},
    }
