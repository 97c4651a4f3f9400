"""Run folders -> paired comparisons (`evaluate/compare.py`) for `mimic compare` and the report, and the
report's order-consistency table (`mimic eval --permutations`, `evaluate/order.py`).

Runs are compared only on one bench: the bench manifest hash each run records (run.json
`settings.bench_manifest_hash`) must agree, unless the caller asks for the shared ids (`shared_ids`), e.g.
for two benches that share samples. Shared ids are not shared samples: generated ids are positions
(`counting-000003`), so any two generated benches share them. With `shared_ids` an id is paired only when
both benches (still there, unchanged since the runs) hold the same sample under it; ids naming different
samples are left out and counted (`n_differing`), and a pair whose benches cannot be read says so
(`unchecked`). The controls of the breakdown come from the bench folder when it is still there; without it
the comparison is per task only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mimic_vlm.errors import MimicError
from mimic_vlm.evaluate.compare import compare_rows
from mimic_vlm.report.blocks import MIMIC_SCORE, Section, Table, Text, label, mean_of
from mimic_vlm.report.runs import RunData, is_baseline, is_plain, run_model
from mimic_vlm.store import SAMPLES

NOTE = ("Paired on the samples both runs scored. Δ = B − A of the headline metric with a 95% paired bootstrap "
        "interval (one resample scores both runs); fixed = A wrong, B right; broken = A right, B wrong (the "
        "verdict is `correct`, for listing the exact set); p = exact McNemar test of fixed vs broken. The MIMIC "
        "score Δ is the mean of the task Δs.")


def manifest_hash(run: RunData) -> str | None:
    return run.record.manifest_hash


def _bench_path(run: RunData) -> Path | None:
    path = run.record.bench_path
    return path if path and (path / SAMPLES).is_file() else None


def bench_controls(run: RunData) -> dict[str, dict[str, Any]]:
    """Sample id -> controls from the run's bench folder; empty when the bench is gone."""
    from mimic_vlm.store import load_bench

    path = _bench_path(run)
    if path is None:
        return {}
    try:
        bench = load_bench(path)
    except MimicError:
        return {}
    recorded = manifest_hash(run)  # a bench regenerated since the run holds other samples under the same ids
    return {} if recorded is not None and bench.manifest_hash != recorded else {s.id: s.controls for s in bench.samples}


def run_samples(run: RunData) -> dict[str, dict[str, Any]] | None:
    """Sample id -> the sample as the run saw it; None when its bench is gone, unreadable, or changed since
    the run (the manifest hash differs from the recorded one): then no one can say what an id meant."""
    from mimic_vlm.store import load_bench

    path = _bench_path(run)
    if path is None:
        return None
    try:
        bench = load_bench(path)
        recorded = manifest_hash(run)
        if recorded is not None and bench.manifest_hash != recorded:
            return None
    except (MimicError, OSError):
        return None
    return {s.id: s.to_dict() for s in bench.samples}


def differing_ids(a: RunData, b: RunData) -> set[str] | None:
    """The ids both runs' benches hold, but with different samples under them; None when a bench cannot be
    read as its run saw it (so shared ids cannot be checked)."""
    sa, sb = run_samples(a), run_samples(b)
    if sa is None or sb is None:
        return None
    return {i for i in sa.keys() & sb.keys() if sa[i] != sb[i]}


def packed_copy(a: RunData, b: RunData) -> bool:
    """Whether one run's bench is the other's packed copy (`mimic pack`, `sweep --vary packed`): its ids name
    the same samples with their target images packed, so the runs pair on them (variants of one sample)."""
    from mimic_vlm.schema import read_json

    for x, y in ((a, b), (b, a)):
        path = _bench_path(y)
        try:
            source = read_json(path / "manifest.json").get("packed_from") if path is not None else None
        except (MimicError, AttributeError):
            source = None
        if isinstance(source, dict) and source.get("manifest_hash") and source["manifest_hash"] == manifest_hash(x) \
                and run_samples(y) is not None:
            return True
    return False


