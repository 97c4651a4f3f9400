"""Order consistency (`mimic eval --permutations K`): every sample again under K seeded shuffles of its images.

The answer of all four MIMIC tasks does not depend on the image order, so a model that aggregates over the
sequence answers the same whatever the order; one that solves per image, or loses evidence in the middle,
does not. Per task the run reports (scores.json `order`):

```
{"k": K, "seed": 0, "tasks": {task: {"n", "headline", "consistency", "by_order": [original, shuffle 1 ... K],
                                     "spread", "right_always", "right_sometimes"}}}
```
`consistency` = share of samples whose parsed answer is the same under the original order and all K shuffles
(an unparsed answer counts as its own answer); `by_order` = the headline metric per order, `spread` its
max - min; `right_always` / `right_sometimes` = share right (`correct`, else listing's exact set) under every
order / under at least one. Only samples with all K shuffles scored count.
The shuffles are seeded by (seed, k, sample id): every model sees the same K orders of a sample.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from mimic_vlm.evaluate.compare import verdict_field
from mimic_vlm.evaluate.metrics import _columns, _ratio, task_order
from mimic_vlm.evaluate.tasks import get_task
from mimic_vlm.schema import Sample, dumps

PERMUTATIONS = "permutations.jsonl"
"""The run folder's file of shuffled-order predictions: one line per (id, k)."""


def permutation(n: int, sample_id: str, k: int, seed: int = 0) -> list[int]:
    """The k-th (1-based) shuffle of n image slots: new order -> original index. Never the identity when
    n > 1 (a shuffle that changes nothing tests nothing): redrawn deterministically until it differs."""
    rng = np.random.default_rng([seed, k, zlib.crc32(sample_id.encode())])
    order = [int(i) for i in rng.permutation(n)]
    while n > 1 and order == list(range(n)):
        order = [int(i) for i in rng.permutation(n)]
    return order


def permuted(sample: Sample, order: Sequence[int]) -> Sample:
    """The sample with its images (and their object tables) in `order`."""
    pick = lambda xs: [xs[i] for i in order] if len(xs) == len(order) else list(xs)  # noqa: E731
    return dataclasses.replace(sample, images=pick(sample.images), image_objects=pick(sample.image_objects),
                               image_uncertain=pick(sample.image_uncertain))


def answer_key(row: dict[str, Any]) -> bytes:
    """The parsed answer as comparable bytes (lists as sets); every unparsed answer is one answer."""
    if row.get("unparsed") or row.get("parsed") is None:
        return b"unparsed"
    parsed = row["parsed"]
    return dumps(sorted(map(str, parsed)) if isinstance(parsed, list) else parsed)


def order_summary(rows: Sequence[dict[str, Any]], shuffled: Sequence[dict[str, Any]], k: int,
                  seed: int = 0) -> dict[str, Any]:
    """scores.json's `order` entry (module docstring) from the original rows and the shuffled ones."""
    by_k: dict[str, dict[int, dict[str, Any]]] = {}
    for r in shuffled:
        if 1 <= int(r["k"]) <= k:
            by_k.setdefault(str(r["id"]), {})[int(r["k"])] = r
    groups: dict[str, list[list[dict[str, Any]]]] = {}
    for r in rows:
        perms = by_k.get(str(r["id"]), {})
        if len(perms) == k and not r.get("missing"):
            groups.setdefault(str(r["task"]), []).append([r] + [perms[j] for j in range(1, k + 1)])
    tasks: dict[str, Any] = {}
    for task in task_order(groups):
        sets = groups[task]
        spec = get_task(task)
        agg = spec.aggregates()[spec.headline]
        by_order = []
        for j in range(k + 1):
            x, col = _columns([s[j] for s in sets], {"m": agg})
            v = float(_ratio(x.sum(axis=0), col, agg))
            by_order.append(None if np.isnan(v) else v)
        field = verdict_field([r for s in sets for r in s])
        right = [[bool(r.get(field)) for r in s] for s in sets] if field else []
        known = [v for v in by_order if v is not None]
        tasks[task] = {
            "n": len(sets), "headline": spec.headline,
            "consistency": sum(len({answer_key(r) for r in s}) == 1 for s in sets) / len(sets),
            "by_order": by_order, "spread": (max(known) - min(known)) if known else None,
            "right_always": sum(all(x) for x in right) / len(sets) if field else None,
            "right_sometimes": sum(any(x) for x in right) / len(sets) if field else None}
    return {"k": k, "seed": seed, "tasks": tasks}
