"""Per-sample metric fields and their aggregation into `scores.json`, with seeded bootstrap intervals.

Every aggregate is a ratio of sums over samples, `scale * sum(num) / sum(den)`: a plain mean of a per-sample
field is sum(field) / (number of samples where the field is not None), and micro precision is sum(tp) /
sum(n_pred); an F1 of two such ratios (`Harmonic`, the micro F1) is computed from them after summing. One
representation makes the bootstrap one multinomial draw and one matrix product per group
(see `_bootstrap_sums`), so 10k samples with all breakdowns summarise in well under a second.

`summarize` returns (the content of scores.json; `score.py` adds the scoring mode and its notes):

```
{"overall": {"n", "n_unparsed", "unparsed_rate"},
 "bootstrap": {"replicates", "seed", "interval": "95% percentile"},
 "mimic_score": {"value", "ci", "tasks", "headlines",
                 "by_control": {control: {value: {"value", "ci", "tasks"}}}} | null (no MIMIC task present),
 "tasks": {task: {"n", "headline",
                  "metrics": {metric: {"value", "ci": [lo, hi]}},
                  "by_control": {control: {value: {"n", "metrics": {...}}}}}}}
```

A metric named like a per-sample field is the mean of that field over samples where it is not None
(`correct` -> accuracy, `abs_error` -> MAE over parsed answers, `f1` -> macro F1); `micro_*` are ratios of
summed counts; `unparsed_rate` exists for every task. Control values are JSON keys (strings), in numeric
order where they are numbers. `value` is None where the denominator is zero.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from mimic_vlm.errors import MimicError
from mimic_vlm.evaluate.stats import interval, rng_for
from mimic_vlm.evaluate.tasks import get_task
from mimic_vlm.evaluate.taskspec import GroupMetric, Harmonic
from mimic_vlm.schema import TASKS, Sample


def _columns(rows: list[dict[str, Any]], aggs: dict[str, GroupMetric]) -> tuple[np.ndarray, dict[str, int]]:
    """(n, k) float matrix of the fields the aggregates read; None -> 0 with a 0 in the presence column."""
    names = sorted({f for a in aggs.values() for f in a.fields()})
    col = {name: i for i, name in enumerate(names)}
    x = np.zeros((len(rows), len(names)))
    for name, j in col.items():
        field = name[:-1] if name.endswith("?") else name
        values = [r.get(field) for r in rows]
        if name.endswith("?"):
            x[:, j] = [v is not None for v in values]
        else:
            x[:, j] = [0.0 if v is None else float(v) for v in values]
    return x, col


def _bootstrap_sums(x: np.ndarray, replicates: int, rng: np.random.Generator) -> np.ndarray:
    """(B, k) column sums of `replicates` resamples of the n rows of `x` (n draws with replacement).

    Drawing n rows with replacement = drawing multinomial counts over the DISTINCT rows, weighted by how
    often each occurs; metric rows repeat a lot (0/1 fields), so this costs O(B x distinct), not O(B x n).
    """
    patterns, counts = np.unique(x, axis=0, return_counts=True)
    weights = rng.multinomial(len(x), counts / len(x), size=replicates)
    return weights @ patterns


def _ratio(sums: np.ndarray, col: dict[str, int], agg: GroupMetric) -> np.ndarray:
    if isinstance(agg, Harmonic):
        a, b = _ratio(sums, col, agg.a), _ratio(sums, col, agg.b)
        defined = ~(np.isnan(a) & np.isnan(b))  # no predicted item (P undefined) and a missed truth: F1 0
        a, b = np.where(defined, np.nan_to_num(a), np.nan), np.where(defined, np.nan_to_num(b), np.nan)
        total = a + b
        with np.errstate(divide="ignore", invalid="ignore"):
            f1 = 2.0 * a * b / np.where(total > 0, total, 1)
        return np.where(total > 0, f1, np.where(total == 0, 0.0, np.nan))
    num = sum(sums[..., col[f]] for f in agg.num)
    den = sum(sums[..., col[f]] for f in agg.den)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, agg.scale * num / np.where(den > 0, den, 1), np.nan)


@dataclass
class _Group:
    metrics: dict[str, dict[str, Any]]
    replicates: dict[str, np.ndarray]


def _group(x: np.ndarray, col: dict[str, int], aggs: dict[str, GroupMetric], replicates: int, seed: int,
           key: str) -> _Group:
    """Every aggregate of one group of rows, with its bootstrap replicates (seeded by the group's key)."""
    rng = rng_for(seed, key)
    totals = x.sum(axis=0)
    boot = _bootstrap_sums(x, replicates, rng) if replicates else np.zeros((0, x.shape[1]))
    metrics, reps = {}, {}
    for name, agg in aggs.items():
        value = float(_ratio(totals, col, agg))
        reps[name] = _ratio(boot, col, agg)
        metrics[name] = {"value": None if np.isnan(value) else value, "ci": interval(reps[name])}
    return _Group(metrics, reps)


def control_key(value: Any) -> str:
    """A control value as a JSON key: 3 -> "3", True -> "true", ["a", "b"] -> "a,b"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(map(str, value))
    return str(value)


def control_order(key: str) -> tuple[int, float, str]:
    """Sort key for control values: numbers in numeric order, then names."""
    try:
        return (0, float(key), key)
    except ValueError:
        return (1, 0.0, key)


def task_order(names: Iterable[str]) -> list[str]:
    """MIMIC's four tasks in their usual order, then the others by name."""
    names = set(names)
    return [t for t in TASKS if t in names] + sorted(names - set(TASKS))


_Headlines = dict[str, tuple[float | None, np.ndarray]]  # group key -> (headline value, its replicates)


def summarize(samples: Iterable[Sample], rows: Iterable[dict[str, Any]], bootstrap: int = 1000,
              seed: int = 0) -> dict[str, Any]:
    """Aggregate scored rows (each with `id` and the task's fields) by task and by every control value."""
    by_id = {s.id: s for s in samples}
    groups: dict[str, list[tuple[Sample, dict[str, Any]]]] = {}
    for row in rows:
        sample = by_id.get(row.get("id"))  # type: ignore[arg-type]
        if sample is None:
            raise MimicError(f"scored row {row.get('id')!r} is not a sample of the bench")
        groups.setdefault(sample.task, []).append((sample, row))
    tasks: dict[str, Any] = {}
    headlines: dict[str, _Headlines] = {}
    for task in task_order(groups):
        tasks[task], headlines[task] = _task_summary(task, groups[task], bootstrap, seed)
    n = sum(t["n"] for t in tasks.values())
    n_unparsed = sum(bool(r.get("unparsed")) for pairs in groups.values() for _, r in pairs)
    return {
        "overall": {"n": n, "n_unparsed": n_unparsed, "unparsed_rate": n_unparsed / n if n else None},
        "bootstrap": {"replicates": bootstrap, "seed": seed, "interval": "95% percentile"},
        "mimic_score": _mimic_score(headlines),
        "tasks": tasks,
    }


def _task_summary(task: str, pairs: list[tuple[Sample, dict[str, Any]]], bootstrap: int,
                  seed: int) -> tuple[dict[str, Any], _Headlines]:
    """One task's entry of scores.json, and its headline per group ("" = all, "control=value")."""
    spec = get_task(task)
    aggs = spec.aggregates()
    x, col = _columns([r for _, r in pairs], aggs)
    whole = _group(x, col, aggs, bootstrap, seed, task)
    headlines = {"": (whole.metrics[spec.headline]["value"], whole.replicates[spec.headline])}
    by_control: dict[str, dict[str, Any]] = {}
    for control in sorted({c for s, _ in pairs for c in s.controls}):
        members: dict[str, list[int]] = {}
        for i, (s, _) in enumerate(pairs):
            if control in s.controls:
                members.setdefault(control_key(s.controls[control]), []).append(i)
        by_control[control] = {}
        for value in sorted(members, key=control_order):
            g = _group(x[members[value]], col, aggs, bootstrap, seed, f"{task}/{control}={value}")
            by_control[control][value] = {"n": len(members[value]), "metrics": g.metrics}
            headlines[f"{control}={value}"] = (g.metrics[spec.headline]["value"], g.replicates[spec.headline])
    entry = {"n": len(pairs), "headline": spec.headline, "metrics": whole.metrics, "by_control": by_control}
    return entry, headlines


def _mean_of(parts: list[tuple[float | None, np.ndarray]]) -> dict[str, Any]:
    values = [v for v, _ in parts if v is not None]
    if len(values) < len(parts):
        return {"value": None, "ci": None}
    return {"value": float(np.mean(values)), "ci": interval(np.mean([r for _, r in parts], axis=0))}


def _mimic_score(headlines: dict[str, _Headlines]) -> dict[str, Any] | None:
    """Mean of the headline metrics of the MIMIC tasks present, overall and per control value."""
    present = [t for t in TASKS if t in headlines]
    if not present:
        return None
    by_control: dict[str, dict[str, dict[str, list[Any]]]] = {}
    for task in present:
        for key, part in headlines[task].items():
            if key:
                control, value = key.split("=", 1)
                entry = by_control.setdefault(control, {}).setdefault(value, {"tasks": [], "parts": []})
                entry["tasks"].append(task)
                entry["parts"].append(part)
    return {
        **_mean_of([headlines[t][""] for t in present]), "tasks": present,
        "headlines": {t: get_task(t).headline for t in present},
        "by_control": {c: {v: {**_mean_of(e["parts"]), "tasks": e["tasks"]}
                           for v, e in sorted(values.items(), key=lambda kv: control_order(kv[0]))}
                       for c, values in sorted(by_control.items())},
    }