def check_pair(a: RunData, b: RunData, shared_ids: bool = False) -> None:
    """MimicError unless both runs have predictions and were scored on the same bench, or on a bench and its
    packed copy (or `shared_ids`)."""
    for r in (a, b):
        if not r.predictions:
            raise MimicError(f"{r.path}: no predictions.jsonl; a paired comparison needs per-sample scores")
    ha, hb = manifest_hash(a), manifest_hash(b)
    if shared_ids or (ha != hb and packed_copy(a, b)):
        return
    if ha is None or hb is None:
        missing = a if ha is None else b
        raise MimicError(f"{missing.path}: run.json records no bench manifest hash; pass --shared-ids to "
                         "compare on the sample ids both runs share")
    if ha != hb:
        raise MimicError(f"{a.path} and {b.path} were scored on different benches (manifest hash "
                         f"{ha[:12]} vs {hb[:12]}); pass --shared-ids to compare on the ids they share")


def compare_runs(a: RunData, b: RunData, shared_ids: bool = False, replicates: int = 1000,
                 seed: int = 0) -> dict[str, Any]:
    """compare.json's content for one pair: `compare_rows` plus the two run names."""
    check_pair(a, b, shared_ids)
    rows_a, rows_b = a.predictions, b.predictions
    extra: dict[str, Any] = {}
    if manifest_hash(a) != manifest_hash(b) and packed_copy(a, b):
        extra = {"variants": "one bench is the other's packed copy: each id pairs a sample with its packed variant"}
    elif shared_ids and (manifest_hash(a) is None or manifest_hash(a) != manifest_hash(b)):
        differ = differing_ids(a, b)
        if differ is None:
            extra = {"unchecked": f"the bench of {a.path} or {b.path} is gone or changed since the run, so "
                                  "the shared ids were paired without checking that they name the same samples"}
        else:
            shared = {str(r["id"]) for r in rows_a} & {str(r["id"]) for r in rows_b}
            if shared and shared <= differ:
                raise MimicError(f"{a.path} and {b.path}: the {len(shared)} sample ids they share name different "
                                 f"samples in their benches (e.g. {min(shared)!r}); generated ids are positions, so "
                                 "two generated benches share ids but not samples: nothing to pair")
            rows_a = [r for r in rows_a if str(r["id"]) not in differ]
            rows_b = [r for r in rows_b if str(r["id"]) not in differ]
            extra = {"n_differing": len(shared & differ)}
    result = compare_rows(rows_a, rows_b, bench_controls(a) or bench_controls(b), replicates, seed)
    if not result["n_shared"]:
        raise MimicError(f"{a.path} and {b.path} share no sample id")
    return {"a": a.name, "b": b.name, **result, **extra}


def pairing_note(result: dict[str, Any]) -> str | None:
    """What a --shared-ids comparison left out or could not check, for the terminal and compare.md."""
    if result.get("unchecked"):
        return str(result["unchecked"])
    if result.get("variants"):
        return str(result["variants"])
    if result.get("n_differing"):
        return (f"{result['n_differing']} shared id(s) name different samples in the two benches and were left "
                "out")
    return None


def _p(p: float | None) -> str:
    return "–" if p is None else ("<0.001" if p < 0.001 else f"{p:.3f}")


