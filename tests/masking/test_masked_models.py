"""The mask on real tiny models of every family: no leak, exact layers, bit-identical when off, generate.

Every proof runs on each exact dense-or-split backend (`EXACT`): the default `auto`, `blocks` and `sdpa`.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from mimic_vlm.errors import MimicError
from mimic_vlm.masking import ImageBlockMask, ImageBlocks, image_block_ids
from mimic_vlm.models.tiny import FAMILIES, build

EXACT = ("auto", "blocks", "sdpa")  # backends with a backward pass everywhere
SEQ_KEYS = ("input_ids", "attention_mask", "mm_token_type_ids")  # (B, S) inputs that grow with decoding


def image(seed: int) -> Image.Image:
    return Image.fromarray(np.random.RandomState(seed).randint(0, 255, (224, 224, 3), dtype=np.uint8))


def inputs(processor, rows: list[list[int]], side: str = "left") -> dict:
    """One chat per row; each row lists the seeds of its images."""
    processor.tokenizer.padding_side = side
    msgs = [[{"role": "user", "content": [{"type": "text", "text": "Look: "}]
              + [{"type": "image", "image": image(s)} for s in seeds] + [{"type": "text", "text": "Which?"}]}]
            for seeds in rows]
    return processor.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True, return_dict=True,
                                         return_tensors="pt", processor_kwargs={"padding": True})


def hidden(model, batch: dict) -> tuple[torch.Tensor, ...]:
    with torch.no_grad():
        return model(**batch, output_hidden_states=True).hidden_states


@pytest.mark.parametrize("backend", EXACT)
@pytest.mark.parametrize("family", FAMILIES)
def test_no_leak_between_images(family: str, backend: str) -> None:
    model, proc = build(family)
    a, b = inputs(proc, [[0, 1, 2]]), inputs(proc, [[7, 1, 2]])  # image 0 replaced
    others = image_block_ids(a["input_ids"], model)[0] >= 1
    plain = max((x[0, others] - y[0, others]).abs().max() for x, y in zip(hidden(model, a), hidden(model, b), strict=True))
    ImageBlockMask("all", backend).attach(model)
    ha, hb = hidden(model, a), hidden(model, b)
    assert plain > 0
    assert all(torch.equal(x[0, others], y[0, others]) for x, y in zip(ha, hb, strict=True))
    assert not torch.equal(ha[-1][0, -1], hb[-1][0, -1])  # the question still sees every image


@pytest.mark.parametrize("family", FAMILIES)
def test_probabilities_zero_exactly_in_masked_layers(family: str) -> None:
    model, proc = build(family, attn_implementation="eager")
    batch = inputs(proc, [[0, 1, 2]])
    ids = image_block_ids(batch["input_ids"], model)[0]
    ImageBlockMask("2-3", backend="eager").attach(model)
    with torch.no_grad():
        attentions = model(**batch, output_attentions=True).attentions
    assert len(attentions) == 4
    for layer, probs in enumerate(attentions):
        outside = torch.stack([probs[0][:, ids == k][:, :, ids != k].sum(-1) for k in (1, 2)])
        assert (outside == 0).all() if layer >= 2 else (outside > 0).all(), layer


@pytest.mark.parametrize("backend", EXACT)
@pytest.mark.parametrize("family", FAMILIES)
def test_detached_and_imageless_inputs_are_bit_identical(family: str, backend: str) -> None:
    model, proc = build(family)
    images, single, text = inputs(proc, [[0, 1, 2]]), inputs(proc, [[3]]), inputs(proc, [[]])
    before = [hidden(model, x) for x in (images, single, text)]
    mask = ImageBlockMask("1-2", backend)
    mask.attach(model)
    assert mask.attach(model) is model  # idempotent
    masked = hidden(model, images)
    assert not torch.equal(masked[-1], before[0][-1])
    assert all(map(torch.equal, hidden(model, single), before[1]))
    assert all(map(torch.equal, hidden(model, text), before[2]))
    mask.detach(model)
    assert all(map(torch.equal, hidden(model, images), before[0]))
    assert model.config.get_text_config()._attn_implementation == "sdpa"


def greedy_by_forwards(model, batch: dict, steps: int) -> torch.Tensor:
    batch = dict(batch)
    for _ in range(steps):
        with torch.no_grad():
            nxt = model(**batch).logits[:, -1].argmax(-1, keepdim=True)
        fill = {"input_ids": nxt, "attention_mask": torch.ones_like(nxt), "mm_token_type_ids": torch.zeros_like(nxt)}
        batch |= {k: torch.cat([batch[k], fill[k]], 1) for k in SEQ_KEYS if k in batch}
    return batch["input_ids"]


@pytest.mark.parametrize("backend", EXACT)
@pytest.mark.parametrize("family", FAMILIES)
def test_generate_equals_greedy_masked_forwards(family: str, backend: str) -> None:
    model, proc = build(family)
    batch = inputs(proc, [[0, 1, 2], [4, 5]], side="left")
    ImageBlockMask("1-3", backend).attach(model)
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=4, do_sample=False)
    assert torch.equal(out, greedy_by_forwards(model, batch, 4))


@pytest.mark.parametrize("backend", EXACT)
@pytest.mark.parametrize("side", ["left", "right"])
def test_padded_batch_equals_rows_alone(side: str, backend: str) -> None:
    model, proc = build("llava_onevision")
    ImageBlockMask("all", backend).attach(model)
    rows = [[0, 1, 2], [4, 5], [6]]
    batch = inputs(proc, rows, side=side)
    with torch.no_grad():
        logits = model(**batch).logits
        for r, seeds in enumerate(rows):
            alone = model(**inputs(proc, [seeds])).logits[0]
            real = batch["attention_mask"][r].bool()
            torch.testing.assert_close(logits[r, real], alone, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("family", FAMILIES)
def test_blocks_equals_sdpa_and_changes_the_output(family: str) -> None:
    model, proc = build(family)
    batch = inputs(proc, [[0, 1, 2], [4, 5], [3]], side="left")
    real = batch["attention_mask"].bool()
    with torch.no_grad():
        plain = model(**batch).logits
        ImageBlockMask("1-3", backend="sdpa").attach(model)
        sdpa = model(**batch).logits
        ImageBlockMask("1-3", backend="blocks").attach(model)
        split = model(**batch).logits
    torch.testing.assert_close(split[real], sdpa[real], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(split[0], plain[0], atol=1e-3)  # the 3-image row is masked
    torch.testing.assert_close(split[2], plain[2], atol=1e-5, rtol=1e-5)  # a single image is not


def test_flex_equals_sdpa_on_padded_batches_of_new_lengths() -> None:
    """Batched, padded evaluation: each batch of a new length compiles a kernel for its tile-rounded shape
    (the second one used to recompile dynamically and fail on CPU: issue 12). LLaVA-OV-0.5B's head counts
    (14 heads, 2 kv heads: not powers of two), the shape of the reported crash."""
    model, proc = build("qwen2_vl", num_layers=2, hidden_size=14 * 16, num_attention_heads=14, num_key_value_heads=2)
    for rows in ([[0, 1, 2], [4, 5]], [[0, 1], [4, 5, 6, 7], [3]]):
        batch = inputs(proc, rows, side="left")
        real = batch["attention_mask"].bool()
        with torch.no_grad():
            ImageBlockMask("1", backend="sdpa").attach(model)
            sdpa = model(**batch).logits
            ImageBlockMask("1", backend="flex").attach(model)
            flex = model(**batch).logits
        torch.testing.assert_close(flex[real], sdpa[real], atol=1e-4, rtol=1e-4)


def test_flex_refuses_a_cpu_backward() -> None:
    model, proc = build("qwen2_vl", num_layers=2)
    ImageBlockMask("1", backend="flex").attach(model)
    model.train()
    with pytest.raises(MimicError, match="no backward on CPU"):
        model(**inputs(proc, [[0, 1, 2]]))


def lora_grads(checkpointing: bool, backend: str | None = "sdpa") -> dict[str, torch.Tensor]:
    """LoRA gradients of one masked (or unmasked: backend None) training step on a padded batch."""
    from peft import LoraConfig, get_peft_model

    model, proc = build("qwen2_vl")
    model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=r".*language_model.*\.(q|v)_proj",
                                             init_lora_weights=False))
    mask = ImageBlockMask("1-3", backend or "sdpa")
    if backend:
        assert mask.attach(model) is model
    model.train()
    if checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    batch = inputs(proc, [[0, 1, 2], [4, 5]], side="right")
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    model(**batch, labels=labels).loss.backward()
    mask.detach(model)
    assert model.get_base_model().config.get_text_config()._attn_implementation == "sdpa"
    return {n: p.grad for n, p in model.named_parameters() if p.requires_grad}


def test_lora_gradient_checkpointing_matches_plain_backward() -> None:
    plain, unmasked = lora_grads(False), lora_grads(True, backend=None)
    assert plain
    for backend in EXACT:
        checkpointed = lora_grads(True, backend)
        assert plain.keys() == checkpointed.keys()
        for name, g in plain.items():
            torch.testing.assert_close(checkpointed[name], g, atol=1e-6, rtol=1e-5, msg=f"{backend} {name}")
    assert any(not torch.allclose(unmasked[name], g) for name, g in plain.items())


def test_flash_attention_refused() -> None:
    with pytest.raises(MimicError, match="flash-attention kernels ignore custom masks"):
        ImageBlockMask("all", backend="flash_attention_2")
    model, proc = build("internvl")
    ImageBlockMask("all").attach(model)
    model.set_attn_implementation({"text_config": "eager"})
    with pytest.raises(MimicError, match="text attention was changed to 'eager'"):
        model(**inputs(proc, [[0, 1]]))


@pytest.mark.parametrize("backend", EXACT)
def test_mask_built_once_per_forward_and_shared(backend: str) -> None:
    model, proc = build("smolvlm")
    batch = inputs(proc, [[0, 1, 2], [4, 5]])
    ImageBlockMask("0-3", backend).attach(model)
    with torch.no_grad():
        auto = model(**batch).logits
        blocks = ImageBlocks(image_block_ids(batch["input_ids"], model), batch["attention_mask"], frozenset(range(4)))
        explicit = model(**batch, image_blocks=blocks).logits  # an explicit carrier is used as given
    assert torch.equal(auto, explicit)
    assert blocks.builds == 1 and len(blocks._built) == 1  # one mask (or grouping) for the 4 masked layers
    if backend == "sdpa":
        ((_, built),) = blocks._built.values()
        n = batch["input_ids"].shape[1]
        assert built.shape == (2, 1, n, n) and built.dtype == torch.bool


@pytest.mark.parametrize("backend", EXACT)
def test_checkpointed_training_step_builds_once(backend: str) -> None:
    model, proc = build("qwen2_vl")
    ImageBlockMask("all", backend).attach(model)
    model.train()
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    batch = inputs(proc, [[0, 1, 2], [4, 5]], side="right")
    blocks = ImageBlocks(image_block_ids(batch["input_ids"], model), batch["attention_mask"], frozenset(range(4)))
    model(**batch, image_blocks=blocks, labels=batch["input_ids"]).loss.backward()
    assert blocks.builds == 1  # 4 masked layers, forward and the checkpoint recompute
