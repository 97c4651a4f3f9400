"""Task registry: how each task is prompted and scored. The runner and scorer dispatch on `sample.task`.

MIMIC's four tasks register in `evaluate/mimic_tasks.py`; other benchmarks (multiple choice, open answers)
register their own. A registry is the one kind of global state this project allows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mimic_vlm.errors import MimicError
from mimic_vlm.schema import Sample

Vocabulary = dict[str, dict[str, Any]]


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


_TASKS: dict[str, TaskSpec] = {}


def register_task(spec: TaskSpec) -> TaskSpec:
    _TASKS[spec.name] = spec
    return spec


def get_task(name: str) -> TaskSpec:
    _load_builtin()
    try:
        return _TASKS[name]
    except KeyError:
        raise MimicError(f"unknown task {name!r}; known: {', '.join(sorted(_TASKS))}") from None


def all_tasks() -> dict[str, TaskSpec]:
    _load_builtin()
    return dict(_TASKS)


def _load_builtin() -> None:
    """Import the modules that register the built-in tasks (idempotent)."""
    import importlib

    for mod in ("mimic_vlm.evaluate.mimic_tasks", "mimic_vlm.benchmarks.tasks"):
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name != mod:
                raise
