"""Paired variants: the levels of one control built from the same base sample, so a level is compared with
itself, not with other images (`reference/study.md`, "Paired variants").

- `distractor_levels`: the same target images with distractor images added, nested (level n keeps every
  distractor of the levels below it and their order), so only the number of images changes (F1, F4);
- `concept_levels`: the same image set with the first 1..k query concepts of the base (F5);
- `fixed_total_samples`: where pairing is impossible (F3: another spread needs other images), the quantities
  that would confound are held fixed instead: the counting total, the category (cycled evenly over the
  levels), and the number of images;
- packed and unpacked copies of one sample (F7) are written by `bench/paired.py` (packing draws images);
  token budgets (F2) need no new samples: the same bench runs at several pixel caps or pooling factors and
  pairs on the sample id.

Pairing record: every variant keeps the sample contract (DESIGN.md) and adds `extra["variant_of"]`, the id of
the base sample it comes from (written as `"extra": {"variant_of": ...}` in samples.jsonl), so score, compare
and study pair the levels on it. The varied control is an ordinary control (`n_images`/`distractors`,
`concepts`, `packed`), so scores.json breaks the levels down as usual; `variant_of` is no control, so it does
not split scores.json into one group per base. Every answer and control is exact: `mimic validate`
re-derives them from the images' objects as for any sample.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from mimic_vlm.compose.base import CatalogIndex, Stream, Unsatisfiable
from mimic_vlm.compose.counting import COUNTING
from mimic_vlm.compose.templates import gt_string, question
from mimic_vlm.errors import MimicError
from mimic_vlm.schema import Sample

VARIANT_OF = "variant_of"


def variant_of(sample: Sample) -> str:
    """The base sample a sample pairs on: its recorded base, else itself."""
    return str(sample.extra.get(VARIANT_OF) or sample.id)


def variant(sample: Sample, base_id: str, level: str, **changes: Any) -> Sample:
    """`sample` changed as given, named `<base>~<level>` and recording its base."""
    return replace(sample, id=f"{base_id}~{level}", extra={**sample.extra, VARIANT_OF: base_id}, **changes)


def distractor_levels(index: CatalogIndex, base: Sample, totals: Sequence[int], rng: Stream) -> list[Sample]:
    """One variant per total number of images in `totals` (each at least the base's target images): the base's
    target-holding images plus `total - spread` distractors, images that certainly hold no target (counting:
    no counted category; listing: no member of a listed supercategory). The distractors are drawn once for the
    largest level and placed at random; a smaller level drops the last-drawn ones and keeps the order of the
    rest, so the levels differ only by the images added. Raises Unsatisfiable when the data has too few."""
    cats = _relevant(index, base)
    rows = _rows(index, base.images)
    holds = [any(index.present[r, c] or index.unknown[r, c] for c in cats) for r in rows]
    targets = [r for r, h in zip(rows, holds, strict=True) if h]
    top = max(totals) - len(targets)
    if min(totals) < len(targets):
        raise MimicError(f"sample {base.id}: {len(targets)} target images, more than the smallest level "
                         f"n_images={min(totals)}")
    free = np.flatnonzero(index.absent[:, cats].all(axis=1))
    free = np.setdiff1d(free, rows)
    if len(free) < top:
        raise Unsatisfiable
    extra = [int(free[j]) for j in rng.sample(len(free), top)] if top else []
    slots = rng.shuffled(list(range(len(targets) + top)))  # final position of each image of the largest level
    order = targets + extra  # target images, then distractors in the order they are drawn (= dropped last first)
    out = []
    for total in totals:
        keep = order[:total]
        placed = [r for _, r in sorted(zip(slots[:len(order)], order, strict=True)) if r in keep]
        controls = {**base.controls, "n_images": total, "spread": len(targets), "distractors": total - len(targets)}
        out.append(variant(base, base.id, f"n_images={total}", images=[index.catalog.images[r] for r in placed],
                           image_objects=[index.objects(r) for r in placed],
                           image_uncertain=[index.uncertain_names(r) for r in placed], controls=controls))
    return out


def concept_levels(base: Sample, levels: Sequence[int], members: dict[str, list[str]]) -> list[Sample]:
    """One variant per k in `levels`: the same images asked about the first k targets of the base (counting:
    categories summed; listing: supercategories listed). The targets are ordered so the first is present in
    the images (no level asks about nothing); the answer, spread and distractors follow from the images'
    objects. `members`: supercategory -> categories."""
    if base.task not in ("counting", "listing"):
        raise MimicError(f"sample {base.id}: concept levels are for counting and listing, not {base.task}")
    if max(levels) > len(base.targets):
        raise MimicError(f"sample {base.id}: {len(base.targets)} targets, fewer than concepts={max(levels)}")

    def cats(targets: Iterable[str]) -> set[str]:
        return set(targets) if base.task == "counting" else {c for g in targets for c in members.get(g, [])}

    present = [t for t in base.targets if any(cats([t]) & set(o) for o in base.image_objects)]
    if not present:
        raise MimicError(f"sample {base.id}: no target is present in its images")
    ordered = [present[0], *(t for t in base.targets if t != present[0])]
    out = []
    for k in levels:
        targets = sorted(ordered[:k])
        wanted = cats(targets)
        holding = [bool(wanted & set(o)) for o in base.image_objects]
        answer: int | list[str] = (sum(n for o in base.image_objects for c, n in o.items() if c in wanted)
                                   if base.task == "counting" else
                                   sorted({c for o in base.image_objects for c in o if c in wanted}))
        controls = {**base.controls, "concepts": k, "spread": sum(holding),
                    "distractors": len(holding) - sum(holding)}
        out.append(variant(base, base.id, f"concepts={k}", targets=targets, answer=answer, gt=gt_string(answer),
                           question=question(base.task, targets), controls=controls))
    return out


def fixed_total_samples(index: CatalogIndex, spreads: Sequence[int], n_images: int, total: int, count: int,
                        seed: int) -> list[Sample]:
    """`count` counting samples per spread, all with n_images images and the answer `total`, the category
    cycling over the categories that can reach `total` at every spread (the same mix at each level), ids
    `counting-total<total>-s<spread>-NNNNNN`. A MimicError names a spread the data cannot reach."""
    from mimic_vlm.compose.counting import reachable_categories

    names = None
    for s in spreads:
        if s > n_images:
            raise MimicError(f"spread={s} is larger than n_images={n_images}")
        ok = reachable_categories(index, s, n_images - s, total)
        names = ok if names is None else [c for c in names if c in ok]
    if not names:
        raise MimicError(f"no category reaches a total of {total} at every spread {','.join(map(str, spreads))} with "
                         f"n_images={n_images} in this data; lower the total or the spreads")
    out = []
    for s in spreads:
        rng = Stream(np.random.default_rng([seed, total, s]))
        seen: set[tuple[str, ...]] = set()
        tries = 0
        while len(seen) < count:
            tries += 1
            if tries > 200 * count:
                raise MimicError(f"spread={s}: only {len(seen)} distinct samples of total {total} in this data "
                                 f"(asked for {count})")
            category = names[len(seen) % len(names)]
            drawn = {"n_images": n_images, "spread": s, "distractors": n_images - s, "concepts": 1,
                     "balance": "uniform", "total": total, "category": category}
            try:
                sample = COUNTING.compose(index, drawn, rng)
            except Unsatisfiable:
                continue
            key = tuple(sorted(sample.images))
            if key in seen:
                continue
            seen.add(key)
            sample.id = f"counting-total{total}-s{s}-{len(seen) - 1:06d}"
            sample.controls = {**sample.controls, "total": total}
            out.append(sample)
    return out


def _relevant(index: CatalogIndex, sample: Sample) -> list[int]:
    """Catalog columns of the categories a sample's answer depends on."""
    col = {n: j for j, n in enumerate(index.names)}
    if sample.task == "counting":
        return [col[t] for t in sample.targets]
    if sample.task == "listing":
        return index.members(list(sample.targets))
    raise MimicError(f"sample {sample.id}: distractor levels are for counting and listing, not {sample.task}")


def _rows(index: CatalogIndex, names: Sequence[str]) -> list[int]:
    row = index.memo(("rows",), lambda: {n: i for i, n in enumerate(index.catalog.images)})
    return [row[n] for n in names]
