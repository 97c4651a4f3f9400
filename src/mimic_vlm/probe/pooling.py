"""Fewer vision tokens, same images: 1-D average pooling of each image's tokens by a factor k.

The paper's pooling study (official `local_average`, paper.md §5) averages k consecutive vision tokens in
raster order between the projector and the language model. Here that happens without touching any model
code: the image features come from the model's own `get_image_features`, are pooled, and enter the forward
(or `generate`) as precomputed `mm_encoder_outputs`, while the prompt keeps exactly one placeholder token per
pooled feature (the first ceil(n/k) placeholders of each image stay, the rest are dropped). Other families
(Idefics3 / SmolVLM: crops separated by framing tokens) are refused.

- Every image's n tokens become ceil(n/k); the last, partial group averages only the tokens it holds (the
  official code zero-pads, which dims that one token). k = 1 is bit-identical to no pooling.
- LLaVA-OneVision: the 729 (27x27) patch tokens are pooled and the image-newline token is kept: 729+1 ->
  ceil(729/k)+1. Only the multi-image layout (one base view per image) is supported; AnyRes tiles of a
  single-image prompt are refused.
- InternVL: the tokens of all tiles of an image (tile by tile, raster within a tile) form its sequence.
- Qwen2-VL / Qwen2.5-VL multimodal rotary positions: a pooled token takes the centroid of the (t, h, w)
  positions of the tokens it averages, rounded down, and the text after the image keeps the position it had
  without pooling (the image keeps its spatial extent, only its sampling gets coarser). At k = 1 this is
  exactly the model's own `get_rope_index`. The positions are passed as explicit `position_ids` in the
  model's 4-row form (text positions first), which `generate` extends by one per new token.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import BatchFeature, PreTrainedModel
from transformers.modeling_outputs import BaseModelOutputWithPooling

from mimic_vlm.errors import MimicError
from mimic_vlm.files import check_study_folder, write_json_atomic
from mimic_vlm.models.hf import HFModel
from mimic_vlm.progress import Progress
from mimic_vlm.report.blocks import label
from mimic_vlm.schema import Sample
from mimic_vlm.store import Bench

POOLING_JSON, POOLING_PNG = "pooling.json", "pooling.png"
POOLING_FILES = ("runs", POOLING_JSON, POOLING_PNG)
"""Everything a pooling study writes into its folder."""
QWEN = ("qwen2_vl", "qwen2_5_vl")
SUPPORTED = (*QWEN, "llava_onevision", "internvl")


def pool_tokens(features: torch.Tensor, k: int) -> torch.Tensor:
    """(n, D) -> (ceil(n/k), D): the mean of each run of k consecutive rows (the last run may be shorter)."""
    n = features.shape[0]
    if k == 1:
        return features
    groups = math.ceil(n / k)
    padded = torch.nn.functional.pad(features, (0, 0, 0, groups * k - n))
    sizes = torch.full((groups,), k, dtype=features.dtype, device=features.device)
    sizes[-1] = n - (groups - 1) * k
    return padded.view(groups, k, -1).sum(1) / sizes[:, None]


def pooled_count(family: str, n: int, k: int) -> int:
    """Tokens of an image with `n` tokens after pooling by `k` (LLaVA-OV keeps its newline token)."""
    return math.ceil((n - 1) / k) + 1 if family == "llava_onevision" else math.ceil(n / k)


def keep_positions(image_positions: torch.Tensor, old: Sequence[int], new: Sequence[int]) -> torch.Tensor:
    """Of the placeholder positions (in order, image after image), the first `new[i]` of each image's `old[i]`."""
    if sum(old) != image_positions.numel():
        raise MimicError(f"pooling: {image_positions.numel()} image tokens in the prompt for features of "
                         f"{sum(old)} tokens")
    starts = [0, *torch.tensor(list(old)).cumsum(0).tolist()[:-1]]
    return torch.cat([image_positions[s:s + m] for s, m in zip(starts, new, strict=True)]) if new else image_positions


