"""Plots of the attention probe: each share against the layer, with bootstrap bands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mimic_vlm.report.plots import line_plot

ATTENTION_FIGURES = {
    "vision": ("Attention from vision tokens", ("vision.own", "vision.other", "vision.text")),
    "question": ("Attention from the question tokens", ("question.target", "question.distractor", "question.text")),
    "answer": ("Attention from the answer position", ("answer.target", "answer.distractor", "answer.text")),
}


def attention_plots(result: dict[str, Any], out: Path) -> list[Path]:
    """`vision.png`, `question.png`, `answer.png`: each share against the layer, with intervals."""
    layers = result["layers"]
    x = [row["layer"] for row in layers]
    return [line_plot(out / f"{name}.png", x, {k.split(".", 1)[1]: [row[k] for row in layers] for k in keys},
                      xlabel="layer", ylabel="share of attention", title=title)
            for name, (title, keys) in ATTENTION_FIGURES.items()]
