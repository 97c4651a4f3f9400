"""`mimic eval` of a tiny model batched by a token budget: the same predictions as batch size 1, token counts
per sample in predictions.jsonl and scores.json, the budget recorded as runtime (not a setting)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mimic_vlm.cli import main
from mimic_vlm.models.base import Request
from mimic_vlm.models.registry import load_model


def lines(run: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "latency_s"} for r in rows]


@pytest.mark.parametrize("family", ["qwen2_vl", "idefics3"])
def test_token_budget_run_equals_batch_size_one(family: str, bench_factory, tmp_path: Path) -> None:
    bench = bench_factory("b", per_task=2, max_images=4)
    argv = ["eval", str(bench), "--model", f"tiny:{family}", "--no-progress", "--device", "cpu"]
    main([*argv, "--out", str(tmp_path / "one"), "--batch-size", "1"])
    main([*argv, "--out", str(tmp_path / "budget"), "--max-batch-tokens", "300"])  # 1-3 rows a forward
    assert lines(tmp_path / "budget") == lines(tmp_path / "one")
    rows = lines(tmp_path / "one")
    assert all(r["text_tokens"] == r["prompt_tokens"] - r["vision_tokens"] > 0 and r["vision_tokens"] > 0
               for r in rows)
    run = json.loads((tmp_path / "budget" / "run.json").read_text())
    assert run["runtime"]["max_batch_tokens"] == 300 and "max_batch_tokens" not in json.dumps(run["settings"])
    usage = json.loads((tmp_path / "budget" / "scores.json").read_text())["usage"]["overall"]
    assert usage["vision_tokens_per_sample"] == pytest.approx(sum(r["vision_tokens"] for r in rows) / len(rows))
    assert usage["tokens_per_sample"] == pytest.approx(
        sum(r["prompt_tokens"] + r["output_tokens"] for r in rows) / len(rows))
    assert usage["reasoning_tokens_per_sample"] == 0 and usage["samples_per_second"] > 0


def test_hf_counts_thinking_tokens_with_its_tokenizer() -> None:
    model = load_model("tiny:qwen2_vl", device="cpu")
    tokenizer = model.tokenizer  # type: ignore[attr-defined]
    thinking = tokenizer.encode("<think>two dogs, then one</think>", add_special_tokens=False)
    answer = tokenizer.encode("\n3 dogs", add_special_tokens=False)
    tags = ("<think>", "</think>")
    assert model.thinking(thinking + answer, tags) == len(thinking)  # type: ignore[attr-defined]
    assert model.thinking(thinking[:-3], tags) == len(thinking) - 3  # type: ignore[attr-defined]  # never closed
    assert model.thinking(answer, tags) is None and model.thinking(answer, None) is None  # type: ignore[attr-defined]
    assert Request("x", (), "hi", 4).reasoning_tags is None
