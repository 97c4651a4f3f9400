"""Where attention goes, layer by layer: own image, other images, text; and, from the question and the
answer position, target-holding versus distractor images.

The reduction happens as each layer runs. The text attention runs the eager math (softmax(QK^T * scale +
mask)): plain `eager`, or the image-block mask's eager backend when a mask is attached, so masked layers are
measured exactly as masked. A forward hook on every text attention module sums that layer's head-averaged
probabilities into `(query group, key group)` blocks the moment the attention returns them, and the
`[B, H, Q, K]` matrix is dropped with the layer's other temporaries. Memory therefore holds one layer's
attention at a time instead of all of them (`output_attentions=True`). The sums of the current forward live
in a `ContextVar` collector, so forwards never mix and nothing global is mutated.

(A wrapping registered attention function would do the same, but the mask checks that its own function is the
active one; hooking the attention modules composes with it and with any eager-style function.)

Groups (per sample, batch size 1): key group 0 = text, 1 + i = image i. Query groups: i = the vision tokens
of image i, n = the question tokens, n + 1 = the answer position (the last prompt token).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import BatchFeature, PreTrainedModel

from mimic_vlm.errors import MimicError
from mimic_vlm.evaluate.stats import bootstrap_mean
from mimic_vlm.masking.attention import NAME_PREFIX, text_attention
from mimic_vlm.masking.layout import image_block_ids, layout_of
from mimic_vlm.models.hf import HFModel
from mimic_vlm.progress import Progress, report
from mimic_vlm.schema import Sample, target_images
from mimic_vlm.store import Bench

VISION = ("own", "other", "text")
"""Shares of attention from vision tokens (sum to 1)."""


@dataclass
class BlockCollector:
    """Block sums of one forward: per layer, `(Gq, Gk)` sums of head-averaged probabilities over queries."""

    query_groups: torch.Tensor  # (B, S) long, -1 = not collected
    key_groups: torch.Tensor  # (B, S) long in [0, n_key_groups)
    n_query_groups: int
    n_key_groups: int
    sums: dict[int, torch.Tensor] = field(default_factory=dict)

    def add(self, layer: int, weights: torch.Tensor) -> None:
        """Reduce `weights` (B, H, q, kv) of the last `q` of `kv` positions to block sums, summed over rows."""
        q_len, kv_len = weights.shape[-2:]
        qg = self.query_groups[:, kv_len - q_len:kv_len]
        kg = self.key_groups[:, :kv_len]
        p = weights.float().sum(1).to(torch.float64) / weights.shape[1]  # (B, q, kv) head mean; no full copy
        per_query = p @ torch.nn.functional.one_hot(kg, self.n_key_groups).to(p.dtype)  # (B, q, Gk)
        rows = torch.nn.functional.one_hot(qg.clamp(min=0), self.n_query_groups).to(p.dtype) * (qg >= 0)[..., None]
        block = rows.transpose(1, 2) @ per_query  # (B, Gq, Gk)
        self.sums[layer] = self.sums[layer] + block if layer in self.sums else block

    def counts(self) -> torch.Tensor:
        """Number of query tokens in each query group, (B, Gq)."""
        qg = self.query_groups
        return torch.stack([(qg == g).sum(-1) for g in range(self.n_query_groups)], -1).to(torch.float64)

    def stacked(self) -> torch.Tensor:
        """(layers, B, Gq, Gk) in layer order."""
        return torch.stack([self.sums[k] for k in sorted(self.sums)])


_COLLECTOR: contextvars.ContextVar[BlockCollector | None] = contextvars.ContextVar("mimic_probe", default=None)


@contextlib.contextmanager
def collecting(collector: BlockCollector) -> Iterator[BlockCollector]:
    """Forwards inside the block report their attention block sums to `collector`."""
    token = _COLLECTOR.set(collector)
    try:
        yield collector
    finally:
        _COLLECTOR.reset(token)


STATE_ATTR = "_mimic_attention_probe"


class AttentionProbe:
    """Attach to a transformers VLM so forwards inside `collecting(...)` record attention block sums.

    A forward hook on every text attention module (the modules with a `layer_idx`; vision towers have
    none) reduces the probabilities the attention returns as soon as that layer has run. The text attention
    must be one that returns them: plain `sdpa` is switched to `eager` (same math) while attached, and an
    image-block mask must use its `eager` backend, so masked layers are measured exactly as masked.
    """

    def attach(self, model: PreTrainedModel) -> PreTrainedModel:
        if getattr(model, STATE_ATTR, None) is not None:
            return model
        text = model.config.get_text_config()
        current = text._attn_implementation or "eager"
        if current.startswith(NAME_PREFIX) and current != NAME_PREFIX + "eager":
            raise MimicError(f"attention probe: the image-block mask's {current.removeprefix(NAME_PREFIX)!r} "
                             "backend returns no attention probabilities; attach it with backend='eager'")
        switch = current != "eager" and not current.startswith(NAME_PREFIX)
        if switch:
            model.set_attn_implementation(text_attention(model, "eager"))
        handles = [m.register_forward_hook(_reduce) for m in model.modules()
                   if isinstance(getattr(m, "layer_idx", None), int)]
        setattr(model, STATE_ATTR, (handles, current if switch else None))
        return model

    def detach(self, model: PreTrainedModel) -> PreTrainedModel:
        state = getattr(model, STATE_ATTR, None)
        if state is not None:
            handles, original = state
            for h in handles:
                h.remove()
            if original is not None:
                model.set_attn_implementation(text_attention(model, original))
            delattr(model, STATE_ATTR)
        return model


def _reduce(module: torch.nn.Module, args: Any, output: Any) -> None:
    """Forward hook of a text attention module: hand its probabilities to the current collector, if any."""
    collector = _COLLECTOR.get()
    if collector is None:
        return
    weights = output[1] if isinstance(output, tuple) and len(output) > 1 else None
    if weights is None:
        raise MimicError(f"attention probe: {type(module).__name__} returned no attention probabilities "
                         "(the text attention must be eager)")
    collector.add(module.layer_idx, weights)  # type: ignore[arg-type]  # an int attribute of the attention module


# ---------------------------------------------------------------- groups (pure)

def token_groups(block_ids: torch.Tensor, question: slice, n_images: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(query groups, key groups) of one row of image block ids (S,): see the module docstring."""
    keys = block_ids + 1
    queries = block_ids.clone()
    queries[question] = n_images
    queries[-1] = n_images + 1
    return queries, keys


