"""Reading, sampling, checking and collating training conversations."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from mimic_vlm.errors import MimicError
from mimic_vlm.models import tiny
from mimic_vlm.train.data import IGNORE_INDEX, ChatCollator, check_images, load_data, parse_llava, select


def test_both_layouts_read_the_same(toy):
    a = load_data([toy["llava"]]).conversations
    b = load_data([toy["messages"]]).conversations
    assert a == b and len(a) == 8
    assert a[2].messages[0]["content"] == [{"type": "image"}] * 3 + [{"type": "text", "text": "How many red images?"}]
    assert all(p.is_file() for c in a for p in c.images)


def test_llava_markers_and_missing_images(tmp_path):
    rec = {"id": "x", "image": ["a.png", "b.png"], "conversations": [
        {"from": "human", "value": "first <image>\nthen"}, {"from": "gpt", "value": "ok"}]}
    conv = parse_llava(rec, tmp_path, "x")  # one marker, two images: the missing one goes first
    assert conv.messages[0]["content"] == [{"type": "image"}, {"type": "text", "text": "first "}, {"type": "image"},
                                           {"type": "text", "text": "then"}]
    assert conv.images == (tmp_path / "a.png", tmp_path / "b.png")
    rec["image"] = "a.png"  # a single path string is one image (not len(path) images, the official bug)
    with pytest.raises(MimicError, match="2 <image> markers but 1 image"):
        parse_llava({**rec, "conversations": [{"from": "human", "value": "<image><image>"}]}, tmp_path, "x")
    assert len(parse_llava(rec, tmp_path, "x").images) == 1


def test_sampling_rules():
    assert select(10, "all", 0) == list(range(10))
    assert select(10, "first:30%", 0) == [0, 1, 2]
    assert select(7, "first:30%", 0) == [0, 1, 2]  # ceil(2.1), as the official code
    assert select(10, "end:2", 0) == [8, 9]
    r = select(100, "random:5", 3)
    assert r == select(100, "random:5", 3) and len(set(r)) == 5 and r == sorted(r)
    with pytest.raises(MimicError, match="sampling 'half'"):
        select(10, "half", 0)


def test_mixture_yaml_and_max_images(toy, tmp_path):
    mix = tmp_path / "mix.yaml"
    mix.write_text(f"datasets:\n  - path: {toy['llava']}\n    sampling: first:50%\n"
                   f"  - json_path: {toy['messages']}\n    sampling_strategy: all\n")
    data = load_data([mix], max_images=2)
    # 4 + 8 samples; 1-3 images cycling, so those with 3 images (ids 2, 5) are dropped and counted
    assert [f["used"] for f in data.files] == [3, 6] and data.dropped == 3
    assert all(len(c.images) <= 2 for c in data.conversations)
    assert data.files[0]["sha256"] and data.files[0]["sampling"] == "first:50%"


def test_mixture_max_pixels_gives_one_file_several_vision_token_budgets(tmp_path):
    """The same file twice, once capped at 56x56: the capped copy's images become 4 vision tokens, the other
    stays at 16 (a tiny Qwen2-VL, patch 14, 2x2 merge); the run's own cap still applies to both."""
    Image.new("RGB", (112, 112), (200, 0, 0)).save(tmp_path / "a.png")
    (tmp_path / "d.json").write_text(json.dumps([{"id": "a", "image": ["a.png"], "conversations": [
        {"from": "human", "value": "<image>\nHow many?"}, {"from": "gpt", "value": "1"}]}]))
    mix = tmp_path / "mix.yaml"
    mix.write_text("datasets:\n  - path: d.json\n  - path: d.json\n    max_pixels: 3136\n")
    data = load_data([mix])
    assert [c.max_pixels for c in data.conversations] == [None, 3136]
    assert "max_pixels" not in data.files[0] and data.files[1]["max_pixels"] == 3136
    _, processor = tiny.build("qwen2_vl")
    image_token = processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    def tokens(cap):
        ids = ChatCollator(processor, cap)(data.conversations)["input_ids"]
        return [int((row == image_token).sum()) for row in ids]
    assert tokens(None) == [16, 4]
    assert tokens(3136) == [4, 4]  # the tighter of the two caps
    mix.write_text("datasets:\n  - path: d.json\n    max_pixels: lots\n")
    with pytest.raises(MimicError, match=r"mix.yaml: datasets\[0\] max_pixels must be a positive whole number"):
        load_data([mix])


