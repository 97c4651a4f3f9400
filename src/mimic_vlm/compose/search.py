"""The systematic fallback: when random construction keeps failing, search the catalog for valid sets.

Random construction (the task modules) is fast but can miss the few valid sets a small or sparse catalog
holds. Each task therefore also has a `search(index, drawn, budget)`: a backtracking search whose branching
is complete (every valid set is reachable from the root), so a search that finishes within its budget is
exhaustive and "no set found" means none exists. The budget counts candidate images examined; a search that
exhausts it says so, and its refusal reads "within the search bound".

A search returns `Found`: the distinct valid sets it met (images + target ids, up to `MAX_SETS`), how many
valid sets exist (exact where it can be counted), and whether the search was exhaustive. Composing then
draws samples from those sets (`Pool`), so a rare-but-possible request still succeeds and an impossible
one gets a refusal that says what the data holds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from math import comb

import numpy as np

from mimic_vlm.compose.base import CatalogIndex, Stream

BUDGET = 400_000
"""Candidate images a search may examine (about a second of work) before it stops being exhaustive."""
RELAX_BUDGET = 60_000
"""The smaller budget of the searches that tell a refusal which relaxed control the data allows."""
MAX_SETS = 4096
"""Distinct valid sets a search keeps (samples are drawn from them)."""

Set = tuple[tuple[int, ...], tuple[int, ...]]
"""(image rows, target ids): one valid set, images sorted, targets as the task numbers them."""


class Budget:
    """Work counter shared by one search; `spend` returns False once the budget is used up."""

    def __init__(self, limit: int) -> None:
        self.left = limit
        self.exhausted = False

    def spend(self, n: int = 1) -> bool:
        self.left -= n
        if self.left < 0:
            self.exhausted = True
        return not self.exhausted


@dataclass
class Found:
    """What a search found for one drawn control combination."""

    sets: list[Set] = field(default_factory=list)
    total: int = 0
    """Valid sets that exist: exact when `exact`, else a lower bound (the distinct sets met)."""
    exact: bool = False
    complete: bool = True
    """The search finished within its budget, so `total == 0` means no valid set exists."""
    truncated: bool = False
    """Some valid sets were skipped on purpose (enough kept): `total` is then a lower bound."""
    space: str = ""
    """What was searched, for messages ("38 images")."""

    def add(self, images: tuple[int, ...], targets: tuple[int, ...], seen: set[Set]) -> bool:
        """Record a valid set (deduplicated); False once MAX_SETS are kept (the caller may stop)."""
        key = (tuple(sorted(images)), targets)
        if key not in seen:
            seen.add(key)
            self.sets.append(key)
            if not self.exact:
                self.total += 1
        if len(self.sets) >= MAX_SETS:
            self.truncated = True
            return False
        return True

    def describe(self) -> str:
        """'found 16 valid sets' / 'found none (exhaustive search of 80 images)' / '... within the bound'."""
        how = "exhaustive search" if self.complete else "search stopped at its bound"
        where = f" of {self.space}" if self.space else ""
        if not self.total:
            return f"found no valid set ({how}{where})"
        counted = f"{self.total:,}" if self.total < 10**9 else f"{self.total:.1e}"
        whole = self.complete and (self.exact or not self.truncated)
        amount = counted if whole else f"at least {counted}"
        return f"found {amount} valid set{'s' if self.total != 1 else ''} ({how}{where})"


class Pool:
    """Samples drawn from a search's sets in a seeded random order, each set at most once."""

    def __init__(self, found: Found, rng: Stream) -> None:
        self.found = found
        self._order = rng.shuffled(list(range(len(found.sets))))
        self._next = 0

    def take(self) -> Set | None:
        """The next unused set, or None when all were used."""
        if self._next == len(self._order):
            return None
        self._next += 1
        return self.found.sets[self._order[self._next - 1]]


def split_sets(groups: list[tuple[tuple[int, ...], list[int], list[int]]], s: int, d: int, rng: Stream,
               found: Found) -> None:
    """Sets of counting/listing: per target set, any s of its holders plus any d of its certain absentees.

    Their number has a closed form, so `found.total` is exact; the sets kept are all of them when few,
    else a seeded random selection.
    """
    found.exact = True
    found.total = sum(comb(len(h), s) * comb(len(a), d) for _, h, a in groups)
    seen: set[Set] = set()
    if found.total <= MAX_SETS:
        for targets, h, a in groups:
            for spread in combinations(h, s):
                for rest in combinations(a, d):
                    found.add(spread + rest, targets, seen)
        return
    live = [g for g in groups if len(g[1]) >= s and len(g[2]) >= d]
    for _ in range(2 * MAX_SETS):
        targets, h, a = live[rng.pick(len(live))]
        images = tuple(h[j] for j in rng.sample(len(h), s)) + tuple(a[j] for j in rng.sample(len(a), d))
        if not found.add(images, targets, seen):
            break


def search_target_sets(index: CatalogIndex, candidates: Sequence[int], k: int, s: int, d: int,
                       columns: Callable[[list[int]], list[int]], unsure: np.ndarray, budget: Budget,
                       rng: Stream, found: Found) -> Found:
    """Counting and listing: every set of `k` candidate targets whose holders (images holding one of its
    `columns`, none of them marked in `unsure`) can fill `s` spread images and whose certain absentees can
    fill `d` distractors; the sets are then split into images by `split_sets`."""
    groups = []
    for targets in combinations(candidates, k):
        if not budget.spend(index.catalog.n_images):
            found.complete = False
            break
        cols = columns(list(targets))
        holders = np.flatnonzero(index.present[:, cols].any(1) & ~unsure[:, cols].any(1))
        if len(holders) >= s:
            absent = np.flatnonzero(index.absent[:, cols].all(1))
            if len(absent) >= d:
                groups.append((targets, holders.tolist(), absent.tolist()))
    split_sets(groups, s, d, rng, found)
    return found
