"""What a run cost: tokens and time per sample, and tokens per correct answer (scores.json `usage`).

A thinking model buys accuracy with tokens, and a long image stack costs vision tokens: comparing models on
score alone hides both. Every model kind records per sample (predictions.jsonl) `prompt_tokens` (input, images
included), `output_tokens`, `latency_s`, and where known `vision_tokens`, `text_tokens` (prompt minus vision)
and `reasoning_tokens` (hf/tiny: from the processor and tokenizer; openai: the server's `usage`). Here they are
summed:

```
{"n", "input_tokens_per_sample", "vision_tokens_per_sample", "text_tokens_per_sample",
 "output_tokens_per_sample", "reasoning_tokens_per_sample", "answer_tokens_per_sample",
 "tokens_per_sample", "n_correct", "tokens_per_correct", "output_tokens_per_correct",
 "samples_per_second"}
```

A mean is over the samples that report the count (None where none does); `tokens_per_sample` is input +
output; `*_per_correct` divide the tokens of every sample by the answers counted right (`correct`, or the
exact set for listing), None with none right. A sample without a thinking block spent 0 reasoning tokens;
one whose reasoning the server gave without a count is left out of the reasoning mean. `samples_per_second`
is samples / summed `latency_s` (a machine's speed, not a setting: it differs between reruns).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

COUNTS = ("prompt_tokens", "vision_tokens", "text_tokens", "output_tokens", "latency_s")


def reasoning_count(row: dict[str, Any]) -> int | None:
    """A row's reasoning tokens: its count, 0 for an output without reasoning, None where unknown."""
    if row.get("reasoning_tokens") is not None:
        return int(row["reasoning_tokens"])
    if row.get("output_tokens") is not None and not row.get("reasoning"):
        return 0
    return None


def right(row: dict[str, Any]) -> bool:
    return bool(row["correct"]) if "correct" in row else bool(row.get("exact"))


def _mean(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def usage_summary(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Tokens and time of scored prediction rows (module docstring)."""
    reasoning = [reasoning_count(r) for r in rows]
    answer = [None if q is None or r.get("output_tokens") is None else r["output_tokens"] - q
              for r, q in zip(rows, reasoning, strict=True)]
    costed = [r for r in rows if r.get("prompt_tokens") is not None and r.get("output_tokens") is not None]
    n_correct = sum(right(r) for r in costed)
    total_in = sum(r["prompt_tokens"] for r in costed)
    total_out = sum(r["output_tokens"] for r in costed)
    timed = [r["latency_s"] for r in rows if r.get("latency_s") is not None]
    return {
        "n": len(rows),
        "input_tokens_per_sample": _mean(r.get("prompt_tokens") for r in rows),
        "vision_tokens_per_sample": _mean(r.get("vision_tokens") for r in rows),
        "text_tokens_per_sample": _mean(r.get("text_tokens") for r in rows),
        "output_tokens_per_sample": _mean(r.get("output_tokens") for r in rows),
        "reasoning_tokens_per_sample": _mean(reasoning),
        "answer_tokens_per_sample": _mean(answer),
        "tokens_per_sample": _ratio(total_in + total_out, len(costed)),
        "n_correct": n_correct,
        "tokens_per_correct": _ratio(total_in + total_out, n_correct),
        "output_tokens_per_correct": _ratio(total_out, n_correct),
        "samples_per_second": _ratio(len(timed), sum(timed)),
    }


def has_usage(rows: Iterable[dict[str, Any]]) -> bool:
    """Whether any row carries a count (a predictions file from another harness carries none)."""
    return any(r.get(k) is not None for r in rows for k in COUNTS)


def usage_by_task(rows: Sequence[dict[str, Any]], task_of: dict[str, str]) -> dict[str, Any]:
    """scores.json `usage`: `overall` and one entry per task (in the order tasks first appear)."""
    tasks: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        tasks.setdefault(task_of.get(r["id"], "?"), []).append(r)
    return {"overall": usage_summary(rows), "tasks": {t: usage_summary(rs) for t, rs in tasks.items()}}
