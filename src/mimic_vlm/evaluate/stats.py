"""Uncertainty, one way everywhere: seeded percentile bootstraps with one result shape,
`{"value", "ci": [lo, hi], "n"}` (value None and ci None where there is nothing to average).

Scores (`metrics.py`) bootstrap ratios of sums with their own fast resampling and take their interval from
`interval`; means of per-sample values (benchmark group accuracies, attention shares) use `bootstrap_mean`.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

LEVEL = 0.95


@dataclass(frozen=True)
class Estimate:
    value: float | None
    ci: tuple[float, float] | None
    n: int

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "ci": list(self.ci) if self.ci else None, "n": self.n}


def rng_for(seed: int, key: str) -> np.random.Generator:
    """A generator per (seed, group key): every group's interval is reproducible on its own."""
    return np.random.default_rng([seed, zlib.crc32(key.encode())])


def interval(replicates: np.ndarray) -> list[float] | None:
    """The 95% percentile interval of bootstrap replicates (NaN replicates left out)."""
    reps = replicates[~np.isnan(replicates)]
    if not len(reps):
        return None
    lo, hi = np.percentile(reps, [100 * (1 - LEVEL) / 2, 100 * (1 + LEVEL) / 2])
    return [float(lo), float(hi)]


def bootstrap_mean(values: Iterable[float], replicates: int = 1000, seed: int = 0, key: str = "") -> Estimate:
    """Mean of the values (NaNs left out: no such group) with a seeded percentile bootstrap interval."""
    x = np.asarray(list(values), dtype=float)
    x = x[~np.isnan(x)]
    if not len(x):
        return Estimate(None, None, 0)
    boot = x[rng_for(seed, key).integers(0, len(x), size=(replicates, len(x)))].mean(axis=1)
    ci = interval(boot)
    return Estimate(float(x.mean()), (ci[0], ci[1]) if ci else None, len(x))
