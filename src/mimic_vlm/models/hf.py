"""Any transformers image-text-to-text model behind the `Model` protocol, batched without changing answers.

Batched greedy decoding with LEFT padding gives token-for-token the outputs of batch size 1 (tested on the
tiny models of several families, with different image counts per row): lmms-eval and VLMEvalKit default to
batch size 1 because their batching changed scores. Decoding is a clean `GenerationConfig` (greedy, no
repetition penalty or sampling settings inherited from the checkpoint), so a run is the official protocol.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import BatchFeature, GenerationConfig, PreTrainedModel, ProcessorMixin

from mimic_vlm.images import open_rgb
from mimic_vlm.masking import ImageBlockMask
from mimic_vlm.models.base import Generation, Request, layout
from mimic_vlm.models.load import load_vlm
from mimic_vlm.models.processors import set_image_size
from mimic_vlm.models.trained import trained_resolution


class HFModel:
    """A loaded transformers VLM + processor. `max_batch_size` is the user's `--batch-size`."""

    def __init__(self, model: PreTrainedModel, processor: ProcessorMixin, *, name: str, max_batch_size: int = 8,
                 max_pixels: int | None = None, image_size: int | None = None,
                 settings: dict[str, Any] | None = None, max_batch_tokens: int | None = None) -> None:
        self.model, self.processor, self.name = model.eval(), processor, name
        self.max_batch_size, self.max_pixels, self.image_size = max_batch_size, max_pixels, image_size
        self.max_batch_tokens = max_batch_tokens
        """A budget of padded tokens (prompt, images included, + new tokens) per forward: long samples run
        alone, short ones fill the batch (`token_batches`); None: `max_batch_size` rows."""
        set_image_size(processor, image_size)
        self.settings = settings or {}
        self.tokenizer = processor.tokenizer
        self.tokenizer.padding_side = "left"  # right padding would put pads between the prompt and the answer
        if self.tokenizer.pad_token is None:  # some checkpoints ship none; batching needs one
            self.tokenizer.pad_token = self.tokenizer.eos_token
        gen = model.generation_config
        self.eos_ids = set(_as_list(gen.eos_token_id) or _as_list(self.tokenizer.eos_token_id))
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else gen.pad_token_id
        self.decoding = {"do_sample": False, "num_beams": 1, "eos_token_id": sorted(self.eos_ids),
                         "pad_token_id": pad, "bos_token_id": gen.bos_token_id}

    def describe(self) -> dict[str, Any]:
        """`runtime` (the device) does not change answers: a run may resume on another machine."""
        return {"kind": "hf", "model": self.name, "dtype": str(self.model.dtype).removeprefix("torch."),
                "max_pixels": self.max_pixels, "decoding": "greedy", **self.settings,
                **({"image_size": self.image_size} if self.image_size is not None else {}),  # old runs resume
                "runtime": {"device": str(self.model.device),
                            **({"max_batch_tokens": self.max_batch_tokens} if self.max_batch_tokens else {})}}

    def conversation(self, request: Request) -> list[dict[str, Any]]:
        """Chat messages: images first then the text (the official protocol), or interleaved at `<image>`."""
        images = [open_rgb(p, self.max_pixels) for p in request.images]
        content = [{"type": "text", "text": part} if isinstance(part, str) else {"type": "image", "image": images[part]}
                   for part in layout(request.text, len(images), f"sample {request.id!r}")]
        messages = [{"role": "user", "content": content}]
        if request.system:
            messages.insert(0, {"role": "system", "content": [{"type": "text", "text": request.system}]})
        return messages

    def generate(self, requests: list[Request]) -> list[Generation]:
        """Answers in order: `max_batch_size` rows a forward, or groups that fit `max_batch_tokens`."""
        if self.max_batch_tokens is None or len(requests) < 2:
            return self.generate_batch(requests)
        costs = [self.prompt_length(r) + r.max_new_tokens for r in requests]
        return [g for group in token_batches(costs, self.max_batch_tokens)
                for g in self.generate_batch([requests[i] for i in group])]

    def prompt_length(self, request: Request) -> int:
        """Tokens of one request's prompt, its image tokens included (the processor decides them)."""
        inputs = self.processor.apply_chat_template([self.conversation(request)], add_generation_prompt=True,
                                                    tokenize=True, return_dict=True)
        return len(inputs["input_ids"][0])  # type: ignore[index]

    @torch.inference_mode()
    def generate_batch(self, requests: list[Request]) -> list[Generation]:
        inputs: BatchFeature = self.processor.apply_chat_template(  # type: ignore[assignment]  # str if untokenized
            [self.conversation(r) for r in requests], add_generation_prompt=True, tokenize=True,
            return_dict=True, return_tensors="pt", processor_kwargs={"padding": True})
        inputs = inputs.to(self.model.device, self.model.dtype)
        longest = max(r.max_new_tokens for r in requests)  # shorter rows are cut: greedy prefixes agree
        config = GenerationConfig(**self.decoding, max_new_tokens=longest)
        out = self.model.generate(**inputs, generation_config=config)
        prompt_len = inputs["input_ids"].shape[1]
        image_id = getattr(self.model.config, "image_token_id", None)
        if image_id is None:
            image_id = getattr(self.model.config, "image_token_index", None)
        results = []
        for row, request in enumerate(requests):
            tokens = self.cut(out[row, prompt_len:].tolist(), request.max_new_tokens)
            ended = bool(tokens) and tokens[-1] in self.eos_ids
            results.append(Generation(
                text=self.tokenizer.decode(tokens, skip_special_tokens=True).strip(),
                prompt_tokens=int(inputs["attention_mask"][row].sum()), output_tokens=len(tokens),
                vision_tokens=None if image_id is None else int((inputs["input_ids"][row] == image_id).sum()),
                reasoning_tokens=self.thinking(tokens, request.reasoning_tags),
                finish_reason="length" if not ended and len(tokens) >= request.max_new_tokens else "stop"))
        return results

    def thinking(self, tokens: list[int], tags: tuple[str, str] | None) -> int | None:
        """The output tokens spent in the thinking block (`thinking_tokens`); None without tags or block."""
        if tags is None:
            return None

        def decode(k: int) -> str:
            return str(self.tokenizer.decode(tokens[:k], skip_special_tokens=True))

        return thinking_tokens(len(tokens), decode, tags)

    def cut(self, tokens: list[int], limit: int) -> list[int]:
        """The tokens batch size 1 would have produced: up to `limit`, through the first end-of-sequence."""
        tokens = tokens[:limit]
        end = next((i for i, t in enumerate(tokens) if t in self.eos_ids), None)
        return tokens if end is None else tokens[:end + 1]


