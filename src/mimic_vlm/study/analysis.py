"""From per-sample outcomes to study.json: levels, effects, the smallest detectable effect, testability and
verdicts. Pure functions (no files, no models): everything a verdict rests on is an argument, so each rule is
tested on constructed numbers.

An observation is `(unit, level, outcome, vision_tokens)`: the unit is the base sample a paired design pairs
on (`extra.variant_of`; the sample itself where there is none), the outcome 1/0 (or a share for F6).

Verdicts (one per finding):
- `not_testable`: the model is not well above the answer prior at the design's base level (or the model kind
  cannot run the design); the reason says which;
- `reproduced`: the effect's 95% interval is clear of 0 on the paper's side (and its p-value, Holm-adjusted
  over the study's findings, is below 0.05 where the finding has one);
- `opposite`: the interval is clear of 0 on the other side (and the adjusted p is below 0.05, as for
  `reproduced`: an effect against the paper is held to the same standard as one for it);
- `inconclusive`: the interval holds 0 and is wider than the effect the paper implies (too few samples to
  tell), or the interval is clear (on either side) but the adjusted p is not;
- `not_reproduced`: the interval holds 0 and is narrower than the effect the paper implies.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from mimic_vlm.evaluate.stats import (
    bootstrap_mean,
    cochran_armitage,
    holm,
    independent_difference,
    mcnemar_exact,
    min_detectable_effect,
    paired_difference,
    paired_trend,
)
from mimic_vlm.study.findings import EFFECT_OF_INTEREST, PRIOR_MARGIN, Finding

Obs = tuple[str, Any, float, float | None]
VERDICTS = ("reproduced", "not_reproduced", "opposite", "inconclusive", "not_testable")
ALPHA = 0.05


def _ci(est: Any) -> list[float] | None:
    return list(est.ci) if est.ci else None


def levels_table(obs: Sequence[Obs], order: Sequence[Any], replicates: int = 1000, seed: int = 0,
                 key: str = "") -> list[dict[str, Any]]:
    """Per level (in `order`): n, the mean outcome with its bootstrap interval, mean vision tokens per sample."""
    out = []
    for level in order:
        rows = [o for o in obs if o[1] == level]
        est = bootstrap_mean([o[2] for o in rows], replicates, seed, f"{key}/{level}")
        tokens = [o[3] for o in rows if o[3] is not None]
        out.append({"value": level, "n": est.n, "metric": est.value, "ci": _ci(est),
                    "vision_tokens": float(np.mean(tokens)) if tokens else None})
    return out


def _by_unit(obs: Iterable[Obs]) -> dict[str, dict[Any, float]]:
    units: dict[str, dict[Any, float]] = {}
    for unit, level, outcome, _ in obs:
        units.setdefault(unit, {})[level] = outcome
    return units


def _mde(reps: np.ndarray, n: int) -> float | None:
    """The smallest effect this design detects (80% power, two-sided 5%) from the spread of its replicates."""
    if len(reps) < 2 or n < 2:
        return None
    return min_detectable_effect(float(np.std(reps)) * math.sqrt(n), n)


def paired_effect(obs: Sequence[Obs], first: Any, last: Any, replicates: int = 1000, seed: int = 0,
                  key: str = "") -> tuple[dict[str, Any], float | None]:
    """(effect, smallest detectable effect): last minus first level over the units measured at both, with a
    paired bootstrap interval and the exact McNemar p-value of the discordant units."""
    units = _by_unit(obs)
    both = [u for u in units.values() if first in u and last in u]
    a, b = [u[first] for u in both], [u[last] for u in both]
    est, reps = paired_difference(a, b, replicates, seed, key)
    fixed = sum(x < y for x, y in zip(a, b, strict=True))
    broken = sum(x > y for x, y in zip(a, b, strict=True))
    effect = {"value": est.value, "ci": _ci(est), "p": mcnemar_exact(fixed, broken) if both else None}
    return effect, _mde(reps, est.n)


def independent_effect(obs: Sequence[Obs], order: Sequence[Any], replicates: int = 1000, seed: int = 0,
                       key: str = "") -> tuple[dict[str, Any], float | None]:
    """Last minus first level of independent samples (F3) with an interval from resampling each level, and
    the Cochran-Armitage trend p-value over every level (levels must be numbers)."""
    first = [o[2] for o in obs if o[1] == order[0]]
    last = [o[2] for o in obs if o[1] == order[-1]]
    est, reps = independent_difference(first, last, replicates, seed, key)
    totals = [sum(1 for o in obs if o[1] == v) for v in order]
    hits = [int(sum(o[2] for o in obs if o[1] == v)) for v in order]
    _, p = cochran_armitage([float(v) for v in order], hits, totals)
    return {"value": est.value, "ci": _ci(est), "p": p if est.value is not None else None}, _mde(reps, est.n)


def interaction_effect(obs: Sequence[Obs], group: Callable[[str], Any], groups: tuple[Any, Any], first: Any,
                       last: Any, replicates: int = 1000, seed: int = 0,
                       key: str = "") -> tuple[list[dict[str, Any]], dict[str, Any], float | None]:
    """F4: per group of units (spread 1, spread 2), the paired cost last - first; and the difference of the
    costs (second group minus first), resampling units within each group. p: normal approximation from the
    bootstrap standard error."""
    units = _by_unit(obs)
    levels, reps, sizes = [], [], []
    for g in groups:
        both = [u for name, u in units.items() if group(name) == g and first in u and last in u]
        est, r = paired_difference([u[first] for u in both], [u[last] for u in both], replicates, seed, f"{key}/{g}")
        levels.append({"value": g, "n": est.n, "metric": est.value, "ci": _ci(est), "vision_tokens": None})
        reps.append(r)
        sizes.append(est.n)
    if any(lv["metric"] is None for lv in levels) or not all(len(r) for r in reps):
        return levels, {"value": None, "ci": None, "p": None}, None
    diff = reps[1] - reps[0]
    value = levels[1]["metric"] - levels[0]["metric"]
    lo, hi = np.percentile(diff, [2.5, 97.5])
    se = float(np.std(diff))
    p = math.erfc(abs(value) / se / math.sqrt(2)) if se > 0 else (1.0 if value == 0 else 0.0)
    return levels, {"value": value, "ci": [float(lo), float(hi)], "p": p}, _mde(diff, min(sizes))


def depth_trend(shares: Sequence[Sequence[float]], replicates: int = 1000, seed: int = 0,
                key: str = "") -> tuple[list[dict[str, Any]], dict[str, Any], float | None]:
    """F6: per layer, the mean share with its interval; the effect is the mean per-sample slope over layers
    (`stats.paired_trend`, with its sign-flip p): each sample is compared with itself across depth."""
    y = np.asarray(shares, dtype=float)
    layers = list(range(y.shape[1]))
    levels = []
    for j in layers:
        est = bootstrap_mean(y[:, j], replicates, seed, f"{key}/{j}")
        levels.append({"value": j, "n": est.n, "metric": est.value, "ci": _ci(est), "vision_tokens": None})
    est, p, reps = paired_trend(layers, y, replicates, seed, key)
    return levels, {"value": est.value, "ci": _ci(est), "p": p}, _mde(reps, est.n)


def prior_score(answers: Sequence[str], level_answers: Sequence[str]) -> float | None:
    """What the answer prior (the bench's most frequent answer, ties to the smallest text) scores on a level."""
    if not answers or not level_answers:
        return None
    counts: dict[str, int] = {}
    for a in answers:
        counts[a] = counts.get(a, 0) + 1
    modal = min(counts, key=lambda a: (-counts[a], a))
    return sum(a == modal for a in level_answers) / len(level_answers)


def is_testable(base: dict[str, Any], prior: float | None, where: str) -> tuple[bool, str | None]:
    """Testable when the model's base-level score is at least PRIOR_MARGIN above the answer prior and its
    interval's lower end is above the prior; else the reason."""
    value, ci = base.get("metric"), base.get("ci")
    if value is None:
        return False, f"no scored samples at {where}"
    if prior is None:
        return True, None
    if value - prior >= PRIOR_MARGIN and ci is not None and ci[0] > prior:
        return True, None
    shown = f"{value:.2f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")
    return False, (f"the model scores {shown} at {where}, not well above the answer prior {prior:.2f} "
                   f"(needs +{PRIOR_MARGIN:.2f} and an interval clear of it)")


