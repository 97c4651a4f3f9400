"""Common: which category (or categories) appear in every image?

Every image certainly holds every answer category (spread = n_images, distractors = 0). Uniqueness is
strict: every other category is *certainly absent* from at least one image, so no unknown-presence cell
could make it common too. balance=uniform draws the (first) answer category evenly over the categories
that can fill n_images, natural by frequency; with answers > 1 the others come from an anchor image so
they co-occur. Images whose other categories would also be common are swapped out (bounded repairs).
"""

from __future__ import annotations

from itertools import combinations, islice
from math import comb
from typing import Any

import numpy as np

from mimic_vlm.compose.base import (
    CatalogIndex,
    Choices,
    Composer,
    Stream,
    Unsatisfiable,
    draw_distinct,
    from_pool,
    named_answers_sample,
)
from mimic_vlm.compose.search import Budget, Found, Set
from mimic_vlm.schema import Sample
from mimic_vlm.tasks.common import common_layout

REPAIRS = 16


def _eligible(index: CatalogIndex, n: int) -> Choices:
    return index.memo(("common-elig", n), lambda: Choices.of(np.flatnonzero(index.n_holders >= n), index.n_holders))


def check(index: CatalogIndex, drawn: dict[str, int]) -> str | None:
    n, a = drawn["n_images"], drawn["answers"]
    if not len(_eligible(index, n)):
        best = int(np.argmax(index.n_holders))
        return (f"n_images={n} needs {n} images certainly holding one common category; the catalog's most "
                f"frequent category {index.names[best]!r} is in {index.n_holders[best]}")
    most = index.memo(("most-per-image",), lambda: int(index.present.sum(1).max()))
    if a > most:
        return f"answers={a} needs images holding {a} categories each; no image of the catalog holds more than {most}"
    return None


def compose(index: CatalogIndex, drawn: dict[str, Any], rng: Stream) -> Sample:
    n, a, balance = drawn["n_images"], drawn["answers"], drawn["balance"]
    first = _eligible(index, n).draw(rng, balance)
    answer_ids = [first]
    if a > 1:
        anchor = index.holders[first][rng.pick(len(index.holders[first]))]
        others = [c for c in index.cats(int(anchor))[0] if c != first and index.n_holders[c] >= n]
        if len(others) < a - 1:
            raise Unsatisfiable
        answer_ids += [others[j] for j in rng.sample(len(others), a - 1)]
    answer_ids.sort(key=index.names.__getitem__)
    ids = np.array(answer_ids)
    present, absent, cats = index.present, index.absent, index.cats

    def holds_all(i: int) -> bool:
        return all(present[i, c] for c in answer_ids)

    def all_holders() -> np.ndarray:
        return np.flatnonzero(present[:, ids].all(1))

    used: set[int] = set()
    propose = from_pool(rng, index.holders[first])
    images = draw_distinct(rng, propose, n, holds_all, used, all_holders)
    for _ in range(REPAIRS):
        maybe_common = set.intersection(*(set(held + unsure) for held, unsure in map(cats, images)))
        extra = sorted(maybe_common.difference(answer_ids))
        if not extra:
            break
        e = extra[rng.pick(len(extra))]
        def fits(i: int, e: int = e) -> bool:
            return holds_all(i) and bool(absent[i, e])

        def exact(e: int = e) -> np.ndarray:
            return np.flatnonzero(present[:, ids].all(1) & absent[:, e])

        swap = draw_distinct(rng, propose, 1, fits, used, exact)
        images[rng.pick(n)] = swap[0]
    else:
        raise Unsatisfiable
    return build(index, drawn, images, answer_ids, rng)


def build(index: CatalogIndex, drawn: dict[str, Any], images: list[int], answer_ids: list[int] | tuple[int, ...],
          rng: Stream) -> Sample:
    """The sample of a valid set: `answer_ids` are the categories common to the images."""
    return named_answers_sample(index, "common", images, answer_ids, common_layout, drawn, rng)


def search(index: CatalogIndex, drawn: dict[str, Any], budget: Budget, rng: Stream) -> Found:
    """Image sets whose common categories are exactly an answer set, by backtracking.

    For an answer set S and a first holder, every other category the images may share must be certainly
    absent from some chosen image: the search branches on the candidates that exclude the most constrained
    such category (complete: a valid set always contains one of them), then fills free slots with any holder.
    """
    n, a = drawn["n_images"], drawn["answers"]
    found = Found(space=f"{index.catalog.n_images:,} images")
    seen: set[Set] = set()
    present, absent, cats = index.present, index.absent, index.cats

    def maybe(i: int) -> frozenset[int]:
        held, unsure = cats(i)
        return frozenset(held) | frozenset(unsure)

    def extend(chosen: list[int], extra: frozenset[int], holders: list[int], answer: tuple[int, ...],
               visited: set[frozenset[int]]) -> bool:
        """False to stop the whole search (budget used up or enough sets kept)."""
        key = frozenset(chosen)
        if key in visited:
            return True
        visited.add(key)
        free = [j for j in holders if j not in key]
        if not budget.spend(len(free) * (1 + len(extra))):
            return False
        if not extra:
            fills = combinations(rng.shuffled(free), n - len(chosen))
            for fill in islice(fills, FILLS):
                if not found.add(tuple(chosen) + fill, answer, seen):
                    return False
            found.truncated |= next(fills, None) is not None
            return True
        if len(chosen) == n:
            return True
        options = [[j for j in free if absent[j, e]] for e in sorted(extra)]
        branch = min(options, key=len)
        return all(extend(chosen + [j], extra & maybe(j), holders, answer, visited) for j in branch)

    for answer in rng_order(rng, _answer_sets(index, n, a, budget)):
        holders = np.flatnonzero(present[:, list(answer)].all(1)).tolist()
        if len(holders) < n:
            continue
        visited: set[frozenset[int]] = set()
        for first in rng.shuffled(holders):
            if not extend([first], maybe(first) - set(answer), holders, answer, visited):
                found.complete = False
                return found
    found.complete = not budget.exhausted
    return found


FILLS = 64
"""Completions kept per partial set whose common categories are already exact (any free holder fits)."""


def _answer_sets(index: CatalogIndex, n: int, a: int, budget: Budget) -> list[tuple[int, ...]]:
    """Candidate answer sets: single categories with n holders, or a co-occurring categories of one image."""
    ids = _eligible(index, n).ids
    if a == 1:
        return [(c,) for c in ids]
    ok = set(ids)
    out: dict[tuple[int, ...], None] = {}
    for i in range(index.catalog.n_images):
        held = sorted(c for c in index.cats(i)[0] if c in ok)
        if not budget.spend(1 + comb(len(held), a)):
            break
        out.update(dict.fromkeys(combinations(held, a)))
    return list(out)


def rng_order(rng: Stream, items: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
    return [items[j] for j in rng.sample(len(items), len(items))]


COMMON = Composer("common", check, compose, build, search)
