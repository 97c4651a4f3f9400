"""The `blocks` backend: the image-block rule computed exactly, as a few plain SDPA calls per masked layer.

Under the rule an image query sees only the earlier tokens of its own image, and a text query sees what the
model's mask allows. So a masked layer is:

- per image, causal attention over that image's tokens alone: the plain causal kernel, the fastest SDPA has,
  with no mask tensor. Images of equal length (all of them for LLaVA-OneVision) are stacked into one call;
  on CUDA in half precision, images of any lengths (Qwen2-VL at native resolution) go into one variable-length
  flash call instead (`torch.nn.attention.varlen.varlen_attn`, causal window), when torch has it;
- per row, the text queries (and padding) over all keys with the model's own causal + padding mask rows.

Exactly the (query, key) pairs the rule keeps are computed, without compiling anything, forward and
backward, on any device. Gathering q/k/v and scattering the outputs are index operations autograd follows.
The grouping (`plan`) depends only on the block ids and the model's mask, so it is built once per forward
and shared by every masked layer (and by a gradient-checkpointing recompute).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import torch
from torch import nn


@dataclass(frozen=True)
class Group:
    """Queries answered by one SDPA call: `rows[i]`, positions `pos[i]` (among the last `q_len` tokens).

    `mask` None: an image group, attending causally among its own positions. Otherwise a text group over all
    keys of its row with these `[n, 1, L, kv_len]` mask rows. `flat`: the (row, query) outputs it writes,
    as indices into the flattened `(B * q_len)` output.
    """

    rows: torch.Tensor  # (n,)
    pos: torch.Tensor  # (n, L)
    mask: torch.Tensor | None
    flat: torch.Tensor  # (n * L,)


@dataclass(frozen=True)
class Packed:
    """Every image's queries, packed for one variable-length call: image `i` is `flat[cu[i]:cu[i + 1]]`
    (indices into the flattened `(B * q_len)` queries; keys add the row's offset)."""

    flat: torch.Tensor  # (total,)
    rows: torch.Tensor  # (total,): the batch row of each packed token
    cu: torch.Tensor  # (images + 1,) int32
    longest: int


@dataclass(frozen=True)
class Plan:
    groups: tuple[Group, ...]
    packed: Packed | None = None
    """The image groups again, packed (None without images); `attend` uses it where a varlen kernel runs."""


def plan(block_ids: torch.Tensor, base: torch.Tensor | None, q_len: int, kv_len: int) -> Plan:
    """Group the queries of a masked layer: images by length, text queries by row (equal counts stacked)."""
    ids = block_ids[:, -q_len:]
    device, offset = ids.device, kv_len - q_len
    images: dict[int, list[tuple[int, torch.Tensor]]] = defaultdict(list)
    texts: dict[int, list[tuple[int, torch.Tensor]]] = defaultdict(list)
    for b, row in enumerate(ids):
        text = (row < 0).nonzero().flatten()
        if text.numel():
            texts[text.numel()].append((b, text))
        image = (row >= 0).nonzero().flatten()  # sorted by position; images are in order
        for span in torch.split(image, torch.bincount(row[image]).tolist()):
            if span.numel():
                images[span.numel()].append((b, span))
    groups = []
    for members, text in [(m, False) for m in images.values()] + [(m, True) for m in texts.values()]:
        rows = torch.tensor([b for b, _ in members], device=device)
        pos = torch.stack([p for _, p in members])
        mask = _text_mask(base, rows, pos, offset, kv_len) if text else None
        groups.append(Group(rows, pos, mask, (rows[:, None] * q_len + pos).flatten()))
    return Plan(tuple(groups), _pack([g for g in groups if g.mask is None], q_len))


def _pack(image_groups: list[Group], q_len: int) -> Packed | None:
    if not image_groups:
        return None
    flat = torch.cat([g.flat for g in image_groups])
    lengths = [g.pos.shape[1] for g in image_groups for _ in range(g.pos.shape[0])]
    cu = torch.zeros(len(lengths) + 1, dtype=torch.int32)
    cu[1:] = torch.tensor(lengths).cumsum(0)
    return Packed(flat, torch.div(flat, q_len, rounding_mode="floor"), cu.to(flat.device), max(lengths))


VarlenKernel = Callable[..., torch.Tensor]
"""`varlen_attn`'s contract: (q, k, v as (total, heads, D), cu_q, cu_k, max_q, max_k, *, scale,
window_size, enable_gqa) -> (total, heads, D)."""


def varlen_kernel(query: torch.Tensor, dropout: float) -> VarlenKernel | None:
    """torch's flash varlen kernel where it runs (CUDA, fp16/bf16, no dropout), else None."""
    if not (query.is_cuda and query.dtype in (torch.float16, torch.bfloat16) and dropout == 0.0):
        return None
    try:
        from torch.nn.attention.varlen import varlen_attn
    except ImportError:  # torch < 2.9
        return None
    return cast(VarlenKernel, varlen_attn)  # without return_aux it returns the output alone


def _text_mask(base: torch.Tensor | None, rows: torch.Tensor, pos: torch.Tensor, offset: int,
               kv_len: int) -> torch.Tensor:
    """The model's mask rows of these queries: `[n, 1, L, kv_len]` bool (causal where the model passed None)."""
    if base is None:
        kv = torch.arange(kv_len, device=pos.device)
        return (kv <= (pos + offset)[..., None])[:, None]
    if base.dtype != torch.bool:
        base = base == 0  # an additive float mask: 0 where attended
    return base[:, 0][rows[:, None], pos][:, None]


def attend(module: nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, layout: Plan,
           dropout: float = 0.0, scaling: float | None = None, varlen: VarlenKernel | None = None,
           **_) -> tuple[torch.Tensor, None]:
    """A masked layer's attention output `(B, q_len, H, D)`, as transformers' attention functions return it.

    `varlen`: a kernel with `varlen_attn`'s contract for the images; default: torch's where it runs.
    """
    batch, heads, q_len = query.shape[:3]
    q, k, v = (x.transpose(1, 2) for x in (query, key, value))  # (B, S, heads, D): gathers by (row, position)
    offset = key.shape[2] - q_len
    out = query.new_empty(batch * q_len, heads, value.shape[-1])
    kernel = (varlen or varlen_kernel(query, dropout)) if layout.packed is not None else None
    if kernel is not None and layout.packed is not None:
        _attend_packed(kernel, q, k, v, layout.packed, out, offset, scaling)
    for g in layout.groups:
        if kernel is not None and g.mask is None:
            continue  # answered by the packed call
        rows = g.rows[:, None]
        qs = _heads_first(q[rows, g.pos])
        if g.mask is None:
            ks, vs = (_heads_first(x[rows, g.pos + offset]) for x in (k, v))
        else:
            ks, vs = key[g.rows], value[g.rows]
        part = _sdpa(qs, ks, vs, g.mask, dropout, scaling)  # dropout: 0 unless training (the model decides)
        out.index_copy_(0, g.flat, part.transpose(1, 2).flatten(0, 1))  # the groups cover each query once
    return out.view(batch, q_len, heads, out.shape[-1]), None


def _attend_packed(kernel: VarlenKernel, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, packed: Packed,
                   out: torch.Tensor, offset: int, scale: float | None) -> None:
    """Every image in one causal varlen call; `q, k, v` are `(B, S, heads, D)`, `out` is `(B * q_len, heads, D)`."""
    q_len, kv_len = q.shape[1], k.shape[1]
    keys = packed.flat + packed.rows * (kv_len - q_len) + offset  # (row, pos) -> row * kv_len + pos + offset
    qs = q.reshape(-1, *q.shape[2:])[packed.flat]
    ks, vs = (x.reshape(-1, *x.shape[2:])[keys] for x in (k, v))
    part = kernel(qs, ks, vs, packed.cu, packed.cu, packed.longest, packed.longest, scale=scale,
                  window_size=(-1, 0), enable_gqa=qs.shape[1] != ks.shape[1])
    out.index_copy_(0, packed.flat, part)


def _heads_first(x: torch.Tensor) -> torch.Tensor:
    """(n, L, heads, D) -> contiguous (n, heads, L, D): CPU SDPA runs about 2x slower on a strided view."""
    return x.transpose(1, 2).contiguous()


def _sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None, dropout: float,
          scale: float | None) -> torch.Tensor:
    """One SDPA call: causal without a mask (the plain causal kernel), else with the mask rows.

    Grouped-query heads go to the kernel as they are (`enable_gqa`), except with a mask on accelerators,
    where that would fall back to the math kernel: there k/v are repeated (as transformers does).
    """
    groups = q.shape[1] // k.shape[1]
    gqa = groups > 1 and (mask is None or q.device.type == "cpu")
    if groups > 1 and not gqa:
        k, v = (x.repeat_interleave(groups, dim=1) for x in (k, v))
    return torch.nn.functional.scaled_dot_product_attention(
        q, k, v, attn_mask=mask, dropout_p=dropout, scale=scale, is_causal=mask is None and q.shape[2] > 1,
        enable_gqa=gqa)
