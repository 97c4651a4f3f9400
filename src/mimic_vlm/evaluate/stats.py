"""Uncertainty, one way everywhere: seeded percentile bootstraps with one result shape,
`{"value", "ci": [lo, hi], "n"}` (value None and ci None where there is nothing to average).

Scores (`metrics.py`) bootstrap ratios of sums with their own fast resampling and take their interval from
`interval`; means of per-sample values (benchmark group accuracies, attention shares) use `bootstrap_mean`.

Designs (`mimic study`, `mimic compare`, the remedies benchmark) use the rest: a paired bootstrap over base
samples (or over clusters of samples that share source images), a two-level bootstrap (training seeds, then
samples) for arms with several runs, the exact McNemar test of a binary pair, trend tests for ordered levels
(paired: sign-flip randomisation of per-unit slopes; independent: Cochran-Armitage), Holm's adjustment across
findings, and the smallest effect n units can detect.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from statistics import NormalDist
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


# ---------------------------------------------------------------- paired designs, seeds, clusters, tests
#
# Per-unit values: one row per base sample (the unit the design pairs on), one column per level or arm.
# Every function resamples units (or clusters of units, or seeds then units), never the pooled rows of a
# pseudo-replicated design.


def _percentile_estimate(value: float, reps: np.ndarray, n: int) -> Estimate:
    ci = interval(reps) if len(reps) else None
    return Estimate(float(value), (ci[0], ci[1]) if ci else None, n)


def paired_difference(a: Iterable[float], b: Iterable[float], replicates: int = 1000, seed: int = 0, key: str = "",
                     clusters: Iterable[Any] | None = None) -> tuple[Estimate, np.ndarray]:
    """Mean of B - A over paired units (row i of a and b is one base sample), with a percentile interval from
    resampling the units, or, with `clusters` (a group label per unit, e.g. the source image set), from
    resampling whole clusters: units that share images are not independent. Returns the estimate and the
    replicates (so several findings' effects can be combined)."""
    x = np.asarray(list(b), dtype=float) - np.asarray(list(a), dtype=float)
    keep = ~np.isnan(x)
    x = x[keep]
    if not len(x):
        return Estimate(None, None, 0), np.zeros(0)
    rng = rng_for(seed, key)
    if clusters is None:
        reps = x[rng.integers(0, len(x), size=(replicates, len(x)))].mean(axis=1) if replicates else np.zeros(0)
    else:
        labels = np.asarray([str(c) for c in clusters], dtype=object)[keep]
        reps = cluster_means(x, labels, replicates, rng)
    return _percentile_estimate(float(x.mean()), reps, len(x)), reps


def independent_difference(a: Iterable[float], b: Iterable[float], replicates: int = 1000, seed: int = 0,
                           key: str = "") -> tuple[Estimate, np.ndarray]:
    """mean(B) - mean(A) of two independent groups (other samples per level), each resampled on its own;
    `n` is the smaller group's size."""
    xa, xb = (np.asarray(list(v), dtype=float) for v in (a, b))
    xa, xb = xa[~np.isnan(xa)], xb[~np.isnan(xb)]
    if not len(xa) or not len(xb):
        return Estimate(None, None, 0), np.zeros(0)
    rng = rng_for(seed, key)
    reps = (xb[rng.integers(0, len(xb), size=(replicates, len(xb)))].mean(axis=1)
            - xa[rng.integers(0, len(xa), size=(replicates, len(xa)))].mean(axis=1)) if replicates else np.zeros(0)
    return _percentile_estimate(float(xb.mean() - xa.mean()), reps, min(len(xa), len(xb))), reps


def cluster_means(x: np.ndarray, labels: np.ndarray, replicates: int, rng: np.random.Generator) -> np.ndarray:
    """Replicates of the mean of `x` when whole clusters (equal labels) are drawn with replacement."""
    _, group = np.unique(labels, return_inverse=True)
    k = int(group.max()) + 1
    sums = np.bincount(group, weights=x, minlength=k)
    sizes = np.bincount(group, minlength=k).astype(float)
    if not replicates:
        return np.zeros(0)
    weights = rng.multinomial(k, np.full(k, 1 / k), size=replicates)  # how often each cluster is drawn
    return (weights @ sums) / (weights @ sizes)


def two_level_bootstrap(values: np.ndarray | Sequence[Sequence[float]], replicates: int = 1000, seed: int = 0,
                        key: str = "") -> tuple[Estimate, np.ndarray]:
    """Mean of a (seeds x units) table (a per-unit value, or a per-unit difference, for each training seed),
    resampling seeds first and then units: the seed-to-seed variance stays in the interval. With one seed it
    is the plain unit bootstrap. `n` is the number of units; a seed's missing units are NaN and left out."""
    x = np.asarray(values, dtype=float)
    if x.ndim != 2 or not x.size:
        return Estimate(None, None, 0), np.zeros(0)
    seeds, units = x.shape
    rng = rng_for(seed, key)
    value = float(np.nanmean(x))
    if not replicates:
        return Estimate(value, None, units), np.zeros(0)
    s = rng.integers(0, seeds, size=(replicates, seeds))
    u = rng.integers(0, units, size=(replicates, units))
    picked = x[s[:, :, None], u[:, None, :]]  # (replicates, seeds, units)
    with np.errstate(invalid="ignore"):
        reps = np.nanmean(picked.reshape(replicates, -1), axis=1)
    return _percentile_estimate(value, reps, units), reps


def bootstrap_p(replicates: np.ndarray) -> float | None:
    """Two-sided p-value of "the effect is 0" read off bootstrap replicates: twice the share on the far side
    of 0 (at least one replicate's worth, so never exactly 0)."""
    reps = replicates[~np.isnan(replicates)]
    if not len(reps):
        return None
    tail = min(np.mean(reps <= 0), np.mean(reps >= 0))
    return float(min(1.0, 2 * max(tail, 1 / len(reps))))


def pooled_bootstrap(values: np.ndarray | Sequence[Sequence[float]], replicates: int = 1000, seed: int = 0,
                     key: str = "") -> Estimate:
    """The pseudo-replicated interval (seed-runs pooled as independent units), kept only to show what the
    two-level one corrects: it is narrower whenever the seeds disagree."""
    x = np.asarray(values, dtype=float).ravel()
    return bootstrap_mean(x, replicates, seed, key)


def mcnemar_exact(fixed: int, broken: int) -> float:
    """Two-sided exact McNemar p-value: P(a split of the discordant pairs at least this uneven | p = 1/2).

    `2 * sum_{i <= min(b, c)} C(b + c, i) / 2^(b + c)`, capped at 1, in exact rational arithmetic (no
    normal approximation); 1.0 when there are no discordant pairs."""
    n = fixed + broken
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(fixed, broken) + 1))
    return float(min(Fraction(1), Fraction(2 * tail, 2**n)))


