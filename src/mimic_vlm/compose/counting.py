"""Counting: how many instances of the target categories are there across all the images?

Spread images hold at least one target and have a *known count* for every target; distractors hold
certainly none of them. The answer is the sum of the target counts over the spread images.
balance=uniform makes the answers flat: each spread value can reach the SPAN smallest totals its images can
hold (usually [spread, spread + SPAN - 1], less what the data cannot reach); the answer is drawn evenly from
the union of those totals over every allowed control draw, then a control draw that reaches it, then a
category able to reach it (so answer 1 is as frequent as answer 8, and the spread follows the answers).
natural draws the controls evenly, targets by frequency and images uniformly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from math import comb
from typing import Any

import numpy as np

from mimic_vlm.compose.base import (
    CatalogIndex,
    Choices,
    Composer,
    Stream,
    Unsatisfiable,
    any_image,
    draw_distinct,
    from_pool,
    make_sample,
)
from mimic_vlm.compose.search import Budget, Found, search_target_sets
from mimic_vlm.compose.templates import question
from mimic_vlm.schema import Sample

SPAN = 10
"""Number of distinct answers balance=uniform spreads evenly over, per spread value."""


@dataclass(frozen=True)
class _Plan:
    """What the data allows for one (spread, distractors) pair, computed once."""

    eligible: Choices
    """Categories that alone can fill the spread images and the distractors."""
    companions: Choices
    """Categories that can join a multi-concept query (a count-known holder, d images without them)."""
    reaching: dict[int, Choices]
    """balance=uniform: total -> eligible categories whose spread holders can add up to it exactly. Totals
    are the SPAN from the smallest the spread images can hold (usually spread: one instance each)."""


def _plan(index: CatalogIndex, s: int, d: int) -> _Plan:
    def make() -> _Plan:
        ok = np.flatnonzero((index.n_counted >= s) & (index.n_absent >= d)).tolist()
        reach = {}
        if ok:
            lo = min(index.bottom_sum(c, s) for c in ok)
            for total in range(lo, lo + SPAN):
                fits = [c for c in ok if index.bottom_sum(c, s) <= total <= index.top_sum(c, s)]
                if fits:
                    reach[total] = Choices.of(fits, index.n_counted)
        companions = np.flatnonzero((index.n_counted >= 1) & (index.n_absent >= d))
        return _Plan(Choices.of(ok, index.n_counted), Choices.of(companions, index.n_counted), reach)
    return index.memo(("counting", s, d), make)


def answer_table(index: CatalogIndex, draws: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    """balance=uniform: answer -> the control draws whose spread can reach it (see `compose_task`)."""
    table: dict[int, list[dict[str, Any]]] = {}
    for drawn in draws:
        for total in _plan(index, drawn["spread"], drawn["distractors"]).reaching:
            table.setdefault(total, []).append(drawn)
    return dict(sorted(table.items()))


def reachable_categories(index: CatalogIndex, s: int, d: int, total: int) -> list[str]:
    """Names of the categories whose count-known holders can add up to `total` over s images, with d images
    certainly without them (balance=uniform's table; `total` beyond its SPAN reaches none)."""
    reaching = _plan(index, s, d).reaching.get(total)
    return [index.names[c] for c in reaching.ids] if reaching else []


def check(index: CatalogIndex, drawn: dict[str, int]) -> str | None:
    s, d, k = drawn["spread"], drawn["distractors"], drawn["concepts"]
    plan = _plan(index, s, d)
    if k > 1 and len(plan.companions) < k:
        return (f"concepts={k} needs {k} categories with a count-known holder and {d} images without them; "
                f"the catalog has {len(plan.companions)}")
    if len(plan.eligible) or k > 1:  # several targets may fill the spread together: the search decides
        return None
    best = int(np.argmax(index.n_counted))
    if index.n_counted[best] < s:
        return (f"spread={s} needs {s} images holding one category with uncertain counts excluded; the catalog "
                f"has at most {index.n_counted[best]} (for {index.names[best]!r})")
    most = int(index.n_absent[index.n_counted >= s].max())
    return (f"distractors={d} needs {d} images certainly without a category that spread={s} images hold; "
            f"the catalog has at most {most}")


def compose(index: CatalogIndex, drawn: dict[str, Any], rng: Stream) -> Sample:
    s, d, k, balance = drawn["spread"], drawn["distractors"], drawn["concepts"], drawn["balance"]
    plan = _plan(index, s, d)
    total: int | None = drawn.get("total")
    if balance == "uniform":
        if total is None:
            totals = list(plan.reaching)
            if not totals:
                raise Unsatisfiable
            total = totals[rng.pick(len(totals))]
        if total not in plan.reaching:
            raise Unsatisfiable
        if "category" in drawn:  # a design that holds the category fixed (compose/variants.py)
            first = index.names.index(drawn["category"])
            if first not in plan.reaching[total].ids:
                raise Unsatisfiable
        else:
            first = plan.reaching[total].draw(rng, balance)
    else:
        first = plan.eligible.draw(rng, balance)
    targets = [first]
    while len(targets) < k:
        c = plan.companions.draw(rng, balance)
        if c not in targets:
            targets.append(c)
    targets.sort(key=index.names.__getitem__)
    used: set[int] = set()
    spread = _spread_images(index, targets, first, s, total, used, rng)
    absent, counts = index.absent, index.counts
    answer = total if total is not None else sum(int(counts[i, c]) for i in spread for c in targets)
    t = np.array(targets)
    if k == 1:
        def none_held(i: int) -> bool:
            return bool(absent[i, first])
    else:
        def none_held(i: int) -> bool:
            return bool(absent[i, t].all())
    distractors = draw_distinct(rng, any_image(rng, index), d, none_held, used,
                                lambda: np.flatnonzero(absent[:, t].all(1)))
    return build(index, drawn, spread + distractors, targets, rng, answer)


def build(index: CatalogIndex, drawn: dict[str, Any], images: list[int], targets: list[int] | tuple[int, ...],
          rng: Stream, answer: int | None = None) -> Sample:
    """The sample of a valid set (spread images first or not: they are shuffled here)."""
    targets = sorted(targets, key=index.names.__getitem__)
    if answer is None:
        answer = int(index.counts[np.ix_(images, targets)].sum(dtype=np.int64))
    names = [index.names[c] for c in targets]
    controls = {"n_images": drawn["n_images"], "spread": drawn["spread"], "distractors": drawn["distractors"],
                "concepts": drawn["concepts"], "balance": drawn["balance"]}
    return make_sample(index, "counting", rng.shuffled(list(images)), question("counting", names), answer, names,
                       controls)


def search(index: CatalogIndex, drawn: dict[str, Any], budget: Budget, rng: Stream) -> Found:
    """Every target set whose count-known holders and certain absentees can fill the spread and distractors
    (exhaustive over target sets within the budget). balance=uniform's answer target is not imposed here:
    the fallback serves controls the random draws could not meet, whatever their total."""
    s, d, k = drawn["spread"], drawn["distractors"], drawn["concepts"]
    found = Found(space=f"{comb(len(companions := _plan(index, s, d).companions.ids), k):,} target sets")
    return search_target_sets(index, companions, k, s, d, lambda t: t, index.uncertain, budget, rng, found)


def _spread_images(index: CatalogIndex, targets: list[int], first: int, s: int, total: int | None,
                   used: set[int], rng: Stream) -> list[int]:
    """s images holding a target, every target's count known; summing to `total` when one is given."""
    t = np.array(targets)
    uncertain, counts = index.uncertain, index.counts
    if total is None:
        if len(targets) == 1:
            pool = index.counted_holders[first]
            return draw_distinct(rng, from_pool(rng, pool), s, lambda i: True, used, lambda: pool)
        holders = [index.counted_holders[c] for c in targets]
        cumulative = np.cumsum([len(h) for h in holders]).tolist()

        def propose() -> int:
            h = holders[rng.pick_weighted(cumulative)]
            return int(h[rng.pick(len(h))])
        return draw_distinct(rng, propose, s, lambda i: not uncertain[i, t].any(), used,
                             lambda: np.flatnonzero(counts[:, t].any(1) & ~uncertain[:, t].any(1)))
    if len(targets) == 1:  # choose per-image counts adding up to `total`, then images holding exactly those
        buckets = index.count_buckets[first]
        caps = index.memo(("count-caps", first, s), lambda: tuple(
            (v, min(s, len(b))) for v, b in sorted(buckets.items())))
        # keyed by the count profile, not the category: most categories share one
        parts = index.memo(("count-parts", caps, s, total), lambda: partitions(caps, s, total))
        if not parts:
            raise Unsatisfiable
        return _take(parts[rng.pick(len(parts))], buckets, used, rng)
    # several targets: a candidate pool stratified over the first target's counts, then an exact split
    buckets = index.count_buckets[first]
    candidates = {int(b[rng.pick(len(b))]) for v in sorted(buckets) for b in [buckets[v]]
                  for _ in range(min(s, len(b)))}
    for c in targets:
        h = index.counted_holders[c]
        candidates.update(int(h[rng.pick(len(h))]) for _ in range(2 * s))
    by_sum: dict[int, list[int]] = {}
    for i in sorted(candidates):
        if not uncertain[i, t].any():
            by_sum.setdefault(sum(int(counts[i, c]) for c in targets), []).append(i)
    parts = partitions(tuple((v, len(by_sum[v])) for v in sorted(by_sum)), s, total)
    if not parts:
        raise Unsatisfiable
    return _take(parts[rng.pick(len(parts))], by_sum, used, rng)


def _take(part: tuple[int, ...], groups: Mapping[int, Sequence[int] | np.ndarray], used: set[int], rng: Stream) -> list[int]:
    """Distinct images, one per value of `part`, each from the group holding exactly that value."""
    out = []
    for v in sorted(set(part)):
        pool = groups[v]
        out += [int(pool[j]) for j in rng.sample(len(pool), part.count(v))]
    used.update(out)
    return out


def partitions(caps: tuple[tuple[int, int], ...], s: int, total: int) -> list[tuple[int, ...]]:
    """Every multiset of s values adding up to `total`, value v used at most cap times (caps ascending).

    Few exist for the totals uniform balance asks for (e.g. 30 ways to split 25 over 16 images), so they
    are listed once per (category, spread, total) and drawn uniformly afterwards.
    """
    out: list[tuple[int, ...]] = []
    top = caps[-1][0] if caps else 0

    def grow(j: int, left: int, rest: int, acc: tuple[int, ...]) -> None:
        if left == 0:
            if rest == 0:
                out.append(acc)
            return
        if j == len(caps) or caps[j][0] * left > rest or top * left < rest:
            return
        v, cap = caps[j]
        for k in range(min(cap, left), -1, -1):
            if v * k <= rest:
                grow(j + 1, left - k, rest - v * k, acc + (v,) * k)

    grow(0, s, total, ())
    return sorted(out)


COUNTING = Composer("counting", check, compose, build, search)
