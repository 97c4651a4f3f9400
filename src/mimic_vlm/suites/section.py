"""The table users want (issue 7 §3): MIMIC and the multi-image benchmarks, one table per model, base and
fine-tuned side by side, with the differences and whether their 95% intervals overlap.

Runs are grouped by the model they evaluate (`model` in run.json's model settings); within a model the
run without an adapter is the base, every other setting of it a variant (named after its adapter). A
MIMIC run contributes the MIMIC score and each task's headline metric (from scores.json); a benchmark run
(bench manifest `kind: benchmark`) contributes accuracy over all its samples and, where the bench has
them, NLVR2 consistency and circular accuracy (recomputed from predictions.jsonl and the bench). Each
model may spread its benchmarks over several runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mimic_vlm.bench.store import MANIFEST, load_bench
from mimic_vlm.errors import MimicError
from mimic_vlm.evaluate.stats import Estimate
from mimic_vlm.report.blocks import Section, Table, Text, label
from mimic_vlm.report.runs import RunData
from mimic_vlm.schema import TASKS as MIMIC_TASKS
from mimic_vlm.schema import read_json
from mimic_vlm.suites.loaders import BENCHMARKS
from mimic_vlm.suites.metrics import benchmark_metrics

BASE = "base"


@dataclass
class ModelResults:
    """One model setting (base or a variant) and its entries: row name -> estimate."""

    model: str
    variant: str
    entries: dict[str, Estimate] = field(default_factory=dict)


def _model_settings(settings: dict[str, Any]) -> dict[str, Any]:
    return settings.get("model") or (settings.get("settings") or {}).get("model") or {}


def _bench_path(settings: dict[str, Any]) -> Path | None:
    bench = settings.get("bench")
    path = bench.get("path") if isinstance(bench, dict) else bench
    return Path(path) if path else None


def identify(run: RunData) -> tuple[str, str]:
    """(model, variant): the base id, and `base` or the adapter's folder name."""
    m = _model_settings(run.settings)
    model = str(m.get("model") or m.get("name") or run.name)
    adapter = m.get("adapter")
    return model, (f"fine-tuned: {Path(str(adapter)).name}" if adapter else BASE)


def _from_scores(scores: dict[str, Any], prefix: str) -> dict[str, Estimate]:
    out = {}
    if m := scores.get("mimic_score"):
        out["MIMIC score"] = _estimate(m, sum(scores["tasks"][t]["n"] for t in m.get("tasks", [])))
    for task, t in scores.get("tasks", {}).items():
        out[f"{prefix} {task} ({label(t['headline'])})"] = _estimate(t["metrics"][t["headline"]], t["n"])
    return out


def _estimate(entry: dict[str, Any], n: int) -> Estimate:
    ci = entry.get("ci")
    return Estimate(entry.get("value"), tuple(ci) if ci else None, n)  # type: ignore[arg-type]


def run_entries(run: RunData) -> dict[str, Estimate]:
    """The table rows one run contributes."""
    path = _bench_path(run.settings)
    manifest: dict[str, Any] = {}
    if path and (path / MANIFEST).is_file():
        manifest = read_json(path / MANIFEST)
    name = manifest.get("benchmark")
    if name not in BENCHMARKS:
        # a MIMIC bench, or one whose manifest is gone (then named after its folder)
        mimic = manifest or any(t in MIMIC_TASKS for t in run.scores.get("tasks", {}))
        return _from_scores(run.scores, "MIMIC" if mimic else (path.name if path else run.name))
    title = BENCHMARKS[name].title
    try:
        bench = load_bench(path)  # type: ignore[arg-type]
    except MimicError:  # moved or damaged: the per-task numbers of scores.json still hold
        return _from_scores(run.scores, title)
    metrics = benchmark_metrics(bench.samples, run.predictions)
    return {f"{title} {metric}": est for metric, est in metrics.items()}


def collect(runs: list[RunData]) -> list[ModelResults]:
    """Entries per (model, variant), in first-seen order; a base sorts before its variants."""
    results: dict[tuple[str, str], ModelResults] = {}
    for run in runs:
        model, variant = identify(run)
        results.setdefault((model, variant), ModelResults(model, variant)).entries.update(run_entries(run))
    order = {m: i for i, m in enumerate(dict.fromkeys(m for m, _ in results))}
    return sorted(results.values(), key=lambda r: (order[r.model], r.variant != BASE))


def overlap(a: Estimate, b: Estimate) -> bool | None:
    if not a.ci or not b.ci:
        return None
    return a.ci[0] <= b.ci[1] and b.ci[0] <= a.ci[1]


def cell(e: Estimate | None) -> str:
    """`54.2 [50.1, 58.3]` in percent."""
    if e is None or e.value is None:
        return "–"
    return f"{100 * e.value:.1f}" + (f" [{100 * e.ci[0]:.1f}, {100 * e.ci[1]:.1f}]" if e.ci else "")


def model_table(settings: list[ModelResults]) -> Table:
    """Rows: every entry any setting of one model has; columns: the reference (base, else the first
    setting), then per other setting its value, the difference in points and whether the intervals overlap."""
    ref, others = settings[0], settings[1:]
    rows_names = _ordered({k for s in settings for k in s.entries})
    headers = ["metric", "n", ref.variant] + [h for o in others for h in (o.variant, "Δ (points)", "95% CIs overlap")]
    rows = []
    for name in rows_names:
        a = ref.entries.get(name)
        row = [name, str(a.n if a else next(s.entries[name].n for s in settings if name in s.entries)), cell(a)]
        for o in others:
            b = o.entries.get(name)
            both = a is not None and b is not None and a.value is not None and b.value is not None
            diff = f"{100 * (b.value - a.value):+.1f}" if both else "–"  # type: ignore[operator,union-attr]
            ov = overlap(a, b) if both else None  # type: ignore[arg-type]
            row += [cell(b), diff, "–" if ov is None else ("yes" if ov else "no")]
        rows.append(row)
    return Table(headers, rows)


def _ordered(names: set[str]) -> list[str]:
    """MIMIC first (score, then tasks), then the benchmarks in their canonical order, accuracy first."""
    titles = [b.title for b in BENCHMARKS.values()]
    metrics = ("accuracy", "consistency", "circular accuracy")

    def key(n: str) -> tuple[int, int, str]:
        if n.startswith("MIMIC"):
            return (0, n != "MIMIC score", n)
        rank = next((i for i, t in enumerate(titles) if n.startswith(f"{t} ")), len(titles))
        metric = n.split(" ", 1)[-1]
        return (1 + rank, metrics.index(metric) if metric in metrics else len(metrics), n)

    return sorted(names, key=key)


def benchmarks_section(runs: list[RunData]) -> Section | None:
    """One table per model: MIMIC and the benchmarks, base vs fine-tuned; None for a single MIMIC run."""
    results = collect(runs)
    has_benchmark = any(not k.startswith("MIMIC") for r in results for k in r.entries)
    if not has_benchmark and len(results) < 2:
        return None
    blocks: list[Text | Table] = []
    for model in dict.fromkeys(r.model for r in results):
        blocks += [Text(f"**{model}**"), model_table([r for r in results if r.model == model])]
    blocks.append(Text("Values in percent with 95% bootstrap intervals. Δ = variant − base in points; "
                       "intervals that do not overlap mark a difference unlikely to be resampling noise. "
                       "Consistency (NLVR2) and circular accuracy count a group right only when all its "
                       "items are."))
    return Section("MIMIC and multi-image benchmarks: base vs fine-tuned", blocks)  # type: ignore[arg-type]
