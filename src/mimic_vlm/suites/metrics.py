"""Benchmark-level metrics that need more than one sample: NLVR2 consistency and circular accuracy.

Both are "group accuracy": a group counts correct only when every member is answered right. NLVR2 groups
the items that share a sentence (`extra["consistency_group"]`); circular evaluation groups the rotations
of one item's options (`extra["circular_group"]`). Groups with a member not yet scored are left out, so a
partial run reports what it has. Intervals are 95% percentile bootstraps over groups (seeded).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mimic_vlm.evaluate.stats import Estimate, bootstrap_mean
from mimic_vlm.schema import Sample
from mimic_vlm.suites.circular import GROUP as CIRCULAR_GROUP

CONSISTENCY_GROUP = "consistency_group"


def group_outcomes(samples: Iterable[Sample], rows: Iterable[dict[str, Any]], key: str,
                   metric: str = "correct") -> dict[str, bool]:
    """Group id -> every member right, for the groups whose members are all scored."""
    done = {r["id"]: bool(r.get(metric)) for r in rows}
    members: dict[str, list[str]] = {}
    for s in samples:
        if key in s.extra:
            members.setdefault(str(s.extra[key]), []).append(s.id)
    return {g: all(done[i] for i in ids) for g, ids in members.items() if all(i in done for i in ids)}


def group_accuracy(samples: Iterable[Sample], rows: Iterable[dict[str, Any]], key: str,
                   metric: str = "correct", replicates: int = 1000, seed: int = 0) -> Estimate:
    outcomes = group_outcomes(samples, rows, key, metric)
    return bootstrap_mean((float(outcomes[g]) for g in sorted(outcomes)), replicates, seed, key)


def consistency(samples: Iterable[Sample], rows: Iterable[dict[str, Any]], **kw: Any) -> Estimate:
    """NLVR2 consistency: the share of sentences whose every image pair is answered right."""
    return group_accuracy(samples, rows, CONSISTENCY_GROUP, **kw)


def circular_accuracy(samples: Iterable[Sample], rows: Iterable[dict[str, Any]], **kw: Any) -> Estimate:
    """The share of items answered right under every rotation of their options."""
    return group_accuracy(samples, rows, CIRCULAR_GROUP, **kw)


def benchmark_metrics(samples: list[Sample], rows: list[dict[str, Any]], replicates: int = 1000,
                      seed: int = 0) -> dict[str, Estimate]:
    """Accuracy over every scored sample, plus consistency / circular accuracy where the bench has them."""
    by_id = {s.id for s in samples}
    scored = [r for r in rows if r["id"] in by_id]
    out = {"accuracy": bootstrap_mean((float(bool(r.get("correct"))) for r in scored), replicates, seed, "accuracy")}
    for name, key in (("consistency", CONSISTENCY_GROUP), ("circular accuracy", CIRCULAR_GROUP)):
        if any(key in s.extra for s in samples):
            out[name] = group_accuracy(samples, scored, key, replicates=replicates, seed=seed)
    return out
