"""Odd one: which category (or categories) appear in exactly one image?

Each answer category is certainly present in exactly one image (its own: spread = answers) and certainly
absent from every other image (distractors = n_images - answers). Uniqueness is strict: every other
category that is present or of unknown presence anywhere in the set is *certainly* present in at least
two images, so no unknown cell could create a second odd one.

Images are added greedily: each new image is drawn from the holders of a category that still needs a
second certain holder, and accepted only if what it leaves uncovered can still be covered by the slots
left; a dead end retries the whole sample (bounded by the framework).
"""

from __future__ import annotations

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
from mimic_vlm.tasks.odd_one import ODD_ONE as TASK
from mimic_vlm.tasks.odd_one import odd_one_layout

TRIES = 32
"""Candidates examined per image slot."""
ODD_CANDIDATES = 4
"""Candidate images examined for each odd category's own image."""


class _Tally:
    """Certain and possible holders per category over the images chosen so far; `needy` still lack a pair."""

    def __init__(self, index: CatalogIndex, odd: set[int]) -> None:
        self.index, self.odd = index, odd
        self.certain: dict[int, int] = {}
        self.possible: dict[int, int] = {}
        self.needy: set[int] = set()

    def _changes(self, i: int) -> list[tuple[int, int, int]]:
        held, unknown = self.index.cats(i)
        return [(c, 1, 1) for c in held if c not in self.odd] + [(c, 0, 1) for c in unknown if c not in self.odd]

    def needy_after(self, i: int) -> int:
        """How many categories would still lack a second certain holder after adding image i."""
        n = len(self.needy)
        for c, dc, dp in self._changes(i):
            before = c in self.needy
            after = self.certain.get(c, 0) + dc < 2 and self.possible.get(c, 0) + dp > 0
            n += after - before
        return n

    def add(self, i: int) -> None:
        for c, dc, dp in self._changes(i):
            self.certain[c] = self.certain.get(c, 0) + dc
            self.possible[c] = self.possible.get(c, 0) + dp
            if self.certain[c] < 2:
                self.needy.add(c)
            else:
                self.needy.discard(c)


def _stocked(index: CatalogIndex, n: int) -> Choices:
    """Categories that can be odd: one holder, and n - 1 images certainly without them."""
    return index.memo(("odd-elig", n), lambda: Choices.of(
        np.flatnonzero((index.n_holders >= 1) & (index.n_absent >= n - 1)), index.n_holders))


def check(index: CatalogIndex, drawn: dict[str, int]) -> str | None:
    n, a = drawn["n_images"], drawn["answers"]
    if len(_stocked(index, n)) < a:
        return (f"answers={a} needs {a} categories each held by an image and certainly absent from n_images-1="
                f"{n - 1} others; the catalog has {len(_stocked(index, n))}")
    return None


def compose(index: CatalogIndex, drawn: dict[str, Any], rng: Stream) -> Sample:
    n, a, balance = drawn["n_images"], drawn["answers"], drawn["balance"]
    stocked = _stocked(index, n)
    odd: list[int] = []
    while len(odd) < a:
        c = stocked.draw(rng, balance)
        if c not in odd:
            odd.append(c)
    odd.sort(key=index.names.__getitem__)
    ids = np.array(odd)
    absent = index.absent
    tally = _Tally(index, set(odd))
    used: set[int] = set()
    images: list[int] = []
    for o in odd:  # each odd category's own image: the other odd categories certainly absent there
        others = ids[ids != o]

        def ok(i: int, others: np.ndarray = others) -> bool:
            return bool(absent[i, others].all())

        # the fewest companions make the easiest odd image: best of a few candidates
        def exact(o: int = o, others: np.ndarray = others) -> np.ndarray:
            return np.flatnonzero(index.present[:, o] & absent[:, others].all(1))

        options = [draw_distinct(rng, from_pool(rng, index.holders[o]), 1, ok, set(used), exact)[0]
                   for _ in range(ODD_CANDIDATES)]
        j = min(options, key=tally.needy_after)
        used.add(j)
        images.append(j)
        tally.add(j)

    nonblank = not drawn.get("blank_images", True)

    def lacks_odd(i: int) -> bool:
        return bool(absent[i, ids].all()) and (not nonblank or bool(index.nonblank[i]))

    for slots_left in range(n - a - 1, -1, -1):
        images.append(_next_image(index, tally, lacks_odd, used, slots_left, rng))
    if tally.needy:
        raise Unsatisfiable
    return build(index, drawn, images, odd, rng)


