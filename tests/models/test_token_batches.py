"""Batches by a budget of tokens (`--max-batch-tokens`) on real tiny models: the same outputs as batch size 1;
finish reasons and thinking tokens counted from the real tokenizer."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from mimic_vlm.models import tiny
from mimic_vlm.models.base import Request
from mimic_vlm.models.hf import HFModel, thinking_tokens, token_batches


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("images")
    paths = []
    for i, size in enumerate([(224, 224), (300, 200), (120, 160), (64, 90), (90, 64), (100, 100)]):
        g = torch.Generator().manual_seed(i)
        Image.fromarray(torch.randint(0, 256, (size[1], size[0], 3), generator=g, dtype=torch.uint8).numpy()).save(
            root / f"{i}.png")
        paths.append(root / f"{i}.png")
    return paths


def test_token_batches_fill_the_budget_and_run_long_ones_alone() -> None:
    assert token_batches([10, 10, 10, 10], 40) == [[0, 1, 2, 3]]
    assert token_batches([10, 10, 10, 10], 39) == [[0, 1, 2], [3]]
    assert token_batches([10, 12, 30, 100, 5], 40) == [[0, 1], [2], [3], [4]]  # padded: 3 x 30 > 40
    assert token_batches([5, 5, 100, 5, 5], 50) == [[0, 1], [2], [3, 4]]  # 100 > budget: alone all the same
    assert token_batches([], 10) == []


def test_thinking_tokens_counts_through_the_last_close_tag() -> None:
    pieces = ["<th", "ink>", "two", " dogs", "</think", ">", "\n", "2"]

    def decode(k: int) -> str:
        return "".join(pieces[:k])

    assert thinking_tokens(len(pieces), decode, ("<think>", "</think>")) == 6
    assert thinking_tokens(4, decode, ("<think>", "</think>")) == 4  # never closed: all of it
    assert thinking_tokens(1, lambda k: "7"[:k], ("<think>", "</think>")) is None


@pytest.mark.parametrize("family", ["qwen2_vl", "llava_onevision", "idefics3", "internvl"])
def test_token_budget_equals_batch_size_one(family: str, images: list[Path]) -> None:
    model, processor = tiny.build(family)
    hf = HFModel(model, processor, name=f"tiny:{family}", max_batch_size=64)
    sets = [images[:1], images[1:2], images[:5], images[2:4], images[5:6], images[:3], images[3:6]]
    reqs = [Request(id=f"r{i}", images=tuple(s), text=f"Question: how many things in set {i}?\nAnswer:",
                    max_new_tokens=12 if i % 2 else 20, reasoning_tags=("<think>", "</think>"))
            for i, s in enumerate(sets)]
    one_by_one = [hf.generate([r])[0] for r in reqs]
    costs = [hf.prompt_length(r) + r.max_new_tokens for r in reqs]
    assert costs == [g.prompt_tokens + r.max_new_tokens for g, r in zip(one_by_one, reqs, strict=True)]
    budget = 2 * sorted(costs)[len(costs) // 2]  # the long samples alone, short ones two or more to a forward
    groups = token_batches(costs, budget)
    assert any(len(g) > 1 for g in groups) and any(len(g) == 1 for g in groups)
    hf.max_batch_tokens = budget
    budgeted = hf.generate(reqs)
    assert [(g.text, g.output_tokens, g.prompt_tokens, g.vision_tokens, g.finish_reason) for g in budgeted] == [
        (g.text, g.output_tokens, g.prompt_tokens, g.vision_tokens, g.finish_reason) for g in one_by_one]
    for g, r in zip(budgeted, reqs, strict=True):  # a random model never stops early: each ran to its limit
        assert g.finish_reason == ("length" if g.output_tokens == r.max_new_tokens else "stop")
