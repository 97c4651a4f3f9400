"""What a task is to the runner and the scorer: how it is prompted, how one answer is scored, and how scored
answers aggregate. Pure types; the built-in specs live in `mimic_tasks.py` and `suite_tasks.py`, the lookup table
in `tasks.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mimic_vlm.schema import Sample

Vocabulary = dict[str, dict[str, Any]]
"""Category name -> {"supercategory", "synonyms"}: what a bench knows about its names (manifest `vocabulary`)."""


@dataclass(frozen=True)
class Aggregate:
    """A group metric: `scale * sum(num fields) / sum(den fields)` over the group's samples."""

    num: tuple[str, ...]
    den: tuple[str, ...]
    scale: float = 1.0

    def fields(self) -> tuple[str, ...]:
        return (*self.num, *self.den)


@dataclass(frozen=True)
class Harmonic:
    """`2 * a * b / (a + b)` of two group metrics, in that order of operations: the official listing F1 is
    computed from micro P and R this way, and `2 tp / (n_pred + n_gt)` (equal in exact arithmetic) differs
    from it in the last bit about a third of the time. 0 where a + b is 0 or one of them is undefined (no
    predicted item at all), as 2 tp / (n_pred + n_gt) is; undefined only where both are."""

    a: Aggregate
    b: Aggregate

    def fields(self) -> tuple[str, ...]:
        return (*self.a.fields(), *self.b.fields())


GroupMetric = Aggregate | Harmonic


def present(field: str) -> str:
    """The name of the 0/1 column telling whether a per-sample field is not None."""
    return f"{field}?"


def mean(field: str) -> Aggregate:
    """Mean of a per-sample field over the samples where it is not None."""
    return Aggregate((field,), (present(field),))


MICRO = {
    "micro_precision": Aggregate(("tp",), ("n_pred",)),
    "micro_recall": Aggregate(("tp",), ("n_gt",)),
    "micro_f1": Harmonic(Aggregate(("tp",), ("n_pred",)), Aggregate(("tp",), ("n_gt",))),
}


@dataclass(frozen=True)
class TaskSpec:
    name: str
    prompt: Callable[[Sample], str]
    """The user text that follows the images (the evaluation protocol's fixed phrasing)."""
    max_new_tokens: int
    score: Callable[[Sample, str, Vocabulary, bool], dict[str, Any]]
    """(sample, raw output, vocabulary, official) -> {"parsed": ..., "unparsed": bool, metric fields...}."""
    metrics: tuple[str, ...]
    """Per-sample numeric fields that `summarize` averages (with bootstrap intervals)."""
    headline: str
    """The metric that stands for the task in tables and in the MIMIC score."""
    extra: dict[str, Any] = field(default_factory=dict)

    def aggregates(self) -> dict[str, GroupMetric]:
        """The task's group metrics: means of `metrics`, `extra["aggregates"]`, the unparsed rate."""
        return {**{m: mean(m) for m in self.metrics}, **self.extra.get("aggregates", {}),
                "unparsed_rate": mean("unparsed")}
