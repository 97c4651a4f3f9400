"""Paired comparison of two runs on the samples both scored: is B's difference from A real?

Overlapping marginal intervals say little about a difference measured on the same samples: the two runs'
errors are correlated. Here every statistic is paired:

- the difference of each task's headline metric (B - A) with a 95% interval from a **paired** bootstrap
  (one resample of the shared samples scores both runs; same ratio-of-sums metrics as `metrics.summarize`);
- the per-sample verdict (`correct`, else listing's `exact` set) as fixed (A wrong, B right), broken (A right,
  B wrong), both right, both wrong, and the **exact** McNemar p-value of fixed vs broken (`stats.mcnemar_exact`:
  two-sided binomial test with p = 1/2 on the discordant pairs, computed with integers);
- the MIMIC score difference: the mean of the task differences, its interval from the same replicates.

`compare_rows` returns (the content of compare.json):

```
{"n_shared", "only_a", "only_b", "bootstrap": {"replicates", "seed", "interval"},
 "mimic_score": {"a", "b", "diff", "ci", "tasks"} | null,
 "tasks": {task: {"headline", "verdict", "all": ENTRY, "by_control": {control: {value: ENTRY}}}}}
ENTRY = {"n", "a", "b", "diff", "ci", "fixed", "broken", "both_right", "both_wrong", "mcnemar_p"}
```
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mimic_vlm.evaluate.metrics import (
    _bootstrap_sums,
    _columns,
    _ratio,
    control_key,
    control_order,
    task_order,
)
from mimic_vlm.evaluate.stats import interval as _interval
from mimic_vlm.evaluate.stats import mcnemar_exact, rng_for
from mimic_vlm.evaluate.tasks import get_task
from mimic_vlm.evaluate.taskspec import GroupMetric
from mimic_vlm.schema import TASKS

VERDICT_FIELDS = ("correct", "exact")
"""The per-sample right/wrong field, by preference: accuracy for most tasks, the exact set for listing."""


def verdict_field(rows: Sequence[Mapping[str, Any]]) -> str | None:
    """The first of `VERDICT_FIELDS` that the rows carry."""
    return next((f for f in VERDICT_FIELDS if any(r.get(f) is not None for r in rows)), None)


def counts(a: Sequence[Mapping[str, Any]], b: Sequence[Mapping[str, Any]], field: str | None) -> dict[str, int]:
    """fixed / broken / both_right / both_wrong over paired rows (a missing verdict counts as wrong)."""
    out = {"fixed": 0, "broken": 0, "both_right": 0, "both_wrong": 0}
    if field is None:
        return out
    for ra, rb in zip(a, b, strict=True):
        ok_a, ok_b = bool(ra.get(field)), bool(rb.get(field))
        out["both_right" if ok_a and ok_b else "both_wrong" if not (ok_a or ok_b) else
            "fixed" if ok_b else "broken"] += 1
    return out


def paired_bootstrap(a: Sequence[Mapping[str, Any]], b: Sequence[Mapping[str, Any]], agg: GroupMetric,
                     replicates: int, seed: int, key: str) -> tuple[float | None, float | None, np.ndarray]:
    """(A's value, B's value, replicates of B - A) of one group metric over paired rows: each resample draws
    sample indices once and scores both runs on them."""
    xa, col = _columns([dict(r) for r in a], {"m": agg})
    xb, _ = _columns([dict(r) for r in b], {"m": agg})
    k = xa.shape[1]
    both = np.hstack([xa, xb])
    va, vb = float(_ratio(xa.sum(axis=0), col, agg)), float(_ratio(xb.sum(axis=0), col, agg))
    if replicates and len(both):
        rng = rng_for(seed, key)
        sums = _bootstrap_sums(both, replicates, rng)
        reps = _ratio(sums[:, k:], col, agg) - _ratio(sums[:, :k], col, agg)
    else:
        reps = np.zeros(0)
    return (None if math.isnan(va) else va), (None if math.isnan(vb) else vb), reps


def paired_entry(a: Sequence[Mapping[str, Any]], b: Sequence[Mapping[str, Any]], agg: GroupMetric,
                 field: str | None, replicates: int = 1000, seed: int = 0,
                 key: str = "") -> tuple[dict[str, Any], np.ndarray]:
    """One ENTRY (module docstring) of paired rows, and its bootstrap replicates of B - A."""
    va, vb, reps = paired_bootstrap(a, b, agg, replicates, seed, key)
    c = counts(a, b, field)
    diff = None if va is None or vb is None else vb - va
    return ({"n": len(a), "a": va, "b": vb, "diff": diff, "ci": _interval(reps), **c,
             "mcnemar_p": mcnemar_exact(c["fixed"], c["broken"]) if field else None}, reps)


def compare_rows(rows_a: Sequence[Mapping[str, Any]], rows_b: Sequence[Mapping[str, Any]],
                 controls: Mapping[str, Mapping[str, Any]] | None = None, replicates: int = 1000,
                 seed: int = 0) -> dict[str, Any]:
    """Paired comparison of two runs' scored rows (`id`, `task`, metric fields) on their shared ids.

    `controls` (sample id -> controls, from the bench) adds the per-control-value breakdown."""
    by_a = {str(r["id"]): r for r in rows_a}
    by_b = {str(r["id"]): r for r in rows_b}
    shared = [i for i in by_a if i in by_b]
    groups: dict[str, list[str]] = {}
    for i in shared:
        groups.setdefault(str(by_a[i].get("task") or by_b[i].get("task")), []).append(i)
    tasks: dict[str, Any] = {}
    whole: dict[str, tuple[dict[str, Any], np.ndarray]] = {}
    for task in task_order(groups):
        ids = groups[task]
        a, b = [dict(by_a[i]) for i in ids], [dict(by_b[i]) for i in ids]
        headline, field = get_task(task).headline, verdict_field(a + b)
        agg = get_task(task).aggregates()[headline]
        whole[task] = paired_entry(a, b, agg, field, replicates, seed, task)
        by_control: dict[str, dict[str, Any]] = {}
        for control in sorted({c for i in ids for c in (controls or {}).get(i, {})}):
            members: dict[str, list[int]] = {}
            for j, i in enumerate(ids):
                if control in (controls or {}).get(i, {}):
                    members.setdefault(control_key(controls[i][control]), []).append(j)  # type: ignore[index]
            by_control[control] = {
                v: paired_entry([a[j] for j in members[v]], [b[j] for j in members[v]], agg, field,
                                replicates, seed, f"{task}/{control}={v}")[0]
                for v in sorted(members, key=control_order)}
        tasks[task] = {"headline": headline, "verdict": field, "all": whole[task][0], "by_control": by_control}
    return {"n_shared": len(shared), "only_a": len(by_a) - len(shared), "only_b": len(by_b) - len(shared),
            "bootstrap": {"replicates": replicates, "seed": seed, "interval": "95% percentile, paired"},
            "mimic_score": _mimic_diff(whole), "tasks": tasks}


def _mimic_diff(whole: dict[str, tuple[dict[str, Any], np.ndarray]]) -> dict[str, Any] | None:
    """The MIMIC score difference: mean of the task headline differences (tasks resampled independently)."""
    present = [t for t in TASKS if t in whole]
    if not present or any(whole[t][0]["diff"] is None for t in present):
        return None
    entries = [whole[t][0] for t in present]
    reps = [whole[t][1] for t in present]
    ci = _interval(np.mean(reps, axis=0)) if all(len(r) for r in reps) else None
    return {"a": float(np.mean([e["a"] for e in entries])), "b": float(np.mean([e["b"] for e in entries])),
            "diff": float(np.mean([e["diff"] for e in entries])), "ci": ci, "tasks": present}
