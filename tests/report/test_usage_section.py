"""Tokens and time per sample: the summary's exact values, its report section, the truncated verdict."""

from __future__ import annotations

from pathlib import Path

import pytest

from mimic_vlm.evaluate.usage import usage_by_task, usage_summary
from mimic_vlm.report.blocks import Table
from mimic_vlm.report.browser import verdict
from mimic_vlm.report.runs import RunData
from mimic_vlm.report.usage import usage_section

ROWS = [  # a served reasoning model: two right, one wrong, one truncated; the last row counts no reasoning
    {"id": "a", "correct": True, "prompt_tokens": 100, "output_tokens": 40, "reasoning_tokens": 30,
     "reasoning": "r", "vision_tokens": 80, "text_tokens": 20, "latency_s": 0.5},
    {"id": "b", "correct": True, "prompt_tokens": 200, "output_tokens": 60, "reasoning_tokens": 50,
     "reasoning": "r", "vision_tokens": 160, "text_tokens": 40, "latency_s": 0.5},
    {"id": "c", "correct": False, "prompt_tokens": 100, "output_tokens": 20, "latency_s": 1.0},
    {"id": "d", "exact": False, "truncated": True, "prompt_tokens": 300, "output_tokens": 100, "reasoning": "cut",
     "latency_s": 2.0},
]


def test_usage_summary_exact() -> None:
    u = usage_summary(ROWS)
    assert u == {
        "n": 4, "input_tokens_per_sample": 175.0, "vision_tokens_per_sample": 120.0, "text_tokens_per_sample": 30.0,
        "output_tokens_per_sample": 55.0,
        "reasoning_tokens_per_sample": pytest.approx(80 / 3),  # c spent none; d's count is unknown
        "answer_tokens_per_sample": pytest.approx(40 / 3), "tokens_per_sample": 230.0, "n_correct": 2,
        "tokens_per_correct": 460.0, "output_tokens_per_correct": 110.0, "samples_per_second": 1.0}
    by_task = usage_by_task(ROWS, {"a": "counting", "b": "counting", "c": "common", "d": "listing"})
    assert list(by_task["tasks"]) == ["counting", "common", "listing"]
    assert by_task["tasks"]["listing"]["tokens_per_correct"] is None  # none right
    assert by_task["tasks"]["counting"]["tokens_per_correct"] == 200.0


def test_usage_section_and_truncated_verdict() -> None:
    run = RunData("served", Path("served"), {"tasks": {}, "usage": usage_by_task(ROWS, {r["id"]: "counting"
                                                                                          for r in ROWS})})
    section = usage_section([run, RunData("old", Path("old"), {"tasks": {}})])
    assert section is not None and section.title == "Tokens and time per sample"
    table = section.blocks[0]
    assert isinstance(table, Table) and [row[:3] for row in table.rows] == [["served", "all", "4"],
                                                                            ["served", "counting", "4"]]
    assert table.rows[0][3:] == ["175", "120", "55.00", "26.67", "230", "460", "1.00"]
    hand_edited = RunData("odd", Path("odd"), {"tasks": {}, "usage": {"overall": {"n": 1, "tokens_per_sample": "x"},
                                                                     "tasks": ["x"]}})
    assert usage_section([hand_edited]).blocks[0].rows == [["odd", "all", "1", *["–"] * 7]]  # type: ignore[union-attr]
    assert usage_section([RunData("old", Path("old"), {"tasks": {}})]) is None
    assert verdict({"correct": False, "unparsed": False, "truncated": True}) == "truncated"
    assert verdict({"correct": False, "unparsed": True}) == "unparsed"
