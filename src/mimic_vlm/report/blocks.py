"""What a report is made of: sections of blocks (text, tables, figures) that both renderers understand, and
the number formatting every table shares. Section builders are functions `list[RunData] -> Section | None`:
they never write files and return None when they have nothing to say."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mimic_vlm.report.runs import RunData


@dataclass
class Text:
    text: str  # markdown-light: paragraphs; rendered escaped in HTML


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]


@dataclass
class Figure:
    name: str  # file stem, unique within the report
    png: bytes
    caption: str


@dataclass
class Html:
    """A self-contained interactive view (its own markup, style and script) for report.html; the markdown
    report shows `note` in its place."""

    html: str
    note: str


Block = Text | Table | Figure | Html


@dataclass
class Section:
    title: str
    blocks: list[Block]


SectionBuilder = Callable[[list[RunData]], Section | None]


MIMIC_SCORE = "MIMIC score"
CONTROLS = ("n_images", "spread", "distractors", "concepts")  # shown first, in this order
LABELS = {"correct": "accuracy", "abs_error": "MAE", "off_by_one": "off-by-one", "exact": "exact set",
          "precision": "macro P", "recall": "macro R", "f1": "macro F1", "micro_precision": "micro P",
          "micro_recall": "micro R", "micro_f1": "micro F1", "unparsed_rate": "unparsed"}


def mean_of(n: int) -> str:
    """What a MIMIC score averages: "mean of 4 headlines", "the headline" of a one-task bench."""
    return f"mean of {n} headlines" if n != 1 else "the one task's headline"


def label(metric: str) -> str:
    return LABELS.get(metric, metric)


def fmt(entry: dict[str, Any] | None, ci: bool = True) -> str:
    """`0.532 [0.501, 0.560]`; "–" when undefined."""
    if not entry or entry.get("value") is None:
        return "–"
    text = f"{entry['value']:.3f}"
    if ci and entry.get("ci"):
        text += f" [{entry['ci'][0]:.3f}, {entry['ci'][1]:.3f}]"
    return text


def headline_rows(scores: dict[str, Any]) -> list[list[str]]:
    """One row per task and one for the MIMIC score: name, n, headline metric, value [CI], unparsed."""
    from mimic_vlm.evaluate.metrics import task_order  # numpy: not at `mimic` start-up

    rows = []
    for task in task_order(scores["tasks"]):
        t = scores["tasks"][task]
        unparsed = t["metrics"].get("unparsed_rate", {}).get("value")
        rows.append([task, str(t["n"]), label(t["headline"]), fmt(t["metrics"][t["headline"]]),
                     "–" if unparsed is None else f"{unparsed:.1%}"])
    if scores.get("mimic_score"):
        m = scores["mimic_score"]
        rows.append([MIMIC_SCORE, str(sum(scores["tasks"][t]["n"] for t in m["tasks"])),
                     mean_of(len(m["tasks"])), fmt(m), ""])
    return rows
