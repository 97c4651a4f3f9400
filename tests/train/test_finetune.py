"""What each regime trains, per family, and the mask surviving PEFT + gradient checkpointing."""

from __future__ import annotations

import re

import pytest
import torch

from mimic_vlm.masking import ImageBlockMask
from mimic_vlm.models import tiny
from mimic_vlm.train.data import ChatCollator, load_data
from mimic_vlm.train.finetune import LoraSettings, assert_language_model_only, find_parts, prepare

LM_LINEARS = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj",
              "mlp.up_proj", "mlp.down_proj"}


@pytest.mark.parametrize("family", tiny.FAMILIES)
def test_lora_only_on_language_model_linears(family):
    model, _ = tiny.build(family)
    parts = find_parts(model)
    peft = prepare(model, "lora", lora=LoraSettings(r=4, alpha=8), train_projector=True)
    wrapped = {n.removeprefix("base_model.model.") for n, m in peft.named_modules() if hasattr(m, "lora_A")}
    layers = peft.get_base_model().get_submodule(parts.language_model).layers
    expected = {f"{parts.language_model}.layers.{i}.{s}" for i in range(len(layers)) for s in LM_LINEARS}
    assert wrapped == expected
    trainable = {n for n, p in peft.named_parameters() if p.requires_grad}
    assert all(".lora_" in n or ".modules_to_save." in n for n in trainable)
    saved = {re.sub(r"\.modules_to_save\.default\..*", "", n.removeprefix("base_model.model."))
             for n in trainable if ".modules_to_save." in n}
    assert saved == set(parts.projector)


@pytest.mark.parametrize("family", ["qwen2_5_vl", "llava_onevision"])  # vision blocks with q_proj / gate_proj
def test_vision_lora_would_be_caught(family):
    from peft import LoraConfig, get_peft_model

    model, _ = tiny.build(family)
    parts = find_parts(model)
    bad = get_peft_model(model, LoraConfig(r=2, target_modules=["q_proj", "gate_proj", "qkv"]))
    with pytest.raises(AssertionError, match="vision side"):
        assert_language_model_only(bad, parts)


@pytest.mark.parametrize("family", ["qwen2_vl", "idefics3"])
def test_full_lm_freezes_vision_and_projector(family):
    model, _ = tiny.build(family)
    parts = find_parts(model)
    prepare(model, "full-lm")
    for name, p in model.named_parameters():
        in_lm = name.startswith(parts.language_model + ".") or name.startswith("lm_head.")
        assert p.requires_grad == in_lm, name


def _lora_grads(model, batch) -> dict[str, torch.Tensor]:
    model.zero_grad()
    model(**batch).loss.backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}


def test_mask_through_peft_and_gradient_checkpointing(toy):
    """Checkpoint recomputation sees the same image blocks: masked grads with and without checkpointing agree,
    and differ from unmasked grads."""
    model, processor = tiny.build("qwen2_vl")
    model = prepare(model, "lora", lora=LoraSettings(r=4, alpha=8, dropout=0.0))
    model.train()
    batch = ChatCollator(processor)(load_data([toy["llava"]]).conversations[2:6])
    plain = _lora_grads(model, batch)
    ImageBlockMask("2-3").attach(model)
    masked = _lora_grads(model, batch)
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    checkpointed = _lora_grads(model, batch)
    assert all(torch.allclose(masked[n], checkpointed[n], atol=1e-7) for n in masked)
    assert any(not torch.allclose(masked[n], plain[n]) for n in masked)


@pytest.mark.parametrize("family", tiny.FAMILIES)
def test_masked_lora_step_on_every_family(family, toy):
    """Collator + LoRA + mask + gradient checkpointing give finite, non-zero adapter gradients everywhere."""
    model, processor = tiny.build(family)
    ImageBlockMask("second-half").attach(model)
    model = prepare(model, "lora", lora=LoraSettings(r=4, alpha=8), train_projector=True)
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.train()
    grads = _lora_grads(model, ChatCollator(processor)(load_data([toy["messages"]]).conversations[2:4]))
    assert all(torch.isfinite(g).all() for g in grads.values())
    assert any(g.abs().sum() > 0 for n, g in grads.items() if "lora_B" in n)  # A gets none while B = 0
