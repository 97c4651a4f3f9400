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
from mimic_vlm.compose.counting import COUNTING, answer_table
from mimic_vlm.compose.listing import LISTING
from mimic_vlm.compose.oddone import ODD_ONE
from mimic_vlm.compose.search import BUDGET, RELAX_BUDGET, Budget, Found, Pool
from mimic_vlm.errors import MimicError
from mimic_vlm.progress import Progress, report
from mimic_vlm.schema import Sample, target_images
from mimic_vlm.tasks import MIMIC, TASKS

COMPOSERS: dict[str, Composer] = {c.task: c for c in (COUNTING, LISTING, COMMON, ODD_ONE)}
FALLBACK_AFTER = 32
"""Failed random attempts in a row, for one control draw, before the systematic search takes over."""
FALLBACK_AGAIN = 4
"""The same once a search has run for that draw (its sets are ready)."""
DUPLICATE_SLACK = 20
"""A task gives up after this many duplicate draws per requested sample: the data has too few distinct ones."""


def task_rng(seed: int, task: str) -> np.random.Generator:
    return np.random.default_rng([seed, TASKS.index(task)])


def compose_task(index: CatalogIndex, task: str, count: int, controls: Controls, seed: int,
                 progress: Progress | None = None) -> list[Sample]:
    """`count` distinct samples of one task, ids `<task>-000000`...; MimicError when controls can't be met."""
    composer = COMPOSERS[task]
    layouts = controls.layouts(task)
    draws = all_draws(controls, task, layouts)
    for drawn in draws:
        why = composer.check(index, drawn)
        if why:
            raise MimicError(f"{task}: {why}")
    rng = Stream(task_rng(seed, task))
    vocabulary = index.catalog.vocabulary() if controls.target_position is not None else {}
    answers = {total: [{**d, "balance": controls.balance, "total": total} for d in options]
               for total, options in answer_table(index, draws).items()} \
        if task == "counting" and controls.balance == "uniform" else {}
    totals = list(answers)
    samples: list[Sample] = []
    seen: set[tuple[tuple[str, ...], str]] = set()
    pools: dict[tuple[tuple[str, Any], ...], Pool] = {}
    duplicates = 0
    repeats: dict[tuple[tuple[str, Any], ...], int] = {}
    while len(samples) < count:
        if totals:  # flat counting answers: the answer first, then a control draw that reaches it
            options = answers[totals[rng.pick(len(totals))]]
            drawn = options[rng.pick(len(options))]
        else:
            drawn = controls.draw(task, layouts, rng)
        key = _key(drawn) if repeats else ()
        streak = 0
        # random draws that keep repeating samples mean the data holds few: the search lists them all (not
        # for a drawn answer: the search's sets do not keep it, and other answers still give new samples)
        searched = repeats.get(key, 0) >= FALLBACK_AFTER and "total" not in drawn
        sample = None
        while True:  # the same controls until they succeed: redrawing them would bias their distribution
            if streak == 1 and not key:
                key = _key(drawn)
            if "total" in drawn and streak >= FALLBACK_AFTER:
                # the data cannot hit this answer with these controls (reaching is an interval bound): drop it
                options = answers[drawn["total"]]
                options.remove(drawn)
                if not options:
                    del answers[drawn["total"]]
                    totals.remove(drawn["total"])
                break
            if searched or streak >= (FALLBACK_AGAIN if key in pools else FALLBACK_AFTER):
                sample = _from_search(composer, index, drawn, rng, pools, key, count, len(samples))
                break
            try:
                sample = composer.compose(index, drawn, rng)
                break
            except Unsatisfiable:
                streak += 1
        if sample is None:
            continue
        skey = (tuple(sorted(sample.images)), sample.question)
        if skey in seen:
            key = key or _key(drawn)
            repeats[key] = repeats.get(key, 0) + 1
            duplicates += 1
            if duplicates > DUPLICATE_SLACK * count + 100:
                raise MimicError(f"{task}: --count {count} is more than the data allows under these controls; "
                                 f"only {len(samples)} distinct samples were found")
            continue
        seen.add(skey)
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


def _key(drawn: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """A control draw as a dictionary key (computed only once a draw fails or repeats: the fast path skips it)."""
    return tuple(sorted(drawn.items()))


def _from_search(composer: Composer, index: CatalogIndex, drawn: dict[str, Any], rng: Stream,
                 pools: dict[tuple[tuple[str, Any], ...], Pool], key: tuple[tuple[str, Any], ...], count: int,
                 done: int) -> Sample:
    """A sample from the systematic search's sets for this draw (searched once, then drawn without repeats)."""
    task = composer.task
    pool = pools.get(key)
    if pool is None:
        found = composer.search(index, drawn, Budget(BUDGET), rng)
        if not found.sets:
            raise MimicError(_refusal(composer, index, drawn, found, rng))
        pool = pools[key] = Pool(found, rng)
    chosen = pool.take()
    if chosen is None:
        raise MimicError(f"{task}: --count {count} is more than the data allows under these controls; only {done} "
                         f"distinct samples were found (with {_shown(drawn)}: {pool.found.describe()}, all used)")
    images, targets = chosen
    return composer.build(index, drawn, list(images), targets, rng)


def _shown(drawn: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in drawn.items() if k not in ("balance", "total", "blank_images"))


def _refusal(composer: Composer, index: CatalogIndex, drawn: dict[str, Any], found: Found, rng: Stream) -> str:
    """One line: what was asked, what the search found, and how far each control must drop for the data."""
    task = composer.task
    hints, left = [], 4 * RELAX_BUDGET
    rules = MIMIC[task]
    for control in rules.relaxable:
        relaxed = rules.lower(drawn, control)
        while relaxed is not None and left > 0:
            budget = Budget(RELAX_BUDGET)
            more = composer.search(index, relaxed, budget, rng)
            left -= RELAX_BUDGET - max(budget.left, 0)
            if more.sets:
                hints.append(f"{control}={relaxed[control]}: {more.describe().removeprefix('found ')}")
                break
            relaxed = rules.lower(relaxed, control)
    if hints:
        advice = f"the data allows {'; '.join(hints)}; lower --{hints[0].split('=')[0].replace('_', '-')}"
    else:
        advice = (f"no lower {' or '.join(rules.relaxable)} helps either (within the search bound); "
                  "use more annotations or another task")
    if drawn.get("blank_images") is False and not index.nonblank.all():
        advice += "; blank images were left out (--blank-images lets them in)"
    return f"{task}: no image set satisfies {_shown(drawn)}: {found.describe()}; {advice}"


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