def decide(finding: Finding, effect: dict[str, Any], p_adjusted: float | None, testable: bool,
           why_not: str | None, interest: float = EFFECT_OF_INTEREST) -> tuple[str, str]:
    """(verdict, reason) of one finding from its effect and interval (module docstring)."""
    if not testable:
        return "not_testable", why_not or "not testable"
    value, ci = effect.get("value"), effect.get("ci")
    if value is None or ci is None:
        return "inconclusive", "no effect could be estimated (no paired samples)"
    side = "< 0" if finding.direction < 0 else "> 0"
    shown = f"{value:+.3f} [{ci[0]:+.3f}, {ci[1]:+.3f}]"
    adj = "" if p_adjusted is None else f", Holm-adjusted p = {p_adjusted:.3g}"
    clear = ci[0] > 0 or ci[1] < 0
    if clear:
        sign = 1 if ci[0] > 0 else -1
        where = "the paper's side" if sign == finding.direction else f"the side opposite to the paper's ({side})"
        if p_adjusted is not None and p_adjusted >= ALPHA:  # either way: one rule for both sides
            return "inconclusive", f"effect {shown}: the interval is clear of 0 on {where} but{adj} is not below {ALPHA}"
        if sign != finding.direction:
            return "opposite", f"effect {shown}{adj}: clear of 0 on the side opposite to the paper's (its side: {side})"
        return "reproduced", f"effect {shown}{adj}: clear of 0 on the paper's side"
    width = ci[1] - ci[0]
    if width > interest:
        return "inconclusive", (f"effect {shown}{adj}: the interval holds 0 and is wider ({width:.3f}) than the "
                                f"effect the paper implies ({interest:.2f}); more samples would tell")
    return "not_reproduced", (f"effect {shown}{adj}: the interval holds 0 and is narrower ({width:.3f}) than the "
                              f"effect the paper implies ({interest:.2f})")