def _diff(entry: dict[str, Any]) -> str:
    if entry.get("diff") is None:
        return "–"
    ci = entry.get("ci")
    return f"{entry['diff']:+.3f}" + (f" [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else "")


def _v(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"


def compare_table(result: dict[str, Any]) -> Table:
    """Rows: MIMIC score, then per task its whole set and every control value."""
    headers = ["task", "group", "n", "metric", f"A: {result['a']}", f"B: {result['b']}", "Δ B − A [95% paired CI]",
               "fixed", "broken", "both right", "both wrong", "McNemar p"]
    rows = []
    if m := result.get("mimic_score"):
        rows.append([MIMIC_SCORE, "all", str(result["n_shared"]), mean_of(len(m["tasks"])),
                     _v(m["a"]), _v(m["b"]), _diff(m), "", "", "", "", ""])
    for task, t in result["tasks"].items():
        groups = [("all", t["all"])] + [(f"{c}={v}", e) for c, values in t["by_control"].items()
                                        if len(values) > 1 for v, e in values.items()]  # one value = "all"
        for group, e in groups:
            rows.append([task, group, str(e["n"]), label(t["headline"]), _v(e["a"]), _v(e["b"]), _diff(e),
                         str(e["fixed"]), str(e["broken"]), str(e["both_right"]), str(e["both_wrong"]),
                         _p(e["mcnemar_p"])])
    return Table(headers, rows)


def _model_id(run: RunData) -> str:
    m = run_model(run)
    return str(m.get("model") or m.get("name") or run.name)


def _headline_value(run: RunData) -> float:
    """The run's MIMIC score (or its one task's headline): how a best baseline is picked."""
    from mimic_vlm.evaluate.score import headline

    value = headline(run.scores).get("value") if run.scores.get("tasks") else None
    return float(value) if value is not None else float("-inf")


def compare_pairs(runs: list[RunData]) -> list[tuple[RunData, RunData]]:
    """The pairs a report compares, each run against its natural reference on its bench:
    - every changed run (an adapter or an attention mask) against the plain run of its model;
    - else every model run against the best baseline that is a reference, not a bound (`oracle` is perfect
      by construction: the best of chance, prior, single-image), as the demo's trained model;
    - else (baselines only, or no baseline) the first scored run (A) against every later one."""
    scored = [r for r in runs if r.predictions and not r.diagnostics and manifest_hash(r) is not None]
    same = lambda a, b: manifest_hash(a) == manifest_hash(b)  # noqa: E731
    changed = [r for r in scored if not is_baseline(r) and not is_plain(r)]
    if changed:
        return [(base, t) for t in changed
                for base in [next((b for b in scored if is_plain(b) and not is_baseline(b)
                                   and _model_id(b) == _model_id(t) and same(b, t)), None)] if base is not None]
    models = [r for r in scored if not is_baseline(r)]
    references = [r for r in scored if is_baseline(r) and _model_id(r) != "oracle"]
    pairs = []
    for m in models:
        candidates = [r for r in references if same(r, m)]
        if candidates:
            pairs.append((max(candidates, key=_headline_value), m))
    if pairs:
        return pairs
    return [(scored[0], r) for r in scored[1:] if same(scored[0], r)]


def compare_section(runs: list[RunData]) -> Section | None:
    """One paired table per pair (`compare_pairs`); None without a pair."""
    pairs = compare_pairs(runs)
    if not pairs:
        return None
    blocks: list[Text | Table] = [Text(NOTE)]
    for a, b in pairs:
        result = compare_runs(a, b)
        blocks += [Text(f"**{b.name} vs {a.name}** ({result['n_shared']} shared samples)"), compare_table(result)]
    return Section("Paired comparisons", blocks)  # type: ignore[arg-type]


def _f(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"


def order_section(runs: list[RunData]) -> Section | None:
    """Per run with `--permutations`: consistency, the headline under each order and its spread."""
    rows = []
    for r in runs:
        order = r.scores.get("order")
        if not order:
            continue
        for task, t in order["tasks"].items():
            shuffles = [v for v in t["by_order"][1:] if v is not None]
            rows.append([r.name, task, str(order["k"]), str(t["n"]), _f(t["consistency"]), label(t["headline"]),
                         _f(t["by_order"][0]),
                         f"{min(shuffles):.3f} – {max(shuffles):.3f}" if shuffles else "–", _f(t["spread"]),
                         _f(t["right_always"]), _f(t["right_sometimes"])])
    if not rows:
        return None
    return Section("Order consistency (shuffled image orders)", [
        Text("Each sample evaluated again under K seeded shuffles of its images (the same K orders for every "
             "model); the answer of every MIMIC task is order-invariant. Consistency = share of samples with the "
             "same parsed answer under all K + 1 orders; spread = max − min of the headline across orders; right "
             "always / sometimes = share right under every order / under at least one."),
        Table(["run", "task", "K", "n", "consistency", "metric", "original order", "shuffles (min – max)",
               "spread", "right always", "right sometimes"], rows)])
