"""The mask rules as tiny pure functions `(b, h, q, kv) -> allowed`, composed like attention-gym and
transformers' `masking_utils`, and materialised per backend.

One rule, three forms: `dense` evaluates a rule on broadcast index grids (a `[B, 1, Q, KV]` bool tensor shared
by all heads, for sdpa), `additive` turns the restriction into a float mask (eager adds masks to the scores, so
a bool mask there would be silently wrong), and `block_mask` hands the same rule to FlexAttention, which skips
every 128x128 tile the rule empties.

Indices are absolute sequence positions (`q_offset` = number of cached tokens before the queries).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from torch.nn.attention.flex_attention import BlockMask

MaskMod = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def causal_mod(b: torch.Tensor, h: torch.Tensor, q: torch.Tensor, kv: torch.Tensor) -> torch.Tensor:
    return q >= kv


def padding_mod(attention_mask: torch.Tensor) -> MaskMod:
    """Keys that are padding (0 in the 2D `attention_mask`, shape (B, KV)) are never attended."""
    keep = attention_mask.bool()
    return lambda b, h, q, kv: keep[b, kv]


def image_block_mod(block_ids: torch.Tensor) -> MaskMod:
    """An image-token query sees only keys of its own image; text queries (-1) are unrestricted."""
    return lambda b, h, q, kv: (block_ids[b, q] < 0) | (block_ids[b, q] == block_ids[b, kv])


def and_mods(*mods: MaskMod) -> MaskMod:
    def both(b, h, q, kv):
        allowed = mods[0](b, h, q, kv)
        for mod in mods[1:]:
            allowed = allowed & mod(b, h, q, kv)
        return allowed

    return both


def offset_mod(mod: MaskMod, q_offset: int) -> MaskMod:
    """`mod` for queries numbered from 0 (FlexAttention's view) when `q_offset` tokens are cached."""
    return mod if q_offset == 0 else (lambda b, h, q, kv: mod(b, h, q + q_offset, kv))


def dense(mod: MaskMod, batch: int, q_len: int, kv_len: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """`mod` evaluated for the last `q_len` of `kv_len` positions: a `[batch, 1, q_len, kv_len]` bool mask."""
    b = torch.arange(batch, device=device).view(-1, 1, 1, 1)
    q = torch.arange(kv_len - q_len, kv_len, device=device).view(1, 1, -1, 1)
    kv = torch.arange(kv_len, device=device).view(1, 1, 1, -1)
    return mod(b, torch.zeros_like(b), q, kv).expand(batch, 1, q_len, kv_len)


def extend_ids(block_ids: torch.Tensor, kv_len: int) -> torch.Tensor:
    """Block ids of the current tokens, placed last in a `kv_len` sequence: cached tokens count as text."""
    return torch.nn.functional.pad(block_ids, (kv_len - block_ids.shape[1], 0), value=-1)


def allowed_by_images(block_ids: torch.Tensor, q_len: int, kv_len: int, causal: bool) -> torch.Tensor:
    """The image rule (and causality, where the model's mask is None) as a `[B, 1, q_len, kv_len]` bool mask."""
    ids = extend_ids(block_ids, kv_len)
    rule = and_mods(causal_mod, image_block_mod(ids)) if causal else image_block_mod(ids)
    return dense(rule, ids.shape[0], q_len, kv_len, ids.device)


def restrict_bool(base: torch.Tensor | None, block_ids: torch.Tensor, q_len: int, kv_len: int) -> torch.Tensor:
    """sdpa: the model's own bool mask (causal + padding, or None for pure causal) AND the image rule."""
    allowed = allowed_by_images(block_ids, q_len, kv_len, causal=base is None)
    return allowed if base is None else base & allowed


def restrict_additive(base: torch.Tensor | None, block_ids: torch.Tensor, q_len: int, kv_len: int,
                      dtype: torch.dtype) -> torch.Tensor:
    """eager: the model's additive float mask with the pairs the image rule forbids set to the dtype minimum."""
    allowed = allowed_by_images(block_ids, q_len, kv_len, causal=base is None)
    if base is None:
        base = torch.zeros(allowed.shape, dtype=dtype, device=allowed.device)
    return base.masked_fill(~allowed, torch.finfo(base.dtype).min)


def block_mask(block_ids: torch.Tensor, padding: torch.Tensor | None, q_len: int, kv_len: int,
               compile: bool = True) -> BlockMask:
    """flex: a `BlockMask` of causal AND padding AND the image rule."""
    from torch.nn.attention.flex_attention import create_block_mask

    ids = extend_ids(block_ids, kv_len)
    mods = [causal_mod, image_block_mod(ids)] + ([padding_mod(padding[:, -kv_len:])] if padding is not None else [])
    rule = offset_mod(and_mods(*mods), kv_len - q_len)
    create = torch.compile(create_block_mask) if compile else create_block_mask
    return create(rule, ids.shape[0], None, q_len, kv_len, ids.device)
