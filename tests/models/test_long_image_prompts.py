"""48 and 64 images in one prompt on real tiny models: generation, vision-token counts, the image-block mask."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mimic_vlm.masking import ImageBlockMask, image_block_ids
from mimic_vlm.masking.cost import KNOWN_MODELS, SequenceLayout, mask_cost
from mimic_vlm.models import tiny
from mimic_vlm.models.base import Request
from mimic_vlm.models.hf import HFModel


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("stack")
    paths = []
    for i in range(64):
        pixels = np.random.RandomState(i).randint(0, 255, (28, 28, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / f"{i:02d}.png")
        paths.append(root / f"{i:02d}.png")
    return paths


@pytest.mark.parametrize("family", ["qwen2_vl", "llava_onevision"])
def test_48_image_sample_generates_with_its_vision_tokens(family: str, stack: list[Path]) -> None:
    model, processor = tiny.build(family)
    hf = HFModel(model, processor, name=f"tiny:{family}")
    two = hf.generate([Request("two", tuple(stack[:2]), "How many dogs?", 4)])[0]  # LLaVA-OV: 1 image is anyres
    (gen,) = hf.generate([Request("long", tuple(stack[:48]), "How many dogs?", 4)])
    assert gen.vision_tokens == 24 * two.vision_tokens  # same-size images: the same tokens each
    wrappers = (gen.prompt_tokens - gen.vision_tokens) - (two.prompt_tokens - two.vision_tokens)
    assert wrappers % 46 == 0  # the text around each image (e.g. vision start/end) is the same for each
    assert gen.output_tokens == 4 and gen.finish_reason == "length"


def test_mask_isolates_64_images(stack: list[Path]) -> None:
    model, processor = tiny.build("qwen2_vl", num_layers=2)
    msgs = [[{"role": "user", "content": [*({"type": "image", "image": Image.open(p).convert("RGB")} for p in stack),
                                          {"type": "text", "text": "Which?"}]}]]
    batch = processor.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True, return_dict=True,
                                          return_tensors="pt")
    ids = image_block_ids(batch["input_ids"], model)[0]
    assert sorted(set(ids.tolist())) == [-1, *range(64)]
    changed = dict(batch)  # image 0's pixels replaced: no other image's tokens may move in a masked layer
    changed["pixel_values"] = batch["pixel_values"].clone()
    per_image = batch["pixel_values"].shape[0] // 64
    changed["pixel_values"][:per_image] = torch.flip(changed["pixel_values"][:per_image], dims=[0])
    ImageBlockMask("all", "blocks").attach(model)
    with torch.no_grad():
        a = model(**batch, output_hidden_states=True).hidden_states[-1][0]
        b = model(**changed, output_hidden_states=True).hidden_states[-1][0]
    others = ids >= 1
    assert torch.equal(a[others], b[others]) and not torch.equal(a[ids == 0], b[ids == 0])


def test_cost_at_64_images() -> None:
    r = mask_cost(KNOWN_MODELS["llava-ov-7b"], SequenceLayout(images=64, tokens_per_image=730, text=60),
                  frozenset(range(14, 28)))
    assert r["layout"]["length"] == 64 * 730 + 60
    assert r["attention_flops_masked_layer"]["reduction"] == pytest.approx(1 - 1 / 64, abs=0.01)
