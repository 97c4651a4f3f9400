"""Composing a bench's samples: draw controls, call the task's composer, keep distinct samples (written by
`bench/generate.py`).

Each task draws from its own generator, seeded by (seed, task number), so `--task all` gives exactly the
union of the per-task runs, and nothing depends on dict/set order or hashing: the same catalog,
controls and seed give byte-identical benches.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mimic_vlm.annotations.catalog import Catalog
from mimic_vlm.compose.base import CatalogIndex, Composer, Stream, Unsatisfiable
from mimic_vlm.compose.common import COMMON
from mimic_vlm.compose.controls import Controls, all_draws, place_targets
from mimic_vlm.compose.counting import COUNTING
from mimic_vlm.compose.listing import LISTING
from mimic_vlm.compose.oddone import ODD_ONE
from mimic_vlm.errors import MimicError
from mimic_vlm.progress import Progress, report
from mimic_vlm.schema import TASKS, Sample, target_images

COMPOSERS: dict[str, Composer] = {c.task: c for c in (COUNTING, LISTING, COMMON, ODD_ONE)}
ATTEMPTS = 64
"""Failed attempts allowed per sample (on average over a task) before the request is declared unsatisfiable."""
DUPLICATE_SLACK = 20
"""A task gives up after this many duplicate draws per requested sample: the data has too few distinct ones."""


def task_rng(seed: int, task: str) -> np.random.Generator:
    return np.random.default_rng([seed, TASKS.index(task)])


def compose_task(index: CatalogIndex, task: str, count: int, controls: Controls, seed: int,
                 progress: Progress | None = None) -> list[Sample]:
    """`count` distinct samples of one task, ids `<task>-000000`...; MimicError when controls can't be met."""
    composer = COMPOSERS[task]
    layouts = controls.layouts(task)
    for drawn in all_draws(controls, task, layouts):
        why = composer.check(index, drawn)
        if why:
            raise MimicError(f"{task}: {why}")
    rng = Stream(task_rng(seed, task))
    vocabulary = index.catalog.vocabulary() if controls.target_position is not None else {}
    samples: list[Sample] = []
    seen: set[tuple[tuple[str, ...], str]] = set()
    duplicates = failures = 0
    while len(samples) < count:
        drawn = controls.draw(task, layouts, rng)
        while True:  # the same controls until they succeed: redrawing them would bias their distribution
            try:
                sample = composer.compose(index, drawn, rng)
                break
            except Unsatisfiable:
                failures += 1
                if failures > ATTEMPTS * (len(samples) + 1):
                    raise MimicError(_give_up(task, drawn, failures, len(samples))) from None
        key = (tuple(sorted(sample.images)), sample.question)
        if key in seen:
            duplicates += 1
            if duplicates > DUPLICATE_SLACK * count + 100:
                raise MimicError(f"{task}: --count {count} is more than the data allows under these controls; "
                                 f"only {len(samples)} distinct samples were found")
            continue
        seen.add(key)
        if controls.target_position is not None:
            sample = with_target_position(sample, controls.target_position, vocabulary)
        sample.id = f"{task}-{len(samples):06d}"
        samples.append(sample)
        report(progress, f"composing {task}", len(samples), count)
    return samples


def with_target_position(sample: Sample, mode: str, vocabulary: dict[str, Any]) -> Sample:
    """The sample with its target-holding images moved to `mode` (controls.place_targets), recording the
    mode and the 1-based positions the holders now take (`target_positions`). The answer is order-invariant
    for every task, so only the order and the two controls change."""
    holds = target_images(sample, vocabulary) or [False] * len(sample.images)
    order = place_targets(list(range(len(sample.images))), holds, mode)
    sample.images = [sample.images[i] for i in order]
    sample.image_objects = [sample.image_objects[i] for i in order] if sample.image_objects else []
    sample.image_uncertain = [sample.image_uncertain[i] for i in order] if sample.image_uncertain else []
    sample.controls = {**sample.controls, "target_position": mode,
                       "target_positions": [j + 1 for j, i in enumerate(order) if holds[i]]}
    return sample


def _give_up(task: str, drawn: dict[str, Any], failures: int, done: int) -> str:
    shown = " ".join(f"{k}={v}" for k, v in drawn.items())
    return (f"{task}: the catalog barely holds image sets with {shown} ({failures} failed attempts for {done} "
            f"samples); lower spread/distractors/n_images/concepts/answers or --count")


def task_list(tasks: str | Sequence[str]) -> list[str]:
    if isinstance(tasks, str):
        return list(TASKS) if tasks == "all" else [tasks]
    return list(tasks)


def compose_bench(catalog: Catalog, tasks: str | Sequence[str], count: int, controls: Controls, seed: int,
                  progress: Progress | None = None) -> list[Sample]:
    """All samples of a bench, task by task in the given order (`tasks`: a name, several, or "all")."""
    tasks = task_list(tasks)
    for t in tasks:
        if t not in COMPOSERS:
            raise MimicError(f"--task {t!r}: expected one of {', '.join(TASKS)} or all")
    if count < 1:
        raise MimicError(f"--count {count}: must be at least 1")
    index = CatalogIndex(catalog)
    return [s for t in tasks for s in compose_task(index, t, count, controls, seed, progress)]
