"""The core sections of every report: runs, summary, metrics by task, breakdown by control, unparsed answers,
how answers were scored. Other areas (diagnostics, other benchmarks) bring their own builders; the
composition root (`mimic_vlm.plugins`) lists them all."""

from __future__ import annotations

from typing import Any

from mimic_vlm.evaluate.metrics import control_order, task_order
from mimic_vlm.report.blocks import (
    CONTROLS,
    LABELS,
    MIMIC_SCORE,
    Block,
    Figure,
    Section,
    SectionBuilder,
    Table,
    Text,
    fmt,
    label,
)
from mimic_vlm.report.plots import png, pyplot
from mimic_vlm.report.runs import RunData, is_baseline, run_title
from mimic_vlm.report.usage import usage_section


def _bench_text(run: RunData) -> str:
    return run.record.bench_name or "–"


def scored(runs: list[RunData]) -> list[RunData]:
    """The runs with scores: diagnostics folders (probe, sweep) have their own sections, not rows here."""
    return [r for r in runs if not r.diagnostics]


def runs_section(runs: list[RunData]) -> Section | None:
    rows = []
    for r in scored(runs):
        o = r.scores.get("overall", {})
        rows.append([r.name, run_title(r), _bench_text(r),
                     str(o.get("n", "–")), str(o.get("n_unparsed", "–")), str(o.get("n_truncated", 0)),
                     str(o.get("n_missing", 0)), (r.scores.get("scoring") or {}).get("mode", "default")])
    headers = ["run", "model", "bench", "samples", "unparsed", "truncated", "missing", "scoring"]
    return Section("Runs", [Table(headers, rows)]) if rows else None


def summary_section(runs: list[RunData]) -> Section | None:
    runs = scored(runs)
    tasks = _tasks(runs)
    if not tasks:
        return None
    rows = []
    for r in runs:
        rows.append([r.name, fmt(_headline(r, MIMIC_SCORE))] + [fmt(_headline(r, t)) for t in tasks])
    heads = {t: label(next(r.scores["tasks"][t]["headline"] for r in runs if t in r.scores["tasks"]))
             for t in tasks}
    return Section("Summary (95% bootstrap intervals)", [
        Table(["run", MIMIC_SCORE] + [f"{t} ({heads[t]})" for t in tasks], rows),
        Text("MIMIC score = mean of the headline metrics of the MIMIC tasks present in the run. "
             "Baselines (no weights) are drawn hatched in the figure and dashed in the plots below; a thin "
             "stub on the axis marks a score of 0."),
        Figure("summary", _summary_plot(runs, tasks), "Headline metric per task, runs side by side (95% CI)"),
    ])


def metrics_section(runs: list[RunData]) -> Section | None:
    runs = scored(runs)
    blocks: list[Block] = []
    for task in _tasks(runs):
        specs = [r.scores["tasks"][task] for r in runs if task in r.scores["tasks"]]
        metrics = _metric_order(specs[0]["headline"], [m for t in specs for m in t["metrics"]])
        rows = [[r.name, str(r.scores["tasks"][task]["n"])]
                + [fmt(r.scores["tasks"][task]["metrics"].get(m)) for m in metrics]
                for r in runs if task in r.scores["tasks"]]
        blocks += [Text(f"**{task}**"), Table(["run", "n"] + [label(m) for m in metrics], rows)]
    return Section("Metrics by task", blocks) if blocks else None


def controls_section(runs: list[RunData]) -> Section | None:
    """Per control: a figure (headline vs value; a panel per task, a line + CI band per run) and a table.
    A control with a single value gets the table only: there is nothing to plot against."""
    runs = scored(runs)
    names = {c for r in runs for t in r.scores["tasks"].values() for c in t["by_control"]}
    blocks: list[Block] = []
    for control in [c for c in CONTROLS if c in names] + sorted(names - set(CONTROLS)):
        values = _control_values(runs, control)
        if len(values) > 1 and varying_panels(runs, control):
            blocks.append(Figure(f"control_{control}", _control_plot(runs, control, values),
                                 f"Headline metric vs {control}"))
        rows = []
        for r in runs:
            for task in _tasks([r]):
                by = r.scores["tasks"][task]["by_control"].get(control, {})
                series = _series(r, task, control)
                if by:
                    rows.append([r.name, task] + [f"{fmt(series[v], ci=False)} (n={by[v]['n']})" if v in by
                                                  else "–" for v in values])
        blocks.append(Table(["run", "task"] + [f"{control}={v}" for v in values], rows))
    return Section("Breakdown by control", blocks) if blocks else None


