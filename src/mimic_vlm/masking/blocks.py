"""The `blocks` backend: the image-block rule computed exactly, as a few plain SDPA calls per masked layer.

Under the rule an image query sees only the earlier tokens of its own image, and a text query sees what the
model's mask allows. So a masked layer is:

- per image, causal attention over that image's tokens alone: the plain causal kernel, the fastest SDPA has,
  with no mask tensor. Images of equal length (all of them for LLaVA-OneVision) are stacked into one call;
- per row, the text queries (and padding) over all keys with the model's own causal + padding mask rows.

Exactly the (query, key) pairs the rule keeps are computed, without compiling anything, forward and
backward, on any device. Gathering q/k/v and scattering the outputs are index operations autograd follows.
The grouping (`plan`) depends only on the block ids and the model's mask, so it is built once per forward
and shared by every masked layer (and by a gradient-checkpointing recompute).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class Group:
    """Queries answered by one SDPA call: `rows[i]`, positions `pos[i]` (among the last `q_len` tokens).

    `mask` None: an image group, attending causally among its own positions. Otherwise a text group over all
    keys of its row with these `[n, 1, L, kv_len]` mask rows.
    """

    rows: torch.Tensor  # (n,)
    pos: torch.Tensor  # (n, L)
    mask: torch.Tensor | None


@dataclass(frozen=True)
class Plan:
    groups: tuple[Group, ...]
    order: torch.Tensor  # (B * q_len,): where each flattened (row, query) output sits in the groups' outputs


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
    groups = [_group(members, None, device) for members in images.values()]
    for members in texts.values():
        rows, pos = _stack(members, device)
        groups.append(Group(rows, pos, _text_mask(base, rows, pos, offset, kv_len)))
    flat = torch.cat([(g.rows[:, None] * q_len + g.pos).flatten() for g in groups])
    return Plan(tuple(groups), torch.argsort(flat))


def _stack(members: list[tuple[int, torch.Tensor]], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    rows = torch.tensor([b for b, _ in members], device=device)
    return rows, torch.stack([pos for _, pos in members])


def _group(members: list[tuple[int, torch.Tensor]], mask: torch.Tensor | None, device: torch.device) -> Group:
    rows, pos = _stack(members, device)
    return Group(rows, pos, mask)


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
           **kwargs) -> tuple[torch.Tensor, None]:
    """A masked layer's attention output `(B, q_len, H, D)`, as transformers' attention functions return it."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    batch, heads, q_len, _ = query.shape
    q, k, v = (x.transpose(1, 2) for x in (query, key, value))  # (B, S, heads, D): gathers by (row, position)
    offset = key.shape[2] - q_len
    outputs = []
    for g in layout.groups:
        rows = g.rows[:, None]
        qs = q[rows, g.pos].transpose(1, 2)
        if g.mask is None:
            ks, vs = (x[rows, g.pos + offset].transpose(1, 2) for x in (k, v))
        else:
            ks, vs = key[g.rows], value[g.rows]
        out, _ = sdpa_attention_forward(module, qs, ks, vs, g.mask, is_causal=g.mask is None, **kwargs)
        outputs.append(out.flatten(0, 1))  # (n * L, heads, D)
    flat = torch.cat(outputs)[layout.order]
    return flat.view(batch, q_len, heads, flat.shape[-1]), None
