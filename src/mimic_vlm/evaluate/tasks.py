"""The task table: how each task is prompted and scored. The runner and scorer dispatch on `sample.task`.

The built-in tasks are MIMIC's four (`mimic_tasks.py`) and the existing benchmarks' multiple-choice and open
answers (`suite_tasks.py`). `register_task` adds another (a registry is the one kind of global state this
project allows).
"""

from __future__ import annotations

from mimic_vlm.errors import MimicError
from mimic_vlm.evaluate import mimic_tasks, suite_tasks
from mimic_vlm.evaluate.taskspec import TaskSpec, Vocabulary

__all__ = ["TaskSpec", "Vocabulary", "all_tasks", "get_task", "register_task"]

_TASKS: dict[str, TaskSpec] = {s.name: s for s in (*mimic_tasks.SPECS, *suite_tasks.SPECS)}


def register_task(spec: TaskSpec) -> TaskSpec:
    _TASKS[spec.name] = spec
    return spec


def get_task(name: str) -> TaskSpec:
    try:
        return _TASKS[name]
    except KeyError:
        raise MimicError(f"unknown task {name!r}; known: {', '.join(sorted(_TASKS))}") from None


def all_tasks() -> dict[str, TaskSpec]:
    return dict(_TASKS)
