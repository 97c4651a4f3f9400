"""The whole `hf:` path on tiny models built from the real Qwen2-VL-2B-Instruct and SmolVLM-256M-Instruct files:
loading without torchvision, `mimic eval` (batched == batch 1, with and without the mask), the mask's image
blocks on the real token layout, the collator's labels on the real chat template, `mimic probe attention`,
and `mimic train` + `mimic eval --adapter` at the recorded image resolution."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import transformers

from conftest import write_bench
from mimic_vlm.cli import main
from mimic_vlm.masking.layout import image_block_ids
from mimic_vlm.models.base import Request
from mimic_vlm.models.hf import HFModel, load_hf
from mimic_vlm.models.processors import load_processor
from mimic_vlm.train.data import IGNORE_INDEX, ChatCollator, Conversation

# SmolVLM as released resizes every image to a 2048 px longest edge (up to 17 views of 64 tokens): slow on a
# CPU, so the end-to-end tests use its fixed-size option at 512 (one global view); the layout test uses 2048.
FAST = {"qwen2_vl": [], "idefics3": ["--image-size", "512"]}


def family(model_dir: Path) -> str:
    return json.loads((model_dir / "config.json").read_text())["model_type"]


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> Path:
    return write_bench(tmp_path_factory.mktemp("real") / "bench")


def _run(args: list[str]) -> int:
    with pytest.raises(SystemExit) as e:
        main(args)
        raise SystemExit(0)
    return e.value.code


def _outputs(run: Path) -> dict[str, str]:
    return {r["id"]: r["output"] for r in map(json.loads, (run / "predictions.jsonl").read_text().splitlines())}


def test_loads_the_real_folder_without_torchvision(real_model):
    assert not transformers.is_torchvision_available()  # AutoProcessor fails on the Qwen video processor here
    processor = load_processor(str(real_model))
    if family(real_model) == "qwen2_vl":
        assert type(processor).__name__ == "Qwen2VLImageOnlyProcessor"
        assert type(processor.image_processor).__name__ == "Qwen2VLImageProcessorPil"
        assert processor.image_processor.size.longest_edge == 12845056  # max_pixels as released, kept
        assert len(processor.tokenizer) == 151657 and processor.tokenizer.convert_tokens_to_ids("<|image_pad|>") == 151655
    else:
        assert type(processor).__name__ == "Idefics3Processor" and processor.image_seq_len == 64
        assert len(processor.tokenizer) == 49280 and processor.tokenizer.convert_tokens_to_ids("<image>") == 49190


def test_image_size_only_where_the_family_has_a_fixed_size(real_model, bench, tmp_path, capsys):
    code = _run(["eval", str(bench), "--model", f"hf:{real_model}", "--out", str(tmp_path / "r"),
                 "--device", "cpu", "--no-progress", "--image-size", "512", "--limit", "1"])
    if family(real_model) == "qwen2_vl":  # its size.longest_edge is max_pixels: refused, not misread
        assert code == 2 and not (tmp_path / "r").exists()
        assert "--image-size 512: Qwen2VLImageProcessorPil has no fixed longest-edge size (use --max-pixels)" in (
            capsys.readouterr().err)
    else:
        assert code == 0


def test_eval_batched_equals_batch_one_with_and_without_mask(real_model, bench, tmp_path):
    fast = FAST[family(real_model)]
    runs = {}
    for mask in ([], ["--mask-layers", "0"]):
        for batch in ("3", "1"):
            run = tmp_path / f"{bool(mask)}-{batch}"
            assert _run(["eval", str(bench), "--model", f"hf:{real_model}", "--out", str(run),
                         "--batch-size", batch, "--device", "cpu", "--no-progress", *fast, *mask]) == 0
            runs[bool(mask), batch] = _outputs(run)
        assert runs[bool(mask), "3"] == runs[bool(mask), "1"]
    assert all(runs[False, "1"].values())  # real text came out, not empty strings that agree trivially
    assert runs[True, "1"] != runs[False, "1"]  # the mask (layer 0 of 2: the last layer cannot change text) acts
    settings = json.loads((tmp_path / "True-1" / "run.json").read_text())["settings"]["model"]
    assert settings["mask"] == {"layers": "0", "backend": "auto", "resolved": {"prefill": "blocks", "training": "blocks"}}
    assert settings.get("image_size") == (512 if fast else None)


def test_mask_blocks_on_the_real_token_layout(real_model, bench):
    hf = load_hf(str(real_model), device="cpu")  # the released resolution
    images = [bench / f"images/{i}.png" for i in range(3)]
    conv = hf.conversation(Request(id="x", images=images, text="Question: How many dogs?\nAnswer:", max_new_tokens=1))
    inputs = hf.processor.apply_chat_template([conv], add_generation_prompt=True, tokenize=True, return_dict=True,
                                              return_tensors="pt")
    ids = inputs["input_ids"][0]
    blocks = image_block_ids(inputs["input_ids"], hf.model)[0]
    sizes = [int((blocks == k).sum()) for k in range(3)]
    assert set(blocks.tolist()) == {-1, 0, 1, 2}
    image_token = hf.model.config.image_token_id
    assert torch.equal(blocks >= 0, ids == image_token)  # exactly the placeholders; framing tokens are text
    if family(real_model) == "qwen2_vl":
        # 84 px wide images of 56/84/112 px height: (h/14 x 84/14) patches of 14 px, merged 2x2 into one token
        assert sizes == [int(t.prod()) // 4 for t in inputs["image_grid_thw"]] == [6, 9, 12]
        starts = [int((blocks == k).nonzero()[0]) for k in range(3)]
        assert [int(ids[s - 1]) for s in starts] == [151652] * 3  # <|vision_start|>
        assert starts[0] == 15  # after "<|im_start|>system ... <|im_start|>user\n", as the real template writes it
    else:
        # longest edge to 2048, then 512 px crops + one global view, 64 tokens each: 4x3+1, 4x4+1, 3x4+1 views
        assert sizes == [13 * 64, 17 * 64, 13 * 64]
        assert sum(sizes) == 64 * inputs["pixel_values"].shape[1]


def _conversation(bench: Path) -> Conversation:
    messages = ({"role": "user", "content": [{"type": "image"}, {"type": "image"},
                                             {"type": "text", "text": "How many dogs are there?"}]},
                {"role": "assistant", "content": [{"type": "text", "text": "There are 3 dogs."}]})
    return Conversation(id="c0", images=(bench / "images/0.png", bench / "images/1.png"), messages=messages)


def test_collator_labels_on_the_real_chat_template(real_model, bench):
    processor = load_processor(str(real_model))
    if family(real_model) == "idefics3":
        processor.image_processor.size = {"longest_edge": 512}
    batch = ChatCollator(processor)([_conversation(bench), _conversation(bench)])
    labels = batch["labels"][0]
    answer = processor.tokenizer.decode(labels[labels != IGNORE_INDEX])
    text = processor.tokenizer.decode(batch["input_ids"][0])
    if family(real_model) == "qwen2_vl":
        assert answer == "There are 3 dogs.<|im_end|>"
        assert text.startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
                               "<|vision_start|><|image_pad|>")
    else:
        assert answer == " There are 3 dogs.<end_of_utterance>"
        assert text.startswith("<|im_start|>User:<fake_token_around_image><global-img><image>")
        assert "<end_of_utterance>\nAssistant: There are 3 dogs.<end_of_utterance>" in text
    assert int((batch["input_ids"][0] == processor.tokenizer.convert_tokens_to_ids(
        "<|image_pad|>" if family(real_model) == "qwen2_vl" else "<image>")).sum()) == (
        6 + 9 if family(real_model) == "qwen2_vl" else 2 * 64)


def test_probe_attention(real_model, bench, tmp_path):
    out = tmp_path / "probe"
    assert _run(["probe", "attention", "--model", f"hf:{real_model}", str(bench), "--out", str(out),
                 "--bootstrap", "10", "--device", "cpu", *FAST[family(real_model)]]) == 0
    result = json.loads((out / "attention.json").read_text())
    assert result["samples"] == 3 and [row["layer"] for row in result["layers"]] == [0, 1]
    for row in result["layers"]:
        shares = [row[k]["value"] for k in ("vision.own", "vision.other", "vision.text")]
        assert sum(shares) == pytest.approx(1.0) and row["vision.other"]["value"] > 0  # no mask: earlier images


def test_train_then_eval_adapter_reuses_the_resolution(real_model, bench, tmp_path):
    data = tmp_path / "train.json"
    data.write_text(json.dumps([{"id": f"t{i}", "image": [str(bench / "images/0.png"), str(bench / "images/1.png")],
                                 "conversations": [{"from": "human", "value": "<image>\n<image>\nHow many dogs?"},
                                                   {"from": "gpt", "value": str(i)}]} for i in range(2)]))
    resolution = ["--max-pixels", "3136"] if family(real_model) == "qwen2_vl" else ["--image-size", "512"]
    adapter = tmp_path / "lora"
    assert _run(["train", "--model", f"hf:{real_model}", "--data", str(data), "--out", str(adapter),
                 "--max-steps", "1", "--batch-size", "2", "--lora-r", "4", "--lora-alpha", "8",
                 "--mask-layers", "0", "--no-gradient-checkpointing", *resolution]) == 0
    trained = json.loads((adapter / "mimic_train.json").read_text())
    assert (trained["max_pixels"], trained["image_size"]) == ((3136, None) if resolution[0] == "--max-pixels"
                                                             else (None, 512))
    run = tmp_path / "run"
    assert _run(["eval", str(bench), "--model", f"hf:{real_model}", "--adapter", str(adapter),
                 "--out", str(run), "--device", "cpu", "--no-progress", "--limit", "1"]) == 0
    model = json.loads((run / "run.json").read_text())["settings"]["model"]
    assert (model["max_pixels"], model.get("image_size")) == (trained["max_pixels"], trained["image_size"])
    assert model["mask"] == {"layers": "0", "backend": "auto", "resolved": {"prefill": "blocks", "training": "blocks"}} and model["adapter"] == str(adapter)
    hf = load_hf(str(real_model), device="cpu", adapter=str(adapter), max_pixels=6272)  # told otherwise
    assert isinstance(hf, HFModel) and hf.max_pixels == 6272
