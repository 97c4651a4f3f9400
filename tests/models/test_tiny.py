"""The tiny models build offline for every family, run forward and generate on 3 images, and are seeded."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from mimic_vlm.errors import MimicError
from mimic_vlm.models.tiny import FAMILIES, build, tiny_spec_to_model, word_merges


def images(n: int, size: int = 224) -> list[Image.Image]:
    return [Image.fromarray(np.random.RandomState(i).randint(0, 255, (size, size, 3), dtype=np.uint8)) for i in range(n)]


def chat(processor, rows: list[list[Image.Image]]) -> dict:
    msgs = [[{"role": "user", "content": [{"type": "text", "text": "Compare: "}]
              + [{"type": "image", "image": im} for im in ims] + [{"type": "text", "text": "Which differs?"}]}]
            for ims in rows]
    return processor.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True, return_dict=True,
                                         return_tensors="pt", processor_kwargs={"padding": True})


@pytest.mark.parametrize("family", FAMILIES)
def test_forward_generate_seeded(family: str) -> None:
    model, proc = build(family)
    proc.tokenizer.padding_side = "left"
    inputs = chat(proc, [images(3), images(2)])
    assert inputs["attention_mask"][1, 0] == 0  # left padded
    with torch.no_grad():
        logits = model(**inputs).logits
        out = model.generate(**inputs, max_new_tokens=3, do_sample=False)
    assert logits.shape[:2] == inputs["input_ids"].shape and torch.isfinite(logits).all()
    assert out.shape == (2, inputs["input_ids"].shape[1] + 3)
    same, _ = build(family)
    other, _ = build(family, seed=1)
    with torch.no_grad():
        assert torch.equal(same(**inputs).logits, logits)
        assert not torch.equal(other(**inputs).logits, logits)


def test_options() -> None:
    model, proc = build("qwen2_vl", num_layers=2, hidden_size=32, max_pixels=112 * 112,
                        attn_implementation={"text_config": "eager", "vision_config": "sdpa"})
    assert model.config.text_config.num_hidden_layers == 2 and model.config.text_config.hidden_size == 32
    assert model.config.text_config._attn_implementation == "eager"
    assert model.config.vision_config._attn_implementation == "sdpa"
    inputs = chat(proc, [images(1)])
    assert (inputs["input_ids"] == model.config.image_token_id).sum() == 16  # 112 px -> 4x4 merged patches
    assert tiny_spec_to_model("tiny:internvl", num_layers=1)[0].config.text_config.num_hidden_layers == 1
    with pytest.raises(MimicError, match="tiny:gpt5: unknown"):
        build("gpt5")


def test_vision_tower_options() -> None:
    model, proc = build("qwen2_vl", hidden_size=128, vision={"depth": 3, "embed_dim": 64, "num_heads": 4})
    vc = model.config.vision_config
    assert (vc.depth, vc.embed_dim, vc.num_heads) == (3, 64, 4) and len(model.model.visual.blocks) == 3
    default, _ = build("qwen2_vl")
    assert (default.config.vision_config.depth, default.config.vision_config.embed_dim) == (2, 32)
    wide = sum(p.numel() for p in model.model.visual.parameters())
    assert wide == 274_496 and wide > 3 * sum(p.numel() for p in default.model.visual.parameters())
    with torch.no_grad():
        assert torch.isfinite(model(**chat(proc, [images(2, 112)])).logits).all()
    smol, _ = build("smolvlm", vision={"num_hidden_layers": 3})
    assert smol.config.vision_config.num_hidden_layers == 3
    with pytest.raises(MimicError, match="tiny:qwen2_vl: vision option 'width' unknown to Qwen2VLVisionConfig"):
        build("qwen2_vl", vision={"width": 3})


def test_words_become_single_tokens_and_text_round_trips() -> None:
    """Words that share prefixes and pairs ("car", "cars", "category", "bus", "buses") each end as one token,
    after a space too; other text still encodes byte by byte and decodes unchanged."""
    words = ["car", "cars", "category", "categories", "bus", "buses", "banana", "bananas", "Answer", "an"]
    model, proc = build("qwen2_vl", words=words)
    tok = proc.tokenizer
    assert model.config.text_config.vocab_size == len(tok) > 263
    for word in words:
        assert len(tok(word)["input_ids"]) == 1 and len(tok(" " + word)["input_ids"]) == 1, word
    text = "Question: which categories? cars, buses and a scarab (über)\nAnswer:"
    assert tok.decode(tok(text)["input_ids"]) == text
    assert tok.convert_ids_to_tokens(tok("bananas, car")["input_ids"]) == ["bananas", ",", "Ġcar"]
    assert word_merges(words) == word_merges(list(reversed(words)))  # order-free, deterministic
    plain, plain_proc = build("qwen2_vl")  # no words: purely byte-level, as before
    assert plain.config.text_config.vocab_size == 263 == len(plain_proc.tokenizer)
    assert len(plain_proc.tokenizer("cars")["input_ids"]) == 4
    for bad in ("apple", ["apple", 3]):
        with pytest.raises(MimicError, match="tiny:qwen2_vl: words must be a list of strings"):
            build("qwen2_vl", words=bad)