def test_bad_inputs_are_one_clear_error(toy, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("[{")
    with pytest.raises(MimicError, match="bad.json: invalid JSON"):
        load_data([bad])
    bad.write_text(json.dumps([{"id": "q", "question": "no layout"}]))
    with pytest.raises(MimicError, match="neither a LLaVA record"):
        load_data([bad])
    bad.write_text(json.dumps([{"id": "q", "image": ["nope.png"], "conversations": [
        {"from": "human", "value": "<image>\nhi"}, {"from": "gpt", "value": "1"}]}]))
    with pytest.raises(MimicError, match=r"nope.png: image of sample 'q' not found"):
        check_images(load_data([bad]).conversations)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    bad.write_text(json.dumps([{"id": "r", "image": ["broken.png"], "conversations": [
        {"from": "human", "value": "hi"}, {"from": "gpt", "value": "1"}]}]))
    with pytest.raises(MimicError, match="broken.png: image of sample 'r' cannot be read"):
        check_images(load_data([bad]).conversations)
    with pytest.raises(MimicError, match="no training samples left"):
        load_data([toy["llava"]], max_images=0)
    with pytest.raises(MimicError, match="missing.json: data file not found"):
        load_data([tmp_path / "missing.json"])


@pytest.mark.parametrize("family", tiny.FAMILIES)
def test_labels_are_exactly_the_answers(family, tmp_path):
    """Only answer tokens and their end-of-turn token carry a loss: no system, prompt, image or padding."""
    for i, c in enumerate([(200, 0, 0), (0, 0, 200), (0, 200, 0)]):
        Image.new("RGB", (56 + 28 * i, 56), c).save(tmp_path / f"{i}.png")
    two_turns = {"id": "a", "image": ["0.png", "1.png", "2.png"], "conversations": [
        {"from": "system", "value": "Be brief."}, {"from": "human", "value": "<image>\n<image>\nHow many?"},
        {"from": "gpt", "value": "2 red"}, {"from": "human", "value": "<image>\nAnd now?"},
        {"from": "gpt", "value": "one"}]}
    short = {"id": "b", "image": ["1.png"], "conversations": [
        {"from": "human", "value": "<image>\nCount."}, {"from": "gpt", "value": "0"}]}
    _, processor = tiny.build(family)
    batch = ChatCollator(processor)([parse_llava(two_turns, tmp_path, "a"), parse_llava(short, tmp_path, "b")])
    eot = processor.tokenizer.eos_token
    decoded = [processor.tokenizer.convert_ids_to_tokens(ids[lab != IGNORE_INDEX])
               for ids, lab in zip(batch["input_ids"], batch["labels"], strict=True)]
    tok = processor.tokenizer
    want = [tok.convert_ids_to_tokens(tok("2 red", add_special_tokens=False)["input_ids"]) + [eot]
            + tok.convert_ids_to_tokens(tok("one", add_special_tokens=False)["input_ids"]) + [eot],
            tok.convert_ids_to_tokens(tok("0", add_special_tokens=False)["input_ids"]) + [eot]]
    assert decoded == want
    assert batch["labels"].shape == batch["input_ids"].shape
    pad = batch["attention_mask"] == 0
    assert pad[1].any() and not pad[0].any()  # right padding on the shorter row
    assert pad[1, -1] and (batch["labels"][pad] == IGNORE_INDEX).all()
    assert torch.equal(batch["input_ids"][1, :int((~pad[1]).sum())],
                       processor.apply_chat_template(
                           [m for m in parse_llava(short, tmp_path, "b").messages],
                           tokenize=True, return_dict=True, return_tensors="pt",
                           processor_kwargs={"images": [Image.open(tmp_path / "1.png").convert("RGB")]})["input_ids"][0])
