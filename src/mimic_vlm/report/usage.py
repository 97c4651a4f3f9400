"""The report's cost section: tokens and time per sample, tokens per correct answer (scores.json `usage`)."""

from __future__ import annotations

from typing import Any

from mimic_vlm.report.blocks import Section, Table, Text
from mimic_vlm.report.runs import RunData

COLUMNS = (("input_tokens_per_sample", "input tok/sample"), ("vision_tokens_per_sample", "vision tok/sample"),
           ("output_tokens_per_sample", "output tok/sample"), ("reasoning_tokens_per_sample", "reasoning tok/sample"),
           ("tokens_per_sample", "tok/sample"), ("tokens_per_correct", "tok/correct"),
           ("samples_per_second", "samples/s"))


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):  # absent, or a hand-edited file
        return "–"
    return f"{value:.2f}" if isinstance(value, float) and abs(value) < 100 else f"{value:,.0f}"


def usage_section(runs: list[RunData]) -> Section | None:
    """One row per run (and per task below it) that recorded token counts; None when none did."""
    rows = []
    for r in runs:
        usage = r.scores.get("usage") if not r.diagnostics else None
        if not isinstance(usage, dict):
            continue
        tasks = usage.get("tasks")
        tasks = tasks if isinstance(tasks, dict) else {}
        for name, entry in [("all", usage.get("overall")), *sorted(tasks.items())]:
            if not isinstance(entry, dict):
                continue
            rows.append([r.name, name, str(entry.get("n", "–")), *(_number(entry.get(k)) for k, _ in COLUMNS)])
    if not rows:
        return None
    return Section("Tokens and time per sample", [
        Table(["run", "task", "n", *(title for _, title in COLUMNS)], rows),
        Text("Input tokens include the image tokens; tok/correct divides the tokens (input + output) of every "
             "sample by the answers counted right; samples/s is the machine's speed in that run, not a setting."),
    ])
