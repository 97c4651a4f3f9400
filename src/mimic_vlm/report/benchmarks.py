"""The table users want (issue 7 §3): MIMIC and the multi-image benchmarks, one table per model, base and
fine-tuned side by side, with each difference and its **paired** 95% interval and exact McNemar p (issue 14:
overlapping marginal intervals say little about a difference measured on the same samples).

Runs are grouped by the model they evaluate (`model` in run.json's model settings); within a model the
run without an adapter is the base, every other setting of it a variant (named after its adapter; a second
run of the same setting on the same rows is a variant named after its folder, never dropped). A
MIMIC run contributes the MIMIC score and each task's headline metric (from scores.json); a benchmark run
(bench manifest `kind: benchmark`) contributes accuracy over all its samples and, where the bench has
them, NLVR2 consistency and circular accuracy (recomputed from predictions.jsonl and the bench). Each
model may spread its benchmarks over several runs. Values are on the 0-1 scale, like the rest of the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mimic_vlm.errors import MimicError
from mimic_vlm.evaluate.compare import compare_rows, paired_entry, verdict_field
from mimic_vlm.evaluate.stats import Estimate
from mimic_vlm.evaluate.tasks import get_task
from mimic_vlm.evaluate.taskspec import GroupMetric, mean
from mimic_vlm.report.blocks import Section, Table, Text, label
from mimic_vlm.report.runs import RunData, run_model
from mimic_vlm.schema import TASKS as MIMIC_TASKS
from mimic_vlm.schema import read_json
from mimic_vlm.store import MANIFEST, load_bench
from mimic_vlm.suites.loaders import BENCHMARKS
from mimic_vlm.suites.metrics import CIRCULAR_GROUP, CONSISTENCY_GROUP, benchmark_metrics, group_outcomes

BASE = "base"
MIMIC_SCORE = "MIMIC score"


@dataclass
class Paired:
    """What a paired difference of one entry needs: the bench it was scored on (manifest hash), the per-sample
    (or per-group) rows and the metric over them; `agg` None is the MIMIC score (rows of every task)."""

    bench: str | None
    rows: list[dict[str, Any]]
    agg: GroupMetric | None


@dataclass
class ModelResults:
    """One model setting (base or a variant) and its entries: row name -> estimate (and paired inputs)."""

    model: str
    variant: str
    entries: dict[str, Estimate] = field(default_factory=dict)
    paired: dict[str, Paired] = field(default_factory=dict)


def identify(run: RunData) -> tuple[str, str]:
    """(model, variant): the base id, and `base` (no adapter, no mask), else what the run added to it:
    `fine-tuned: ADAPTER`, `mask LAYERS`, or both (a masked run is no base)."""
    from mimic_vlm.report.runs import model_title

    m = run_model(run)
    model = str(m.get("model") or m.get("name") or run.name)
    added = model_title(m, model)[len(model):].removeprefix(" + ").replace(" + ", ", ")
    return model, (added.replace("adapter ", "fine-tuned: ", 1) if added else BASE)


def _from_scores(scores: dict[str, Any], prefix: str) -> dict[str, Estimate]:
    out = {}
    if m := scores.get("mimic_score"):
        out["MIMIC score"] = _estimate(m, sum(scores["tasks"][t]["n"] for t in m.get("tasks", [])))
    for task, t in scores.get("tasks", {}).items():
        out[f"{prefix} {task} ({label(t['headline'])})"] = _estimate(t["metrics"][t["headline"]], t["n"])
    return out


def _estimate(entry: dict[str, Any], n: int) -> Estimate:
    ci = entry.get("ci")
    return Estimate(entry.get("value"), tuple(ci) if ci else None, n)


def run_entries(run: RunData) -> dict[str, Estimate]:
    """The table rows one run contributes."""
    return run_results(run)[0]


def run_results(run: RunData) -> tuple[dict[str, Estimate], dict[str, Paired]]:
    """The table rows one run contributes, and what their paired differences need."""
    path = run.record.bench_path
    digest = run.record.settings.get("bench_manifest_hash")
    manifest: dict[str, Any] = {}
    if path and (path / MANIFEST).is_file():
        manifest = read_json(path / MANIFEST)
    name = manifest.get("benchmark")
    if name not in BENCHMARKS:
        # a MIMIC bench, or one whose manifest is gone (then named after its folder)
        mimic = manifest or any(t in MIMIC_TASKS for t in run.scores.get("tasks", {}))
        prefix = "MIMIC" if mimic else (path.name if path else run.name)
        return _from_scores(run.scores, prefix), _paired_from_predictions(run, prefix, digest)
    title = BENCHMARKS[name].title
    try:
        bench = load_bench(path)  # type: ignore[arg-type]
    except MimicError:  # moved or damaged: the per-task numbers of scores.json still hold
        return _from_scores(run.scores, title), _paired_from_predictions(run, title, digest)
    metrics = benchmark_metrics(bench.samples, run.predictions)
    ids = {s.id for s in bench.samples}
    paired = {f"{title} accuracy": Paired(digest, [{"id": r["id"], "correct": bool(r.get("correct"))}
                                                   for r in run.predictions if r["id"] in ids], mean("correct"))}
    for metric, key in (("consistency", CONSISTENCY_GROUP), ("circular accuracy", CIRCULAR_GROUP)):
        if metric in metrics:
            outcomes = group_outcomes(bench.samples, run.predictions, key)
            paired[f"{title} {metric}"] = Paired(digest, [{"id": g, "correct": ok} for g, ok in outcomes.items()],
                                                 mean("correct"))
    return {f"{title} {metric}": est for metric, est in metrics.items()}, paired


def _paired_from_predictions(run: RunData, prefix: str, digest: str | None) -> dict[str, Paired]:
    out: dict[str, Paired] = {}
    if not run.predictions:
        return out
    if run.scores.get("mimic_score"):
        out[MIMIC_SCORE] = Paired(digest, run.predictions, None)
    for task, t in run.scores.get("tasks", {}).items():
        rows = [r for r in run.predictions if r.get("task") == task]
        out[f"{prefix} {task} ({label(t['headline'])})"] = Paired(digest, rows, get_task(task).aggregates()[
            t["headline"]])
    return out


def collect(runs: list[RunData]) -> list[ModelResults]:
    """Entries per (model, variant), in first-seen order; a base sorts before its variants. A run whose
    rows its setting already has (the same model evaluated twice) becomes a variant named after its folder;
    diagnostics folders and runs without scores contribute nothing."""
    results: dict[tuple[str, str], ModelResults] = {}
    for run in runs:
        if run.diagnostics or not run.scores.get("tasks"):
            continue
        model, variant = identify(run)
        entries, paired = run_results(run)
        if (model, variant) in results and results[(model, variant)].entries.keys() & entries.keys():
            variant = f"{variant} ({run.name})"
        into = results.setdefault((model, variant), ModelResults(model, variant))
        into.entries.update(entries)
        into.paired.update(paired)
    order = {m: i for i, m in enumerate(dict.fromkeys(m for m, _ in results))}
    return sorted(results.values(), key=lambda r: (order[r.model], r.variant != BASE))


def cell(e: Estimate | None) -> str:
    """`0.542 [0.501, 0.583]` (0-1 scale, as everywhere in the report)."""
    if e is None or e.value is None:
        return "–"
    return f"{e.value:.3f}" + (f" [{e.ci[0]:.3f}, {e.ci[1]:.3f}]" if e.ci else "")


def paired_cells(a: Paired | None, b: Paired | None, replicates: int = 1000) -> tuple[str, str]:
    """(`+0.120 [+0.040, +0.200]`, McNemar p) of B - A on their shared rows; "–" unless both were scored
    on the same bench."""
    if a is None or b is None or a.bench is None or a.bench != b.bench:
        return "–", "–"
    if a.agg is None or b.agg is None:
        m = compare_rows(a.rows, b.rows, replicates=replicates)["mimic_score"]
        return (_signed(m) if m else "–"), ""
    by_b = {r["id"]: r for r in b.rows}
    pa = [r for r in a.rows if r["id"] in by_b]
    pb = [by_b[r["id"]] for r in pa]
    if not pa:
        return "–", "–"
    e, _ = paired_entry(pa, pb, a.agg, verdict_field(pa + pb), replicates)
    p = e["mcnemar_p"]
    return _signed(e), "–" if p is None else ("<0.001" if p < 0.001 else f"{p:.3f}")


def _signed(e: dict[str, Any]) -> str:
    if e.get("diff") is None:
        return "–"
    ci = e.get("ci")
    return f"{e['diff']:+.3f}" + (f" [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else "")


def model_table(settings: list[ModelResults]) -> Table:
    """Rows: every entry any setting of one model has; columns: the reference (base, else the first
    setting), then per other setting its value, the paired difference with its 95% interval, McNemar p."""
    ref, others = settings[0], settings[1:]
    rows_names = _ordered({k for s in settings for k in s.entries})
    headers = ["metric", "n", ref.variant] + [h for o in others
                                              for h in (o.variant, "Δ [95% paired CI]", "McNemar p")]
    rows = []
    for name in rows_names:
        a = ref.entries.get(name)
        row = [name, str(a.n if a else next(s.entries[name].n for s in settings if name in s.entries)), cell(a)]
        for o in others:
            row += [cell(o.entries.get(name)), *paired_cells(ref.paired.get(name), o.paired.get(name))]
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
    """One table per model: MIMIC and the benchmarks, base vs fine-tuned; None unless some run is on a
    multi-image benchmark or some model has a second setting (a fine-tuned variant)."""
    results = collect(runs)
    has_benchmark = any(not k.startswith("MIMIC") for r in results for k in r.entries)
    has_variant = any(r.variant != BASE for r in results)
    if not has_benchmark and not has_variant:
        return None
    blocks: list[Text | Table] = []
    for model in dict.fromkeys(r.model for r in results):
        blocks += [Text(f"**{model}**"), model_table([r for r in results if r.model == model])]
    blocks.append(Text("Values on the 0-1 scale with 95% bootstrap intervals. Δ = variant − base, with a 95% "
                       "paired bootstrap interval over the samples (or groups) both scored on the same bench; "
                       "McNemar p = exact test of the samples fixed vs broken. Consistency (NLVR2) and circular "
                       "accuracy count a group right only when all its items are."))
    return Section("MIMIC and multi-image benchmarks: base vs fine-tuned", blocks)  # type: ignore[arg-type]
