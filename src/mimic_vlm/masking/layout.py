"""Where the images are: per-token image indices recovered from `input_ids` alone, for each VLM family.

The mask must work with the model's own processor output and with `generate`, so it cannot rely on extra
inputs: every family marks image tokens with one placeholder id, and the few ambiguities are resolved from the
sequence itself:

- Qwen2-VL / Qwen2.5-VL (`<|vision_start|><|image_pad|>xN<|vision_end|>`) and InternVL
  (`<img><IMG_CONTEXT>xN</img>`): one run of placeholders per image.
- LLaVA-OneVision: one run of `num_patches + 1` placeholders per image in multi-image prompts (the +1 is the
  image-newline feature; 730 for the real 0.5B / 7B). Runs of images with no text between them touch, so a run
  whose length is a multiple of that count is split into images.
- Idefics3 / SmolVLM: an image is several runs, its crops then its global view; every image ends with the run
  after `<global-img>`. That marker is the token before the last run of the row, so no tokenizer is needed.

Only the placeholder tokens belong to an image: framing tokens (`<|vision_start|>`, `<img>`, `<row_1_col_1>`,
`<fake_token_around_image>`) count as text, as in the official MIMIC mask. Rows with fewer than two images
are returned as all -1 (the paper leaves single-image and text-only samples unmasked).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from mimic_vlm.errors import MimicError


@dataclass(frozen=True)
class ImageLayout:
    """How one family lays out image tokens: the placeholder id, plus the family's run-grouping rule."""

    image_token_id: int
    tokens_per_image: int | None = None  # LLaVA-OV: split touching runs into images of this length
    global_view_ends_image: bool = False  # Idefics3 / SmolVLM: crops + global view = one image


def layout_of(model_or_config: Any) -> ImageLayout:
    """The `ImageLayout` of a transformers VLM (or its config)."""
    config = getattr(model_or_config, "config", model_or_config)
    kind = getattr(config, "model_type", "?")
    token = getattr(config, "image_token_id", None)
    if token is None:
        token = getattr(config, "image_token_index", None)
    if token is None:
        raise MimicError(f"{kind} config: no image_token_id, so image tokens cannot be found in input_ids")
    if kind == "llava_onevision":
        vision = config.vision_config
        return ImageLayout(token, tokens_per_image=(vision.image_size // vision.patch_size) ** 2 + 1)
    return ImageLayout(token, global_view_ends_image=kind in ("idefics3", "smolvlm"))


def image_block_ids(input_ids: torch.Tensor, model_or_config: Any) -> torch.Tensor:
    """Per token of `input_ids` (B, S): the index of its image within the row, or -1 for text.

    Rows with fewer than two images are all -1: there is nothing to isolate.
    """
    layout = layout_of(model_or_config)
    return torch.stack([row_block_ids(row, layout) for row in input_ids.view(-1, input_ids.shape[-1])])


def row_block_ids(row: torch.Tensor, layout: ImageLayout) -> torch.Tensor:
    """`image_block_ids` of one row (S,)."""
    out = torch.full_like(row, -1)
    pos = (row == layout.image_token_id).nonzero().flatten()
    if pos.numel() == 0:
        return out
    new_run = torch.ones_like(pos, dtype=torch.bool)
    new_run[1:] = pos[1:] != pos[:-1] + 1
    run = torch.cumsum(new_run, 0) - 1
    if layout.tokens_per_image:
        starts = pos[new_run]
        offset = pos - starts[run]
        divisible = torch.bincount(run)[run] % layout.tokens_per_image == 0
        new_image = new_run | (divisible & (offset % layout.tokens_per_image == 0))
        block = torch.cumsum(new_image, 0) - 1
    elif layout.global_view_ends_image:
        marker = row[(pos[new_run] - 1).clamp(min=0)]  # the token right before each run
        ends = (marker == marker[-1]).long()  # the last run of a row is always a global view
        block = (torch.cumsum(ends, 0) - ends)[run]
    else:
        block = run
    if block[-1] < 1:
        return out
    out[pos] = block
    return out