def token_batches(costs: Sequence[int], budget: int) -> list[list[int]]:
    """Consecutive groups of indices whose padded cost (rows x the largest cost in the group) stays within
    `budget`; a request costlier than the budget alone makes a group of one (it has to run somewhere)."""
    groups: list[list[int]] = []
    widest = 0
    for i, cost in enumerate(costs):
        if groups and (len(groups[-1]) + 1) * max(widest, cost) <= budget:
            groups[-1].append(i)
            widest = max(widest, cost)
        else:
            groups.append([i])
            widest = cost
    return groups


def thinking_tokens(n: int, decode: Callable[[int], str], tags: tuple[str, str]) -> int | None:
    """How many of an output's `n` tokens lie in its thinking block(s): through the last close tag (the
    shortest prefix whose text holds every close tag, found by bisection), all `n` when a block never closed,
    None when the output has no block."""
    open_tag, close_tag = (t.lower() for t in tags)
    text = decode(n).lower()
    last = text.rfind(close_tag)
    if text.find(open_tag, 0 if last < 0 else last + len(close_tag)) >= 0:
        return n
    if last < 0:
        return None
    closes, lo, hi = text.count(close_tag), 1, n
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if decode(mid).lower().count(close_tag) >= closes else (mid + 1, hi)
    return lo


def _as_list(ids: int | list[int] | None) -> list[int]:
    return [] if ids is None else [ids] if isinstance(ids, int) else list(ids)


def load_hf(path: str, *, dtype: str = "auto", device: str | None = None, device_map: str | None = None,
            attn_implementation: str | None = None, max_pixels: int | None = None, image_size: int | None = None,
            adapter: str | None = None, mask: ImageBlockMask | None = None, batch_size: int = 8,
            max_batch_tokens: int | None = None) -> HFModel:
    """`load_vlm("hf:" + path, ...)` behind the `Model` protocol (see models/load.py), at the image
    resolution given, else the one the adapter (or a full fine-tune at `path`) was trained at."""
    max_pixels, image_size = trained_resolution(Path(adapter) if adapter else Path(path), max_pixels, image_size)
    loaded = load_vlm(f"hf:{path}", dtype=dtype, device=device, device_map=device_map,
                      attn_implementation=attn_implementation, adapter=adapter, mask=mask)
    return HFModel(loaded.model, loaded.processor, name=path, max_batch_size=batch_size, max_pixels=max_pixels,
                   image_size=image_size, settings=loaded.settings, max_batch_tokens=max_batch_tokens)