def paired_trend(levels: Sequence[float], values: np.ndarray | Sequence[Sequence[float]], replicates: int = 1000,
                 seed: int = 0, key: str = "", permutations: int = 2000) -> tuple[Estimate, float, np.ndarray]:
    """Trend over ordered levels measured on the same units: the mean per-unit least-squares slope with a
    unit-bootstrap interval, its two-sided sign-flip randomisation p-value, and the bootstrap replicates.

    `values` is (units x levels); a unit's slope is the slope of its own values on `levels`, so a unit only
    ever meets itself. Under no trend a unit's slope is as likely negative as positive: flipping signs at
    random gives the p-value (seeded; exact enumeration for up to 12 units)."""
    y = np.asarray(values, dtype=float)
    y = y[~np.isnan(y).any(axis=1)] if y.size else y
    if not y.size:
        return Estimate(None, None, 0), 1.0, np.zeros(0)
    x = np.asarray(levels, dtype=float)
    dx = x - x.mean()
    slopes = (y - y.mean(axis=1, keepdims=True)) @ dx / float((dx * dx).sum())
    est, reps = paired_difference(np.zeros(len(slopes)), slopes, replicates, seed, key)
    return est, sign_flip_p(slopes, permutations, seed, key), reps


def sign_flip_p(d: np.ndarray, permutations: int = 2000, seed: int = 0, key: str = "") -> float:
    """Two-sided randomisation p-value of mean(d) = 0 by flipping the signs of the paired differences (exact
    over all 2^n flips for n <= 12; else `permutations` seeded draws, counted with the observed one)."""
    d = np.asarray(d, dtype=float)
    n = len(d)
    if not n or not np.any(d):
        return 1.0
    observed = abs(d.mean()) - 1e-12
    if n <= 12:
        signs = 1 - 2 * ((np.arange(2**n)[:, None] >> np.arange(n)) & 1)
        return float(np.mean(np.abs(signs @ d / n) >= observed))
    signs = rng_for(seed, "flip/" + key).choice(np.array([-1.0, 1.0]), size=(permutations, n))
    return float((1 + np.sum(np.abs(signs @ d / n) >= observed)) / (permutations + 1))


def cochran_armitage(levels: Sequence[float], successes: Sequence[int], totals: Sequence[int]) -> tuple[float, float]:
    """Cochran-Armitage test for a trend in proportions over ordered, independent levels (F3: other images
    per level): (z, two-sided normal p). z > 0 when the proportion grows with the level."""
    x, r, n = (np.asarray(v, dtype=float) for v in (levels, successes, totals))
    big_n, big_r = n.sum(), r.sum()
    if not big_n:
        return 0.0, 1.0
    p = big_r / big_n
    t = float((x * (r - n * p)).sum())
    var = p * (1 - p) * float((n * x * x).sum() - (n * x).sum() ** 2 / big_n)
    if var <= 0:
        return 0.0, 1.0
    z = t / math.sqrt(var)
    return z, float(math.erfc(abs(z) / math.sqrt(2)))


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm step-down adjusted p-values (family-wise error over the tests given; None stays None and does
    not count as a test)."""
    present = sorted((p, i) for i, p in enumerate(pvalues) if p is not None)
    m = len(present)
    out: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for rank, (p, i) in enumerate(present):
        running = max(running, min(1.0, (m - rank) * p))
        out[i] = running
    return out


def min_detectable_effect(sd: float, n: int, alpha: float = 0.05, power: float = 0.8) -> float | None:
    """The smallest true mean difference a two-sided test at `alpha` detects with `power`, given the standard
    deviation of the per-unit difference and n units: (z_{1-alpha/2} + z_power) * sd / sqrt(n)."""
    if n < 2 or sd is None or math.isnan(sd):
        return None
    z = NormalDist()
    return float((z.inv_cdf(1 - alpha / 2) + z.inv_cdf(power)) * sd / math.sqrt(n))
