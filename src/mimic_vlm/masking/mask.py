"""The image-block rule as a `transformers.masking_utils` mask function, materialised per backend.

The rule is `causal AND padding AND (text query OR same image)`: an image-token query sees only keys of its
own image (`packed_sequence_mask_function` over the block ids: one image = one "packed sequence"), a text
query (block id -1) keeps the model's causal + padding attention. transformers provides every primitive but
the text-query test, so that is all this module defines; the rest is composition:

- `restrict_bool`: sdpa. The model's own bool mask (or causality where it is None) AND the rule, as a
  `[B, 1, Q, KV]` bool tensor shared by all heads, built by transformers' `sdpa_mask`;
- `restrict_additive`: eager adds masks to the scores, so it gets a float mask (a bool one would be wrong);
- `block_mask`: flex. The same function as a `BlockMask`, so FlexAttention skips the tiles it empties.

Indices are absolute sequence positions: `q_offset` = number of cached tokens before the queries, and the
block ids cover only the current tokens (cached tokens count as text).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from transformers.masking_utils import (
    add_offsets_to_mask_function,
    and_masks,
    causal_mask_function,
    or_masks,
    packed_sequence_mask_function,
    padding_mask_function,
    sdpa_mask,
)

if TYPE_CHECKING:
    from torch.nn.attention.flex_attention import BlockMask

MaskFunction = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def text_query_function(block_ids: torch.Tensor) -> MaskFunction:
    """Queries that are text (block id -1) are not restricted by the image rule."""
    return lambda b, h, q, kv: block_ids[b, q] < 0


def image_rule(block_ids: torch.Tensor) -> MaskFunction:
    """An image-token query sees only keys of its own image; text queries are unrestricted."""
    return or_masks(text_query_function(block_ids), packed_sequence_mask_function(block_ids))


def image_block_function(block_ids: torch.Tensor, padding: torch.Tensor | None = None) -> MaskFunction:
    """The whole rule: causal AND (no padded key) AND the image rule."""
    parts: list[Callable[..., Any]] = [causal_mask_function, image_rule(block_ids)]
    if padding is not None:
        parts.append(padding_mask_function(padding.bool()))
    return and_masks(*parts)


def extend_ids(block_ids: torch.Tensor, kv_len: int) -> torch.Tensor:
    """Block ids of the current tokens, placed last in a `kv_len` sequence: cached tokens count as text."""
    return torch.nn.functional.pad(block_ids, (kv_len - block_ids.shape[1], 0), value=-1)


def allowed_by_images(block_ids: torch.Tensor, q_len: int, kv_len: int, causal: bool) -> torch.Tensor:
    """The image rule (and causality, where the model's mask is None) as a `[B, 1, q_len, kv_len]` bool mask."""
    ids = extend_ids(block_ids, kv_len)
    rule = and_masks(causal_mask_function, image_rule(ids)) if causal else image_rule(ids)
    mask = sdpa_mask(batch_size=ids.shape[0], q_length=q_len, kv_length=kv_len, q_offset=kv_len - q_len,
                     mask_function=rule, allow_is_causal_skip=False, device=ids.device)
    assert mask is not None  # None only where allow_is_causal_skip lets sdpa skip the mask
    return mask


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


def flex_tile(device: torch.device | str) -> int:
    """FlexAttention tile size: 64 on CPU (skips twice as many emptied pairs as 128 and ran 1.28x faster
    per masked layer at 8 x 730 tokens), 128 on GPUs (the kernels' native tile)."""
    return 64 if torch.device(device).type == "cpu" else 128


def padded_length(n: int, tile: int) -> int:
    """`n` rounded up to a whole number of tiles: flex shapes then change only in tile steps."""
    return -(-n // tile) * tile


def block_mask(block_ids: torch.Tensor, padding: torch.Tensor | None, q_len: int, kv_len: int,
               compile: bool = True, tile: int | None = None, pad_to: tuple[int, int] | None = None) -> BlockMask:
    """flex: a `BlockMask` of causal AND padding AND the image rule, with `tile`-sized blocks.

    `pad_to=(Q, KV)` builds it for q/k/v padded at the end to those lengths: the padded keys are never
    attended (their queries' rows are empty and their outputs dropped).
    """
    from torch.nn.attention.flex_attention import create_block_mask

    device = block_ids.device
    tile = tile or flex_tile(device)
    ids = extend_ids(block_ids, kv_len)
    keep = torch.ones(ids.shape, dtype=torch.bool, device=device) if padding is None else padding[:, -kv_len:].bool()
    q_size, kv_size = pad_to or (q_len, kv_len)
    if kv_size > kv_len:  # padded keys: excluded; padded ids: text
        keep = torch.nn.functional.pad(keep, (0, kv_size - kv_len), value=False)
        ids = torch.nn.functional.pad(ids, (0, kv_size - kv_len), value=-1)
    rule = add_offsets_to_mask_function(image_block_function(ids, keep), kv_len - q_len, 0)
    create = torch.compile(create_block_mask) if compile else create_block_mask
    return create(rule, ids.shape[0], None, q_size, kv_size, device, BLOCK_SIZE=tile)