def mrope_positions(token_types: torch.Tensor, grids: Sequence[tuple[int, int, int]], k: int) -> torch.Tensor:
    """(3, S) M-RoPE positions of one unpadded pooled row: `token_types` 0 text / 1 image placeholder,
    `grids` the LLM-side (t, h, w) of each image before pooling (see the module docstring)."""
    out, pos, g = [], 0, iter(grids)
    change = torch.nonzero(token_types[1:] != token_types[:-1]).flatten().tolist()
    bounds = [0, *[c + 1 for c in change], token_types.numel()]
    for start, end in zip(bounds[:-1], bounds[1:], strict=True):
        if token_types[start] == 0:
            out.append(torch.arange(pos, pos + end - start).expand(3, -1))
            pos += end - start
            continue
        t, h, w = next(g)
        grid = torch.stack(torch.meshgrid(torch.arange(t), torch.arange(h), torch.arange(w), indexing="ij"))
        grid = grid.reshape(3, -1)
        n = grid.shape[1]
        groups = math.ceil(n / k)
        sizes = torch.full((groups,), k)
        sizes[-1] = n - (groups - 1) * k
        sums = torch.nn.functional.pad(grid, (0, groups * k - n)).view(3, groups, k).sum(-1)
        if groups != end - start:
            raise MimicError(f"pooling: an image run of {end - start} tokens for {groups} pooled features")
        out.append(torch.div(sums, sizes, rounding_mode="floor") + pos)
        pos += max(h, w)
    return torch.cat(out, dim=1)


def family_of(model: PreTrainedModel) -> str:
    family = getattr(model.config, "model_type", "?")
    if family not in SUPPORTED:
        raise MimicError(f"pooling: model type {family!r} is not supported (supported: {', '.join(SUPPORTED)})")
    return family


def prompt_image_counts(input_ids: torch.Tensor, model: PreTrainedModel) -> list[int]:
    """Placeholder tokens of each image in one prompt row (S,), in order (the masking layout's image blocks)."""
    from mimic_vlm.masking.layout import image_block_ids

    blocks = image_block_ids(input_ids[None], model)[0]
    if (blocks < 0).all():  # fewer than two images: the layout leaves them unmarked
        blocks = torch.where(input_ids == model.config.image_token_id, 0, -1)
    return torch.bincount(blocks[blocks >= 0]).tolist() if (blocks >= 0).any() else []


def image_features(model: PreTrainedModel, inputs: dict[str, Any]) -> tuple[list[torch.Tensor], set[str]]:
    """Per-image LLM-side features from the model's own `get_image_features` (split by the prompt's
    placeholder counts: tiles and crops of one image stay together), and the input keys it used."""
    encoder = model.model.get_image_features
    used = {k for k in inspect.signature(encoder).parameters if k != "kwargs" and k in inputs}
    features = encoder(**{k: inputs[k] for k in used}, return_dict=True).pooler_output
    flat = torch.cat(list(features)) if isinstance(features, tuple | list) else features.reshape(-1, features.shape[-1])
    counts = prompt_image_counts(inputs["input_ids"][0], model)
    if sum(counts) != flat.shape[0]:
        raise MimicError(f"pooling: {sum(counts)} image tokens in the prompt for {flat.shape[0]} image features")
    return list(flat.split(counts)), used


