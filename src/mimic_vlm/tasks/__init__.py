"""MIMIC's tasks, registered in one place: each is one module (`counting`, `listing`, `common`, `odd_one`)
holding every rule of its task (see `base.Task`); adding a task is one module and one line here."""

from __future__ import annotations

from mimic_vlm.errors import MimicError
from mimic_vlm.tasks.base import Answer, Task
from mimic_vlm.tasks.common import COMMON
from mimic_vlm.tasks.counting import COUNTING
from mimic_vlm.tasks.listing import LISTING
from mimic_vlm.tasks.odd_one import ODD_ONE

MIMIC: dict[str, Task] = {t.name: t for t in (COUNTING, LISTING, COMMON, ODD_ONE)}
"""Every task by name, in the order benches, tables and seeds use."""
TASKS: tuple[str, ...] = tuple(MIMIC)
CONFIGS: dict[str, str] = {config: t.name for t in MIMIC.values() for config in t.configs}
"""Configs of the released dataset -> task (a longer name first: `counting_unbalanced` before `counting`)."""


def task(name: str) -> Task:
    """The MIMIC task of that name; a MimicError naming the known ones."""
    try:
        return MIMIC[name]
    except KeyError:
        raise MimicError(f"--task {name!r}: expected one of {', '.join(TASKS)}") from None


_ANY = Task()


def rules(name: str) -> Task:
    """The rules of a task by name; a task that is not MIMIC's (an imported benchmark's) gets the generic
    ones: a named answer, chosen from the sample's options or the vocabulary."""
    return MIMIC.get(name, _ANY)


__all__ = ["CONFIGS", "MIMIC", "TASKS", "Answer", "Task", "rules", "task"]