def with_verdicts(findings: list[dict[str, Any]], specs: dict[str, Finding],
                  interest: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """Holm-adjust the p-values of the testable findings together, then decide each verdict; `reason` keeps
    the testability reason, the effect and the adjustment (each finding dict carries `testable` and the
    `reason` that makes it not testable)."""
    ps = [f["effect"].get("p") if f["testable"] else None for f in findings]
    adjusted = holm(ps)
    out = []
    for f, p_adj in zip(findings, adjusted, strict=True):
        spec = specs[f["id"]]
        verdict, reason = decide(spec, f["effect"], p_adj, f["testable"], f.get("reason"),
                                 (interest or {}).get(f["id"], EFFECT_OF_INTEREST))
        note = f.get("note")
        out.append({**{k: v for k, v in f.items() if k != "note"}, "verdict": verdict,
                    "reason": f"{reason}; {note}" if note else reason})
    return out


STUDY_KEYS = ("model", "profile", "findings")
FINDING_KEYS = ("id", "claim", "design", "metric", "levels", "effect", "min_detectable_effect", "testable",
                "verdict", "reason")


def study_record(model: str, profile: str, findings: list[dict[str, Any]]) -> dict[str, Any]:
    """study.json: exactly the keys other tools read (`STUDY_KEYS`, `FINDING_KEYS`; design: vary, fixed,
    paired; level: value, n, metric, ci, vision_tokens; effect: value, ci, p)."""
    def finding(f: dict[str, Any]) -> dict[str, Any]:
        return {"id": f["id"], "claim": f["claim"],
                "design": {k: f["design"][k] for k in ("vary", "fixed", "paired")}, "metric": f["metric"],
                "levels": [{k: lv.get(k) for k in ("value", "n", "metric", "ci", "vision_tokens")}
                           for lv in f["levels"]],
                "effect": {k: f["effect"].get(k) for k in ("value", "ci", "p")},
                "min_detectable_effect": f.get("min_detectable_effect"), "testable": bool(f["testable"]),
                "verdict": f["verdict"], "reason": f["reason"]}
    return {"model": model, "profile": profile, "findings": [finding(f) for f in findings]}
