"""Listing: which categories of the target supercategory(ies) appear across the images?

Spread images hold at least one member and the presence of *every* member is known in them (an
unknown-presence cell could add or hide an answer); distractors hold certainly no member. The answer
is the sorted list of members present in at least one image. Supercategories with a single member
(COCO 'person') are never listed: their answer would be the question. balance=uniform draws supercategories
evenly and fills each spread image from a uniformly chosen member (so answer categories come out even);
natural draws supercategories by frequency and images uniformly among their holders.
"""

from __future__ import annotations

from math import comb
from typing import Any

import numpy as np

from mimic_vlm.compose.base import (
    CatalogIndex,
    Choices,
    Composer,
    Stream,
    any_image,
    draw_distinct,
    from_pool,
    make_sample,
)
from mimic_vlm.compose.search import Budget, Found, search_target_sets
from mimic_vlm.schema import Sample
from mimic_vlm.tasks.listing import LISTING as TASK


def _tables(index: CatalogIndex) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Listable supercategories (two members or more), their holder and certain-absence counts, aligned."""
    def make() -> tuple[list[str], np.ndarray, np.ndarray]:
        names = [g for g in index.supercategories if len(index.catalog.supercategory_members[g]) >= 2]
        return (names, np.array([len(index.super_holders[g]) for g in names], dtype=np.int64),
                np.array([index.super_absent[g] for g in names], dtype=np.int64))
    return index.memo(("list-tables",), make)


def _eligible(index: CatalogIndex, s: int, d: int, lead: bool) -> Choices:
    """Supercategories that can lead a query (fill all s spread images) or join one (one holder)."""
    _, holders, absent = _tables(index)
    need = s if lead else 1
    return index.memo(("list-elig", s, d, lead),
                      lambda: Choices.of(np.flatnonzero((holders >= need) & (absent >= d)), holders))


def check(index: CatalogIndex, drawn: dict[str, int]) -> str | None:
    s, d, k = drawn["spread"], drawn["distractors"], drawn["concepts"]
    names, holders, absent = _tables(index)
    if not names:
        return "listing needs a supercategory with at least 2 categories; the catalog has none"
    if len(_eligible(index, s, d, False)) < k:
        return (f"concepts={k} needs {k} supercategories with a holder and {d} images without their members; "
                f"the catalog has {len(_eligible(index, s, d, False))}")
    if not len(_eligible(index, s, d, True)) and k == 1:  # several may fill the spread together: search decides
        best = int(np.argmax(holders))
        if holders[best] < s:
            return (f"spread={s} needs {s} images holding a member of one supercategory with every member's "
                    f"presence known; the catalog has at most {holders[best]} (for {names[best]!r})")
        return (f"distractors={d} needs {d} images certainly without any member of a supercategory that "
                f"spread={s} images hold; the catalog has at most {int(absent[holders >= s].max())}")
    return None


def compose(index: CatalogIndex, drawn: dict[str, Any], rng: Stream) -> Sample:
    s, d, k, balance = drawn["spread"], drawn["distractors"], drawn["concepts"], drawn["balance"]
    names = _tables(index)[0]
    chosen = [_eligible(index, s, d, True).draw(rng, balance)]
    while len(chosen) < k:
        g = _eligible(index, s, d, False).draw(rng, balance)
        if g not in chosen:
            chosen.append(g)
    targets = sorted(names[g] for g in chosen)
    member_ids = index.members(targets)
    members, member_set = np.array(member_ids), set(member_ids)
    present, unknown, absent, cats = index.present, index.unknown, index.absent, index.cats

    def all_known(i: int) -> bool:
        return member_set.isdisjoint(cats(i)[1])

    def none_held(i: int) -> bool:
        held, unsure = cats(i)
        return member_set.isdisjoint(held) and member_set.isdisjoint(unsure)

    if balance == "uniform":
        stocked = [c for c in member_ids if len(index.holders[c])]

        def propose() -> int:
            h = index.holders[stocked[rng.pick(len(stocked))]]
            return int(h[rng.pick(len(h))])
    elif k == 1:
        propose = from_pool(rng, index.super_holders[targets[0]])
    else:
        pools = [index.super_holders[g] for g in targets]
        cumulative = np.cumsum([len(p) for p in pools]).tolist()

        def propose() -> int:
            p = pools[rng.pick_weighted(cumulative)]
            return int(p[rng.pick(len(p))])
    used: set[int] = set()
    spread = draw_distinct(rng, propose, s, all_known, used,
                           lambda: np.flatnonzero(present[:, members].any(1) & ~unknown[:, members].any(1)))
    distractors = draw_distinct(rng, any_image(rng, index), d, none_held, used,
                                lambda: np.flatnonzero(absent[:, members].all(1)))
    answer = sorted({index.names[c] for i in spread for c in cats(i)[0] if c in member_set})
    return build(index, drawn, spread + distractors, chosen, rng, answer)


def build(index: CatalogIndex, drawn: dict[str, Any], images: list[int], chosen: list[int] | tuple[int, ...],
          rng: Stream, answer: list[str] | None = None) -> Sample:
    """The sample of a valid set; `chosen` index the listable supercategories (`_tables`)."""
    names = _tables(index)[0]
    targets = sorted(names[g] for g in chosen)
    if answer is None:
        member_set = set(index.members(targets))
        answer = sorted({index.names[c] for i in images for c in index.cats(i)[0] if c in member_set})
    controls = {"n_images": drawn["n_images"], "spread": drawn["spread"], "distractors": drawn["distractors"],
                "concepts": drawn["concepts"], "balance": drawn["balance"]}
    return make_sample(index, TASK.name, rng.shuffled(list(images)), TASK.question(targets),
                       answer, targets, controls)


def search(index: CatalogIndex, drawn: dict[str, Any], budget: Budget, rng: Stream) -> Found:
    """Every supercategory set whose fully-known holders and certain absentees can fill the spread and the
    distractors (exhaustive over supercategory sets within the budget)."""
    s, d, k = drawn["spread"], drawn["distractors"], drawn["concepts"]
    names = _tables(index)[0]
    joinable = _eligible(index, s, d, False).ids
    found = Found(space=f"{comb(len(joinable), k):,} supercategory sets")
    return search_target_sets(index, joinable, k, s, d, lambda chosen: index.members([names[g] for g in chosen]),
                              index.unknown, budget, rng, found)


LISTING = Composer(TASK.name, check, compose, build, search)
