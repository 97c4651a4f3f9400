"""Common: which category (or categories) appear in every image?

Every image certainly holds every answer category (spread = n_images, distractors = 0). Uniqueness is
strict: every other category is *certainly absent* from at least one image, so no unknown-presence cell
could make it common too. balance=uniform draws the (first) answer category evenly over the categories
that can fill n_images, natural by frequency; with answers > 1 the others come from an anchor image so
they co-occur. Images whose other categories would also be common are swapped out (bounded repairs).
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
    make_sample,
)
from mimic_vlm.compose.templates import question
from mimic_vlm.schema import Sample

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
        swap = draw_distinct(rng, propose, 1, lambda i, e=e: holds_all(i) and bool(absent[i, e]), used,
                             lambda e=e: np.flatnonzero(present[:, ids].all(1) & absent[:, e]))
        images[rng.pick(n)] = swap[0]
    else:
        raise Unsatisfiable
    names = [index.names[c] for c in answer_ids]
    controls = {"n_images": n, "spread": n, "distractors": 0, "concepts": a, "answers": a, "balance": balance}
    return make_sample(index, "common", rng.shuffled(images), question("common", names, a),
                       names[0] if a == 1 else names, names, controls)


COMMON = Composer("common", check, compose)
