"""HFModel on real tiny transformers models: batched == batch size 1, prompt layout, loading from disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from mimic_vlm.errors import MimicError
from mimic_vlm.models import tiny
from mimic_vlm.models.base import Request
from mimic_vlm.models.hf import HFModel, load_hf
from mimic_vlm.models.processors import image_only_processor
from mimic_vlm.models.registry import load_model


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("images")
    paths = []
    for i, (size, fmt) in enumerate([((224, 224), "png"), ((300, 200), "jpg"), ((120, 160), "png"),
                                     ((64, 90), "jpg"), ((90, 64), "png")]):
        g = torch.Generator().manual_seed(i)
        pixels = torch.randint(0, 256, (size[1], size[0], 3), generator=g, dtype=torch.uint8).numpy()
        Image.fromarray(pixels).save(root / f"{i}.{fmt}")
        paths.append(root / f"{i}.{fmt}")
    return paths


def requests_for(images: list[Path]) -> list[Request]:
    """Rows with 3, 1, 4 and 2 images, two token budgets (16 and 32, as counting and listing)."""
    rows = [images[:3], images[3:4], images[1:5], images[:2]]
    return [Request(id=f"r{i}", images=tuple(r), text=f"Question: how many things in set {i}?\nAnswer:",
                    max_new_tokens=32 if i == 2 else 16) for i, r in enumerate(rows)]


def tiny_model(family: str, batch_size: int = 8) -> HFModel:
    model, processor = tiny.build(family)
    return HFModel(model, processor, name=f"tiny:{family}", max_batch_size=batch_size)


@pytest.mark.parametrize("family", ["qwen2_vl", "llava_onevision", "idefics3", "internvl"])
def test_batched_generation_equals_batch_size_one(family: str, images: list[Path]) -> None:
    model = tiny_model(family)
    reqs = requests_for(images)
    one_by_one = [model.generate([r])[0] for r in reqs]
    batched = model.generate(reqs)
    assert [g.text for g in batched] == [g.text for g in one_by_one]
    assert [g.output_tokens for g in batched] == [g.output_tokens for g in one_by_one]
    assert [g.prompt_tokens for g in batched] == [g.prompt_tokens for g in one_by_one]
    assert all(0 < g.output_tokens <= r.max_new_tokens for g, r in zip(batched, reqs, strict=True))
    assert len({g.prompt_tokens for g in batched}) == 4  # different image counts -> different lengths


def test_conversation_layout_and_system(images: list[Path]) -> None:
    model = tiny_model("qwen2_vl")
    first = model.conversation(Request("a", tuple(images[:2]), "Q?", 16, system="Be brief."))
    assert first[0] == {"role": "system", "content": [{"type": "text", "text": "Be brief."}]}
    assert [c["type"] for c in first[1]["content"]] == ["image", "image", "text"]
    inter = model.conversation(Request("b", tuple(images[:2]), "A: <image> B: <image> same?", 16))
    assert [(c["type"], c.get("text")) for c in inter[0]["content"]] == [
        ("text", "A: "), ("image", None), ("text", " B: "), ("image", None), ("text", " same?")]
    with pytest.raises(MimicError, match="1 <image> markers for 2 images"):
        model.conversation(Request("c", tuple(images[:2]), "<image> only one", 16))


def test_max_pixels_shrinks_images_and_prompt(images: list[Path]) -> None:
    model, processor = tiny.build("qwen2_vl")
    full = HFModel(model, processor, name="t").generate([Request("a", (images[0],), "Q", 4)])[0]
    small = HFModel(model, processor, name="t", max_pixels=112 * 112).generate([Request("a", (images[0],), "Q", 4)])[0]
    assert full.prompt_tokens - small.prompt_tokens == 64 - 16  # 224 px: 64 image tokens; 112 px: 16
    assert (full.vision_tokens, small.vision_tokens) == (64, 16)  # counted from the prompt's image tokens


def save_like_a_checkpoint(family: str, folder: Path) -> tuple:
    """Save a tiny model as a hub checkpoint is saved: the processor's options (image_seq_len, ...) in
    processor_config.json, the stock processor class minus its video part."""
    import inspect

    import transformers

    model, processor = tiny.build(family)
    base = next(c for c in type(processor).__mro__ if c.__module__.startswith("transformers.models"))
    names = set(inspect.signature(base.__init__).parameters) - {"self", "image_processor", "tokenizer",
                                                                  "video_processor", "chat_template", "kwargs"}
    cls = image_only_processor(base) if base is not transformers.Idefics3Processor else base
    cls(processor.image_processor, processor.tokenizer, chat_template=processor.chat_template,
        **{n: getattr(processor, n) for n in names if hasattr(processor, n)}).save_pretrained(folder)
    model.save_pretrained(folder)
    return model, processor


@pytest.mark.parametrize("family", ["qwen2_vl", "llava_onevision", "smolvlm", "internvl"])
def test_hf_folder_loads_without_torchvision_and_matches(family: str, images: list[Path], tmp_path: Path) -> None:
    model, processor = save_like_a_checkpoint(family, tmp_path / "m")
    loaded = load_model(f"hf:{tmp_path / 'm'}", dtype="float32", device="cpu")
    assert "Pil" in type(loaded.processor.image_processor).__name__
    reqs = requests_for(images)[:2]
    assert [g.text for g in loaded.generate(reqs)] == [g.text for g in HFModel(model, processor, name="t").generate(reqs)]
    assert loaded.describe()["model"] == str(tmp_path / "m") and loaded.describe()["dtype"] == "float32"


ON_SDPA = {"prefill": "sdpa", "training": "sdpa"}  # a mask's backend per phase, as run.json records it


def test_adapter_merges_and_reapplies_training_mask(images: list[Path], tmp_path: Path) -> None:
    from peft import LoraConfig, get_peft_model

    model, processor = tiny.build("qwen2_vl")
    model.save_pretrained(tmp_path / "m")
    processor.save_pretrained(tmp_path / "m")
    peft_model = get_peft_model(model, LoraConfig(r=4, target_modules=r".*language_model.*\.(q_proj|v_proj)",
                                                  init_lora_weights=False))
    peft_model.save_pretrained(tmp_path / "adapter")
    (tmp_path / "adapter" / "mimic_train.json").write_text(json.dumps({"mask_layers": "2-3", "mask_backend": "sdpa"}))
    adapted = load_hf(str(tmp_path / "m"), dtype="float32", device="cpu", adapter=str(tmp_path / "adapter"))
    assert adapted.describe()["mask"] == {"layers": "2-3", "backend": "sdpa", "resolved": ON_SDPA}
    plain = load_hf(str(tmp_path / "m"), dtype="float32", device="cpu")
    req = requests_for(images)[:1]
    assert adapted.generate(req)[0].text != plain.generate(req)[0].text  # the LoRA weights count
    on_tiny = load_model("tiny:qwen2_vl", adapter=str(tmp_path / "adapter"), device="cpu")
    assert on_tiny.describe()["mask"] == {"layers": "2-3", "backend": "sdpa", "resolved": ON_SDPA}
    assert on_tiny.generate(req)[0].text == adapted.generate(req)[0].text  # same base, same adapter, same mask
    (tmp_path / "m" / "mimic_train.json").write_text(json.dumps({"mask_layers": "1-3", "mask_backend": None}))
    full = load_hf(str(tmp_path / "m"), dtype="float32", device="cpu")  # a full fine-tune's folder
    assert full.describe()["mask"] == {"layers": "1-3", "backend": "sdpa", "resolved": ON_SDPA}
    with pytest.raises(MimicError, match="not a PEFT adapter"):
        load_hf(str(tmp_path / "m"), device="cpu", adapter=str(tmp_path))


def test_missing_hf_model_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MimicError, match="no such model folder"):
        load_model(f"hf:{tmp_path / 'nope'}")
    with pytest.raises(MimicError, match=r"hf:nobody/no-such-model: cannot load the model \(offline mode"):
        load_model("hf:nobody/no-such-model")


@pytest.mark.parametrize("backend", ["auto", "sdpa"])
@pytest.mark.parametrize("family", ["qwen2_vl", "smolvlm"])
def test_batched_equals_batch_size_one_with_image_block_mask(family: str, backend: str, images: list[Path]) -> None:
    from mimic_vlm.masking import mask_from_options

    model = load_model(f"tiny:{family}", mask=mask_from_options("0-3", backend), device="cpu")
    assert model.describe()["mask"]["resolved"]["prefill"] == ("blocks" if backend == "auto" else "sdpa")
    plain = tiny_model(family)
    reqs = requests_for(images)
    masked = model.generate(reqs)
    assert [g.text for g in masked] == [model.generate([r])[0].text for r in reqs]
    assert [g.text for g in masked] != [g.text for g in plain.generate(reqs)]  # the mask is really on
    assert model.describe()["mask"]["layers"] == "0-3" and model.describe()["mask"]["backend"] == backend


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("family", ["qwen2_vl", "llava_onevision", "idefics3"])
def test_batched_equals_batch_size_one_on_cuda(family: str, images: list[Path]) -> None:
    model = load_model(f"tiny:{family}", device="cuda")
    reqs = requests_for(images)
    assert [g.text for g in model.generate(reqs)] == [model.generate([r])[0].text for r in reqs]
