"""The pairing gain of `mimic study`'s designs, measured on a finished study folder.

For F1 (n_images, first vs last level, and first vs second: a smaller effect), F5 (concepts, one vs the most) and F4 (the distractor cost at spread 2
minus at spread 1), the width of the effect's 95% interval with the paired variants the study ran, against
independent benches of the same size and the same per-level accuracy (each level resampled on its own: what
one bench per level gives), and the number of base samples each design needs for an interval of +-0.05
(the width scales as 1/sqrt(n)).

    mimic study --model toy:mimic-tiny --profile quick --findings F1,F4,F5 --out S
    python benchmarks/pairing_gain.py S            # a markdown table (BENCHMARKS.md, "The pairing gain")
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from mimic_vlm.compose.variants import variant_of
from mimic_vlm.evaluate.stats import independent_difference, interval, paired_difference
from mimic_vlm.schema import read_jsonl
from mimic_vlm.store import load_bench
from mimic_vlm.study.run import outcome

REPLICATES = 4000
TARGET_HALF_WIDTH = 0.05


def units(study: Path, finding: str, control: str) -> dict[str, dict[object, float]]:
    """base sample -> {level: outcome} of one finding's bench and run."""
    bench = load_bench(study / "benches" / finding)
    rows = {r["id"]: r for r in read_jsonl(study / "runs" / finding / "predictions.jsonl")}
    out: dict[str, dict[object, float]] = {}
    for s in bench.samples:
        if s.id in rows:
            out.setdefault(variant_of(s), {})[s.controls[control]] = outcome(rows[s.id])
    return out


def widths(a: list[float], b: list[float], key: str) -> tuple[float, float]:
    """(paired width, independent width) of mean(b) - mean(a) over the same units."""
    paired, _ = paired_difference(a, b, REPLICATES, key=key)
    independent, _ = independent_difference(a, b, REPLICATES, key=key)
    assert paired.ci is not None and independent.ci is not None
    return paired.ci[1] - paired.ci[0], independent.ci[1] - independent.ci[0]


def needed(width: float, n: int) -> int:
    """Base samples for an interval of +-TARGET_HALF_WIDTH, from a width measured at n."""
    return math.ceil(n * (width / 2 / TARGET_HALF_WIDTH) ** 2)


def interaction_widths(by_unit: dict[str, dict[object, float]], spread: dict[str, int], first: int,
                       last: int) -> tuple[float, float, int]:
    """F4: widths of (cost at spread 2) - (cost at spread 1), paired within units vs independent levels."""
    paired_reps, independent_reps = [], []
    for g in (1, 2):
        group = [u for name, u in by_unit.items() if spread[name] == g and first in u and last in u]
        a, b = [u[first] for u in group], [u[last] for u in group]
        paired_reps.append(paired_difference(a, b, REPLICATES, key=f"F4/{g}")[1])
        independent_reps.append(independent_difference(a, b, REPLICATES, key=f"F4/{g}")[1])
    p = interval(paired_reps[1] - paired_reps[0])
    i = interval(independent_reps[1] - independent_reps[0])
    assert p is not None and i is not None
    return p[1] - p[0], i[1] - i[0], len(by_unit)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("study", type=Path)
    study = ap.parse_args(argv).study
    rows = []
    f1 = units(study, "F1", "n_images")
    levels = sorted({v for u in f1.values() for v in u}, key=float)  # type: ignore[arg-type]
    both = [u for u in f1.values() if levels[0] in u and levels[-1] in u]
    pw, iw = widths([u[levels[0]] for u in both], [u[levels[-1]] for u in both], "F1")
    rows.append(("F1", f"n_images {levels[0]} vs {levels[-1]}", len(both), pw, iw))
    near = [u for u in f1.values() if levels[0] in u and levels[1] in u]  # a small effect: where pairing pays
    pw, iw = widths([u[levels[0]] for u in near], [u[levels[1]] for u in near], "F1-near")
    rows.append(("F1", f"n_images {levels[0]} vs {levels[1]}", len(near), pw, iw))
    f5 = units(study, "F5", "concepts")
    ks = sorted({v for u in f5.values() for v in u}, key=float)  # type: ignore[arg-type]
    both = [u for u in f5.values() if ks[0] in u and ks[-1] in u]
    pw, iw = widths([u[ks[0]] for u in both], [u[ks[-1]] for u in both], "F5")
    rows.append(("F5", f"concepts {ks[0]} vs {ks[-1]}", len(both), pw, iw))
    bench = load_bench(study / "benches" / "F1")
    spread = {variant_of(s): int(s.controls["spread"]) for s in bench.samples}
    pw, iw, n = interaction_widths(f1, spread, levels[0], levels[-1])  # type: ignore[arg-type]
    rows.append(("F4", f"distractor cost, spread 2 minus spread 1 (n_images {levels[0]} vs {levels[-1]})", n, pw, iw))
    print("| finding | effect | base samples | 95% interval width, paired | independent benches | "
          "paired / independent | samples for +-0.05, paired | independent |")
    print("|---|---|---|---|---|---|---|---|")
    for fid, what, n, pw, iw in rows:
        print(f"| {fid} | {what} | {n} | {pw:.3f} | {iw:.3f} | {pw / iw:.2f} | {needed(pw, n):,} | "
              f"{needed(iw, n):,} |")


if __name__ == "__main__":
    main()