def unparsed_section(runs: list[RunData], per_run: int = 6) -> Section | None:
    """The most frequent answers of each model that could not be read: shows whether the model or the parser
    is at fault. Baselines are left out (the single-image solver's "none" is its design, not a parse failure);
    each run shows its `per_run` most frequent outputs, and the sample browser has them all."""
    rows = []
    totals = []
    for r in scored(runs):
        if is_baseline(r):
            continue
        seen: dict[str, list[str]] = {}
        for p in r.predictions:
            if p.get("unparsed") and not p.get("missing"):
                seen.setdefault(str(p.get("output", "")), []).append(str(p.get("id")))
        if not seen:
            continue
        totals.append(f"{r.name} {sum(map(len, seen.values()))}")
        for output, ids in sorted(seen.items(), key=lambda kv: -len(kv[1]))[:per_run]:
            rows.append([r.name, repr(output[:120]), str(len(ids)), ids[0]])
    if not rows:
        return None
    return Section("Unparsed answers (most frequent)", [
        Text(f"Unparsed answers per run: {', '.join(totals)}; up to {per_run} distinct outputs each below. "
             "Every one of them is in the [sample browser](#sample-browser) of report.html (verdict: unparsed)."),
        Table(["run", "output", "times", "e.g. id"], rows)])


def scoring_section(runs: list[RunData]) -> Section | None:
    runs = scored(runs)
    if not runs:
        return None
    blocks: list[Block] = []
    for mode in dict.fromkeys((r.scores.get("scoring") or {}).get("mode", "default") for r in runs):
        names = [r.name for r in runs if (r.scores.get("scoring") or {}).get("mode", "default") == mode]
        notes = next((r.scores.get("scoring") or {}).get("notes", []) for r in runs if r.name in names)
        bullets = "\n".join(f"- {n}" for n in notes)
        blocks.append(Text(f"**{mode} scoring** ({', '.join(names)}):\n\n{bullets}"))
    return Section("How answers were scored", blocks)


def _tasks(runs: list[RunData]) -> list[str]:
    return task_order(t for r in runs for t in r.scores["tasks"])


def _metric_order(headline: str, metrics: list[str]) -> list[str]:
    """Headline first, then the known metrics in `LABELS` order, then the rest by name."""
    rank = {m: i for i, m in enumerate(LABELS)}
    return sorted(set(metrics), key=lambda m: (m != headline, rank.get(m, len(rank)), m))


def _headline(run: RunData, task: str) -> dict[str, Any] | None:
    """{"value", "ci"} of a task's headline metric in a run (`MIMIC score` for the mean), None if absent."""
    if task == MIMIC_SCORE:
        return run.scores.get("mimic_score")
    t = run.scores["tasks"].get(task)
    return t["metrics"][t["headline"]] if t else None


def _summary_plot(runs: list[RunData], tasks: list[str]) -> bytes:
    """Grouped bars: one group per task (+ MIMIC score), one bar per run, 95% CI whiskers."""
    plt = pyplot()
    groups = tasks + ([MIMIC_SCORE] if any(r.scores.get("mimic_score") for r in runs) else [])
    width = 0.8 / len(runs)
    colors = run_colors(runs)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.2 * len(groups) * max(1, len(runs) / 2)), 3.2))
    for i, r in enumerate(runs):
        entries = [_headline(r, g) for g in groups]
        x = [j + (i - (len(runs) - 1) / 2) * width for j in range(len(groups))]
        values = [e["value"] if e and e.get("value") is not None else float("nan") for e in entries]
        errors = [[v - e["ci"][0], e["ci"][1] - v] if e and e.get("ci") and v == v else [0.0, 0.0]
                  for v, e in zip(values, entries, strict=True)]
        ax.bar(x, values, width, yerr=list(zip(*errors, strict=True)), capsize=2, label=r.name,
               color=colors[r.name], hatch="//" if is_baseline(r) else None, edgecolor="white", linewidth=0.5)
        zeros = zero_positions(x, values)
        if zeros:  # a bar of height 0 is invisible: a stub says "measured, and 0" (a missing value has none)
            ax.bar(zeros, [0.012] * len(zeros), width, color=colors[r.name], edgecolor="black", linewidth=0.6)
    ax.set_xticks(range(len(groups)), groups, fontsize=9)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("headline metric")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, ncol=min(len(runs), 4), loc="upper center", bbox_to_anchor=(0.5, -0.1),
              frameon=False)
    fig.subplots_adjust(bottom=0.22, top=0.95, left=0.1, right=0.98)
    return png(fig)


def run_colors(runs: list[RunData]) -> dict[str, str]:
    """One colour per run, the same in every figure of the report (by the run's place among the scored runs)."""
    return {r.name: f"C{i % 10}" for i, r in enumerate(scored(runs))}