def find_span(haystack: Sequence[int], needle: Sequence[int]) -> slice | None:
    """The last occurrence of `needle` in `haystack` (tokenisation at the edges may differ: trimmed retries)."""
    for trim in range(0, min(3, len(needle) // 2 + 1)):
        core = list(needle[trim:len(needle) - trim])
        if not core:
            break
        n = len(core)
        for start in range(len(haystack) - n, -1, -1):
            if list(haystack[start:start + n]) == core:
                return slice(start, start + n)
    return None


def sample_shares(sums: np.ndarray, counts: np.ndarray, is_target: np.ndarray | None) -> dict[str, np.ndarray]:
    """Per layer shares of one sample from block sums (L, Gq, Gk) and query counts (Gq,).

    Vision shares average over all vision tokens of the sample; readout shares over the group's tokens.
    Target splits are NaN when the sample has no per-image ground truth.
    """
    n = sums.shape[2] - 1
    vis = sums[:, :n]  # (L, n, Gk)
    total = counts[:n].sum()
    own = np.einsum("lii->l", vis[:, :, 1:])
    text = vis[:, :, 0].sum(1)
    out = {f"vision.{k}": _ratio(v, total)
           for k, v in zip(VISION, (own, vis[:, :, 1:].sum((1, 2)) - own, text), strict=True)}
    for name, g in (("question", n), ("answer", n + 1)):
        row = _ratio(sums[:, g], counts[g])  # (L, Gk)
        out[f"{name}.text"] = row[:, 0]
        targets = np.zeros(n, bool) if is_target is None else is_target
        t, d = row[:, 1:][:, targets].sum(1), row[:, 1:][:, ~targets].sum(1)
        unknown = np.nan if is_target is None else 1.0  # no per-image truth: no split
        out[f"{name}.target"], out[f"{name}.distractor"] = t * unknown, d * unknown
        out[f"{name}.per_target_image"] = _ratio(t, targets.sum()) * unknown
        out[f"{name}.per_distractor_image"] = _ratio(d, (~targets).sum()) * unknown
    return out


def _ratio(x: np.ndarray, n: float) -> np.ndarray:
    """x / n, or NaN where there is nothing to average over (no such tokens or images)."""
    return x / n if n else np.full(x.shape, np.nan)


def summarize(per_sample: list[dict[str, np.ndarray]], n_boot: int = 1000, seed: int = 0) -> list[dict[str, Any]]:
    """Per layer: every share's mean over samples with its bootstrap interval."""
    keys = list(per_sample[0])
    layers = len(per_sample[0][keys[0]])
    table = {k: np.stack([s[k] for s in per_sample]) for k in keys}  # (samples, layers)
    return [{"layer": layer, **{k: bootstrap_mean(table[k][:, layer], n_boot, seed).to_dict() for k in keys}}
            for layer in range(layers)]


# ---------------------------------------------------------------- running a model over a bench

def probe_sample(model: PreTrainedModel, inputs: dict[str, Any], question_ids: Sequence[int]) -> BlockCollector:
    """One forward of one sample (batch size 1) with the probe attached; returns its collector."""
    ids = inputs["input_ids"]
    if ids.shape[0] != 1:
        raise MimicError("attention probe: one sample per forward")
    blocks = image_block_ids(ids, model)[0]
    if (blocks < 0).all():  # fewer than two images: the layout leaves them unmarked, the probe still splits
        blocks = torch.where(ids[0] == layout_of(model).image_token_id, 0, -1)
    n_images = int(blocks.max()) + 1
    span = find_span(ids[0].tolist(), question_ids) or slice(0, 0)
    queries, keys = token_groups(blocks, span, n_images)
    collector = BlockCollector(queries[None], keys[None], n_images + 2, n_images + 1)
    with torch.inference_mode(), collecting(collector):
        model(**inputs)
    return collector


def encode(hf: HFModel, sample: Sample, image_paths: Sequence[Path]) -> dict[str, Any]:
    """The exact prompt the evaluation sends (the HF wrapper's chat messages, task prompt), as tensors."""
    from mimic_vlm.evaluate.tasks import get_task
    from mimic_vlm.models.base import Request

    spec = get_task(sample.task)
    request = Request(id=sample.id, images=tuple(image_paths), text=spec.prompt(sample),
                      max_new_tokens=spec.max_new_tokens, sample=sample.to_dict())
    inputs: BatchFeature = hf.processor.apply_chat_template(  # type: ignore[assignment]  # a str only untokenized
        [hf.conversation(request)], add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt")
    return dict(inputs.to(hf.model.device, hf.model.dtype))


def probe_bench(hf: HFModel, bench: Bench, *, limit: int | None = None, n_boot: int = 1000,
                progress: Progress | None = None, ids: list[str] | None = None,
                keep: bool = False) -> dict[str, Any]:
    """Attention shares per layer over (the first `limit`, or the `ids`) samples of `bench`, for an `HFModel`;
    `keep` adds every sample's shares by layer (`"per_sample": {share: [[layer values] per sample]}`),
    for analyses that pair layers within a sample (the study's slope over depth)."""
    chosen = bench.samples if ids is None else [s for s in bench.samples if s.id in set(ids)]
    samples = chosen[:limit] if limit else chosen
    if not samples:
        raise MimicError(f"{bench.root}: no samples to probe")
    probe = AttentionProbe()
    probe.attach(hf.model)
    per_sample = []
    try:
        for sample in samples:
            inputs = encode(hf, sample, bench.image_paths(sample))
            question = hf.tokenizer(sample.question, add_special_tokens=False)["input_ids"]
            collector = probe_sample(hf.model, inputs, question)
            targets = target_images(sample, bench.vocabulary)
            if targets is not None and len(targets) != collector.n_key_groups - 1:
                raise MimicError(f"sample {sample.id!r}: {len(targets)} images but {collector.n_key_groups - 1} "
                                 "image blocks in the prompt")
            per_sample.append(sample_shares(collector.stacked()[:, 0].numpy(), collector.counts()[0].numpy(),
                                            None if targets is None else np.array(targets)))
            report(progress, "probing attention", len(per_sample), len(samples))
    finally:
        probe.detach(hf.model)
    result = {"model": hf.name, "bench": str(bench.root), "samples": len(samples),
              "mask": hf.describe().get("mask"), "layers": summarize(per_sample, n_boot)}
    if keep:
        result["per_sample"] = {k: [s[k].tolist() for s in per_sample] for k in per_sample[0]}
        result["ids"] = [s.id for s in samples]
    return result