def check_poolable(model: PreTrainedModel, counts: Sequence[int], where: str) -> None:
    """LLaVA-OneVision pools only its multi-image layout (one base view + newline per image), not AnyRes."""
    if family_of(model) != "llava_onevision":
        return
    base = (model.config.vision_config.image_size // model.config.vision_config.patch_size) ** 2
    bad = [n for n in counts if n != base + 1]
    if bad:
        raise MimicError(f"{where}: a LLaVA-OneVision image of {bad[0]} tokens (AnyRes tiles of a single-image "
                         f"prompt); only the multi-image layout of {base}+1 tokens per image can be pooled")


def pool_inputs(model: PreTrainedModel, inputs: dict[str, Any], k: int) -> dict[str, Any]:
    """Model inputs (batch size 1, as the processor made them) with every image pooled by `k`."""
    family = family_of(model)
    if k < 1:
        raise MimicError(f"pooling: factor {k} must be a positive integer")
    ids = inputs["input_ids"]
    if ids.shape[0] != 1:
        raise MimicError("pooling: one sample per call")
    if "pixel_values" not in inputs:
        return dict(inputs)
    with torch.no_grad():
        features, used = image_features(model, inputs)
    old = [f.shape[0] for f in features]
    check_poolable(model, old, "pooling")
    if family == "llava_onevision":
        pooled = [torch.cat([pool_tokens(f[:-1], k), f[-1:]]) for f in features]
    else:
        pooled = [pool_tokens(f, k) for f in features]
    new = [p.shape[0] for p in pooled]
    image_token = model.config.image_token_id
    is_image = ids[0] == image_token
    keep = torch.ones_like(is_image)
    keep[is_image] = False
    keep[keep_positions(is_image.nonzero().flatten(), old, new)] = True
    out: dict[str, Any] = {key: value[:, keep] for key, value in inputs.items()
                           if key not in used and isinstance(value, torch.Tensor) and value.shape[:2] == ids.shape}
    # Qwen / LLaVA-OV concatenate a tuple of per-image features; InternVL scatters one tensor
    features_out: Any = torch.cat(pooled) if family == "internvl" else tuple(pooled)
    out["mm_encoder_outputs"] = {"image": BaseModelOutputWithPooling(pooler_output=features_out)}
    if family in QWEN:
        merge = model.config.vision_config.spatial_merge_size
        grids = [(int(t), int(h) // merge, int(w) // merge) for t, h, w in inputs["image_grid_thw"]]
        mask = out.get("attention_mask", torch.ones_like(out["input_ids"])).bool()[0]
        types = (out["input_ids"][0] == image_token).long()[mask]
        position_ids = torch.zeros(4, 1, mask.numel(), dtype=torch.long)
        position_ids[0, 0, mask] = torch.arange(int(mask.sum()))
        position_ids[1:, 0, mask] = mrope_positions(types, grids, k)
        out["position_ids"] = position_ids.to(ids.device)
    return out


class PoolingProcessor:
    """A processor whose chat-template output is already pooled by `k` (batch size 1), so the unmodified
    `HFModel` serves pooled images: everything else is delegated to the wrapped processor."""

    def __init__(self, processor: Any, model: Any, k: int) -> None:
        family_of(model)
        self.processor, self.model, self.k = processor, model, k

    def __getattr__(self, name: str) -> Any:
        return getattr(self.processor, name)

    def apply_chat_template(self, conversations: list[Any], **kwargs: Any) -> BatchFeature:
        if len(conversations) != 1:
            raise MimicError("pooling: one conversation per call (batch size 1)")
        inputs = self.processor.apply_chat_template(conversations, **kwargs).to(self.model.device, self.model.dtype)
        return BatchFeature(pool_inputs(self.model, inputs, self.k))


def pooled_model(hf: HFModel, k: int) -> HFModel:
    """`hf` (an `HFModel`) with every image pooled by `k`: a `Model` for the runner."""
    from mimic_vlm.models.hf import HFModel

    processor: Any = PoolingProcessor(hf.processor, hf.model, k)  # duck-types the processor HFModel calls
    return HFModel(hf.model, processor, name=f"{hf.name}@pool{k}",
                   max_batch_size=1, max_pixels=hf.max_pixels, image_size=hf.image_size, settings={**hf.settings, "pooling": k})


def image_token_counts(hf: HFModel, bench: Bench, samples: Sequence[Sample]) -> list[int]:
    """Unpooled image-token count of every image of `samples`, read from the processor's prompts."""
    from mimic_vlm.probe.attention import encode

    counts = []
    for s in samples:
        n = prompt_image_counts(encode(hf, s, bench.image_paths(s))["input_ids"][0], hf.model)
        check_poolable(hf.model, n, f"sample {s.id!r}")
        counts += n
    return counts


def pooling_study(hf: HFModel, bench: Bench, factors: Sequence[int], out: str | Path, *, limit: int | None = None,
                  progress: Progress | None = None, overwrite: bool = False) -> dict[str, Any]:
    """Evaluate `bench` with images pooled by each factor (one run folder per factor); pooling.json + png.
    Rerun into the same folder, it resumes; `overwrite` replaces runs made with other settings."""
    from mimic_vlm.evaluate.runner import run_eval
    from mimic_vlm.evaluate.score import headline
    from mimic_vlm.report.plots import line_plot

    family = family_of(hf.model)
    if not factors or min(factors) < 1 or len(set(factors)) != len(factors):
        raise MimicError(f"--factors {','.join(map(str, factors))}: expected distinct positive integers")
    out = Path(out)
    check_study_folder(out, POOLING_FILES, "mimic probe pooling")
    samples = bench.samples[:limit] if limit else bench.samples
    counts = image_token_counts(hf, bench, samples)
    points = []
    for k in factors:
        run_dir = out / "runs" / f"k={k}"
        scores = run_eval(bench, pooled_model(hf, k), run_dir, limit=limit, progress=progress,
                          command=["mimic", "probe", "pooling"], overwrite=overwrite)
        tokens = sum(pooled_count(family, n, k) for n in counts) / len(counts)
        points.append({"k": k, "tokens_per_image": tokens, **headline(scores), "run": str(run_dir.relative_to(out))})
    result = {"model": hf.name, "bench": str(bench.root), "family": family, "samples": len(samples),
              "factors": list(factors), "points": points}
    write_json_atomic(out / POOLING_JSON, result)
    metric = label(points[0]["metric"])
    line_plot(out / POOLING_PNG, [p["tokens_per_image"] for p in points],
              {f"{hf.name} (k = {', '.join(map(str, factors))})": points},
              xlabel="vision tokens per image", ylabel=metric, logx=True, ylim=None,
              title=f"{metric} vs vision tokens per image (1-D average pooling)")
    return result