def build(index: CatalogIndex, drawn: dict[str, Any], images: list[int], odd: list[int] | tuple[int, ...],
          rng: Stream) -> Sample:
    """The sample of a valid set: `odd` are the categories held by exactly one of the images."""
    return named_answers_sample(index, TASK.name, images, odd, odd_one_layout, drawn, rng)


def search(index: CatalogIndex, drawn: dict[str, Any], budget: Budget, rng: Stream) -> Found:
    """Image sets with exactly the requested number of odd categories, by backtracking.

    First the odd categories and their own images (each certainly absent from the other odd images), then
    the other images: while some category of the set lacks a second certain holder, branch on the holders
    of the most constrained one (a valid set always contains one of them); once none does, branch on any
    image certainly without the odd categories. Partial sets already explored are skipped.
    """
    n, a = drawn["n_images"], drawn["answers"]
    found = Found(space=f"{index.catalog.n_images:,} images")
    seen: set[Set] = set()
    absent, holders, cats = index.absent, index.holders, index.cats

    def needy(chosen: list[int], odd: frozenset[int]) -> dict[int, int]:
        """Category -> certain holders still missing (1 or 2), over non-odd categories of the set."""
        certain: dict[int, int] = {}
        possible: set[int] = set()
        for i in chosen:
            held, unsure = cats(i)
            for c in held:
                certain[c] = certain.get(c, 0) + 1
            possible.update(held)
            possible.update(unsure)
        return {c: 2 - certain.get(c, 0) for c in possible - odd if certain.get(c, 0) < 2}

    def cover(chosen: list[int], odd: tuple[int, ...], allowed: np.ndarray, visited: set[frozenset[int]]) -> bool:
        """False to stop the whole search (budget used up or enough sets kept)."""
        key = frozenset(chosen)
        if key in visited:
            return True
        visited.add(key)
        missing = needy(chosen, frozenset(odd))
        slots = n - len(chosen)
        if not budget.spend(1 + len(missing)):
            return False
        if not missing:
            if not slots:
                return found.add(tuple(chosen), odd, seen)
            free = [j for j in np.flatnonzero(allowed).tolist() if j not in key]
            budget.spend(len(free))
            return all(cover(chosen + [j], odd, allowed, visited) for j in rng.shuffled(free))
        if max(missing.values()) > slots:
            return True
        options = []
        for c, k in missing.items():
            budget.spend(len(holders[c]))
            pool = [j for j in holders[c][allowed[holders[c]]].tolist() if j not in key]
            if len(pool) < k:
                return True
            options.append(pool)
        return all(cover(chosen + [j], odd, allowed, visited) for j in min(options, key=len))

    def pick_odd(odd: tuple[int, ...], chosen: list[int], start: int, stocked: list[int]) -> bool:
        if len(odd) == a:
            allowed = np.asarray(absent[:, list(odd)].all(1))
            if not drawn.get("blank_images", True):
                allowed &= index.nonblank
            budget.spend(index.catalog.n_images // 64 + 1)
            return cover(chosen, odd, allowed, set())
        for p in range(start, len(stocked)):
            o = stocked[p]
            if chosen and not absent[chosen, o].all():
                continue
            for i in rng.shuffled(holders[o].tolist()):
                if not budget.spend():
                    return False
                if i not in chosen and absent[i, list(odd)].all():
                    if not pick_odd(tuple(sorted(odd + (o,))), chosen + [i], p + 1, stocked):
                        return False
        return True

    pick_odd((), [], 0, rng.shuffled(_stocked(index, n).ids))
    found.complete = not budget.exhausted
    return found


def _next_image(index: CatalogIndex, tally: _Tally, lacks_odd: Any, used: set[int], slots_left: int,
                rng: Stream) -> int:
    """An image without the odd categories whose uncovered categories the remaining slots can still pair."""
    if tally.needy:
        open_categories = sorted(tally.needy)
        pools = [index.holders[open_categories[rng.pick(len(open_categories))]]]
        if not len(pools[0]):  # a category of unknown presence only: no image can pair it (a dead end)
            raise Unsatisfiable
    else:
        held = sorted(c for c, k in tally.certain.items() if k)
        pools = [index.holders[c] for c in held] or [index.all_images]
    best, best_needy = -1, 2 * slots_left + 1  # accept at most two uncovered categories per open slot
    for _ in range(TRIES):
        pool = pools[rng.pick(len(pools))]
        i = int(pool[rng.pick(len(pool))])
        if i in used or not lacks_odd(i):
            continue
        needy = tally.needy_after(i)
        if needy < best_needy:
            best, best_needy = i, needy
            if needy == 0:
                break
    if best < 0:
        raise Unsatisfiable
    used.add(best)
    tally.add(best)
    return best


ODD_ONE = Composer(TASK.name, check, compose, build, search)