def _control_values(runs: list[RunData], control: str) -> list[str]:
    found = {v for r in runs for t in r.scores["tasks"].values() for v in t["by_control"].get(control, {})}
    return sorted(found, key=control_order)


def _series(run: RunData, panel: str, control: str) -> dict[str, dict[str, Any]]:
    """Control value -> {"value", "ci"} of a panel's headline: a task, or the MIMIC score."""
    if panel == MIMIC_SCORE:
        return (run.scores.get("mimic_score") or {}).get("by_control", {}).get(control, {})
    t = run.scores["tasks"].get(panel)
    return {v: e["metrics"][t["headline"]] for v, e in t["by_control"].get(control, {}).items()} if t else {}


_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def zero_positions(x: list[float], values: list[float]) -> list[float]:
    """Where a bar is exactly 0: drawn as a stub, since a bar of height 0 is invisible (NaN = no value)."""
    return [xi for xi, v in zip(x, values, strict=True) if v == 0]


def dodge(n_runs: int, positions: list[float]) -> list[float]:
    """Per run, a small x shift (8% of the closest spacing, centred) so identical runs do not hide each other."""
    ordered = sorted(set(positions))
    spacing = min((b - a for a, b in zip(ordered, ordered[1:], strict=False)), default=1.0) or 1.0
    return [(i - (n_runs - 1) / 2) * 0.08 * spacing for i in range(n_runs)]


def _control_plot(runs: list[RunData], control: str, values: list[str]) -> bytes:
    from matplotlib.ticker import MaxNLocator

    plt = pyplot()
    panels = varying_panels(runs, control)
    numeric = all(control_order(v)[0] == 0 for v in values)
    xpos = {v: (float(v) if numeric else i) for i, v in enumerate(values)}
    shifts = dodge(len(runs), list(xpos.values()))
    colors = run_colors(runs)
    cols = min(len(panels), PANELS_PER_ROW)
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.0 * cols, 3.0 * rows + 0.6), squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    legend: dict[str, Any] = {}
    for ax, panel in zip(axes.flat, panels, strict=False):
        for i, r in enumerate(runs):
            points = _series(r, panel, control)
            keys = [v for v in values if v in points and points[v].get("value") is not None]
            if not keys:
                continue
            x, color = [xpos[v] + shifts[i] for v in keys], colors[r.name]
            (legend[r.name],) = ax.plot(x, [points[v]["value"] for v in keys], marker=_MARKERS[i % len(_MARKERS)],
                                        ms=4, color=color, linestyle="--" if is_baseline(r) else "-")
            cis = [ci for v in keys if (ci := points[v].get("ci"))]
            if len(cis) == len(keys):
                ax.fill_between(x, [c[0] for c in cis], [c[1] for c in cis], color=color, alpha=0.18, lw=0)
        lo, hi = ax.get_ylim()
        if 0 <= lo and hi <= 1.1:  # rates share one scale, so panels and runs compare at a glance
            ax.set_ylim(0, 1.02)
        heads = {r.scores["tasks"][panel]["headline"] for r in runs if panel in r.scores["tasks"]}
        ax.set_title(panel, fontsize=10)
        ax.set_xlabel(control)
        ax.set_ylabel(" / ".join(sorted(map(label, heads))) or MIMIC_SCORE, fontsize=8)
        if not numeric:
            ax.set_xticks(range(len(values)), values, rotation=30, fontsize=8)
        elif len(values) <= 12:  # ticks at the values themselves, never interpolated ones ("0.945 0.960")
            ax.set_xticks([xpos[v] for v in values], values, fontsize=8)
        elif all(float(v).is_integer() for v in values):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    fig.legend(list(legend.values()), list(legend), loc="lower center", ncol=min(len(legend), 5) or 1,
               fontsize=9, frameon=False)
    height = 3.0 * rows + 0.6
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.9 / height + 0.08 / rows, top=1 - 0.35 / height,
                        wspace=0.3, hspace=0.55)  # fixed margins: tight_layout costs seconds per figure
    return png(fig)


PANELS_PER_ROW = 3
"""Panels of a control plot per row: each stays about 400 px wide on the report's 1200 px page."""


def varying_panels(runs: list[RunData], control: str) -> list[str]:
    """The tasks (and the MIMIC score) where `control` takes more than one value: a panel where it never
    varies (spread for odd_one, distractors for common) would be one point or empty."""
    return [p for p in [*_tasks(runs), MIMIC_SCORE]
            if len({v for r in runs for v in _series(r, p, control)}) > 1]


CORE_SECTIONS: tuple[SectionBuilder, ...] = (runs_section, summary_section, metrics_section, controls_section,
                                             unparsed_section, usage_section, scoring_section)
