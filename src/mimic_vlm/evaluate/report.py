"""Reports over run folders: `report.md` (+ `figures/*.png`) and a self-contained `report.html`.

A report is a list of sections, each built from all runs by a function in the `SECTIONS` registry, so other
areas add theirs (probe results, sweeps, other benchmarks) with `register_section` without touching this
module. A section is made of blocks (text, tables, figures) that both renderers understand; builders never
write files and return None when they have nothing to say.

A run folder holds `scores.json` (required), `predictions.jsonl` and `run.json` (optional; the model is
read from `model` or `settings.model`, the bench from `bench`; without it the folder name identifies the run).
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mimic_vlm.errors import MimicError
from mimic_vlm.evaluate.metrics import control_order, task_order
from mimic_vlm.schema import atomic_dir, read_json, read_jsonl, write_bytes_atomic

# ---- data and blocks -----------------------------------------------------------------------------------


@dataclass
class RunData:
    name: str
    path: Path
    scores: dict[str, Any]
    settings: dict[str, Any] = field(default_factory=dict)
    predictions: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Text:
    text: str  # markdown-light: paragraphs; rendered escaped in HTML


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]


@dataclass
class Figure:
    name: str  # file stem, unique within the report
    png: bytes
    caption: str


Block = Text | Table | Figure


@dataclass
class Section:
    title: str
    blocks: list[Block]


SectionBuilder = Callable[[list[RunData]], Section | None]
SECTIONS: list[SectionBuilder] = []


def register_section(builder: SectionBuilder) -> SectionBuilder:
    """Add a section to every report (in registration order); usable as a decorator."""
    if builder not in SECTIONS:
        SECTIONS.append(builder)
    return builder


# Modules of other areas that register report sections (diagnostics, other benchmarks): imported on first use,
# so library callers of `write_report` get the same report as the CLI.
SECTION_MODULES = ("mimic_vlm.suites.section", "mimic_vlm.probe.plots")


def _load_builtin_sections() -> None:
    import importlib

    for name in SECTION_MODULES:
        module = importlib.import_module(name)
        if hasattr(module, "register_sections"):
            module.register_sections()


# ---- loading -------------------------------------------------------------------------------------------


def load_run(path: str | Path) -> RunData:
    path = Path(path)
    if not (path / "scores.json").is_file():
        from mimic_vlm.probe.plots import RESULT_FILES

        if any((path / f).is_file() for f in RESULT_FILES.values()):  # a diagnostics folder: its own sections
            return RunData(path.resolve().name, path, {"tasks": {}}, {}, [])
        raise MimicError(f"{path}: not a run folder (no scores.json, {', '.join(RESULT_FILES.values())})")
    scores = read_json(path / "scores.json")
    if not isinstance(scores, dict) or not isinstance(scores.get("tasks"), dict):
        raise MimicError(f"{path / 'scores.json'}: not a mimic scores file (no 'tasks')")
    settings = read_json(path / "run.json") if (path / "run.json").is_file() else {}
    predictions = read_jsonl(path / "predictions.jsonl") if (path / "predictions.jsonl").is_file() else []
    return RunData(path.resolve().name, path, scores, settings, predictions)


def load_runs(paths: list[str | Path]) -> list[RunData]:
    """Runs in the given order; equal folder names get a suffix so every run has its own name."""
    runs = [load_run(p) for p in paths]
    seen: dict[str, int] = {}
    for run in runs:
        seen[run.name] = seen.get(run.name, 0) + 1
        if seen[run.name] > 1:
            run.name = f"{run.name}#{seen[run.name]}"
    return runs


# ---- formatting helpers (also used by the CLI table) ---------------------------------------------------

MIMIC_SCORE = "MIMIC score"
CONTROLS = ("n_images", "spread", "distractors", "concepts")  # shown first, in this order
LABELS = {"correct": "accuracy", "abs_error": "MAE", "off_by_one": "off-by-one", "exact": "exact set",
          "precision": "macro P", "recall": "macro R", "f1": "macro F1", "micro_precision": "micro P",
          "micro_recall": "micro R", "micro_f1": "micro F1", "unparsed_rate": "unparsed"}


def label(metric: str) -> str:
    return LABELS.get(metric, metric)


def fmt(entry: dict[str, Any] | None, ci: bool = True) -> str:
    """`0.532 [0.501, 0.560]`; "–" when undefined."""
    if not entry or entry.get("value") is None:
        return "–"
    text = f"{entry['value']:.3f}"
    if ci and entry.get("ci"):
        text += f" [{entry['ci'][0]:.3f}, {entry['ci'][1]:.3f}]"
    return text


def headline_rows(scores: dict[str, Any]) -> list[list[str]]:
    """One row per task and one for the MIMIC score: name, n, headline metric, value [CI], unparsed."""
    rows = []
    for task in task_order(scores["tasks"]):
        t = scores["tasks"][task]
        unparsed = t["metrics"].get("unparsed_rate", {}).get("value")
        rows.append([task, str(t["n"]), label(t["headline"]), fmt(t["metrics"][t["headline"]]),
                     "–" if unparsed is None else f"{unparsed:.1%}"])
    if scores.get("mimic_score"):
        m = scores["mimic_score"]
        rows.append([MIMIC_SCORE, str(sum(scores["tasks"][t]["n"] for t in m["tasks"])),
                     f"mean of {len(m['tasks'])} headlines", fmt(m), ""])
    return rows


# ---- core sections -------------------------------------------------------------------------------------


def run_model(run: RunData) -> dict[str, Any]:
    """The model settings of a run: run.json's `model`, or `settings.model` as `mimic eval` writes it."""
    return run.settings.get("model") or (run.settings.get("settings") or {}).get("model") or {}


def _model_text(run: RunData) -> str:
    m = run_model(run)
    text = str(m.get("model") or m.get("name") or m.get("spec") or run.name)
    return text + (f" + adapter {Path(str(m['adapter'])).name}" if m.get("adapter") else "")


def _bench_text(run: RunData) -> str:
    bench = run.settings.get("bench") or {}
    path = bench.get("path") or bench.get("name") if isinstance(bench, dict) else bench
    return Path(str(path)).name if path else "–"


@register_section
def runs_section(runs: list[RunData]) -> Section:
    rows = []
    for r in runs:
        o = r.scores.get("overall", {})
        rows.append([r.name, _model_text(r), _bench_text(r),
                     str(o.get("n", "–")), str(o.get("n_unparsed", "–")), str(o.get("n_missing", 0)),
                     (r.scores.get("scoring") or {}).get("mode", "default")])
    headers = ["run", "model", "bench", "samples", "unparsed", "missing", "scoring"]
    return Section("Runs", [Table(headers, rows)])


@register_section
def summary_section(runs: list[RunData]) -> Section:
    tasks = _tasks(runs)
    rows = []
    for r in runs:
        rows.append([r.name, fmt(_headline(r, MIMIC_SCORE))] + [fmt(_headline(r, t)) for t in tasks])
    heads = {t: label(next(r.scores["tasks"][t]["headline"] for r in runs if t in r.scores["tasks"]))
             for t in tasks}
    return Section("Summary (95% bootstrap intervals)", [
        Table(["run", MIMIC_SCORE] + [f"{t} ({heads[t]})" for t in tasks], rows),
        Text("MIMIC score = mean of the headline metrics of the MIMIC tasks present in the run. "
             "Baselines (no weights) are drawn hatched in the figure and dashed in the plots below."),
        Figure("summary", _summary_plot(runs, tasks), "Headline metric per task, runs side by side (95% CI)"),
    ])


@register_section
def metrics_section(runs: list[RunData]) -> Section:
    blocks: list[Block] = []
    for task in _tasks(runs):
        specs = [r.scores["tasks"][task] for r in runs if task in r.scores["tasks"]]
        metrics = _metric_order(specs[0]["headline"], [m for t in specs for m in t["metrics"]])
        rows = [[r.name, str(r.scores["tasks"][task]["n"])]
                + [fmt(r.scores["tasks"][task]["metrics"].get(m)) for m in metrics]
                for r in runs if task in r.scores["tasks"]]
        blocks += [Text(f"**{task}**"), Table(["run", "n"] + [label(m) for m in metrics], rows)]
    return Section("Metrics by task", blocks)


@register_section
def controls_section(runs: list[RunData]) -> Section | None:
    """Per control: a figure (headline vs value; a panel per task, a line + CI band per run) and a table."""
    names = {c for r in runs for t in r.scores["tasks"].values() for c in t["by_control"]}
    blocks: list[Block] = []
    for control in [c for c in CONTROLS if c in names] + sorted(names - set(CONTROLS)):
        values = _control_values(runs, control)
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


@register_section
def unparsed_section(runs: list[RunData], per_run: int = 6) -> Section | None:
    """The most frequent answers that could not be read: shows whether the model or the parser is at fault."""
    rows = []
    for r in runs:
        seen: dict[str, list[str]] = {}
        for p in r.predictions:
            if p.get("unparsed") and not p.get("missing"):
                seen.setdefault(str(p.get("output", "")), []).append(str(p.get("id")))
        for output, ids in sorted(seen.items(), key=lambda kv: -len(kv[1]))[:per_run]:
            rows.append([r.name, repr(output[:120]), str(len(ids)), ids[0]])
    if not rows:
        return None
    return Section("Unparsed answers (most frequent)", [Table(["run", "output", "times", "e.g. id"], rows)])


@register_section
def scoring_section(runs: list[RunData]) -> Section:
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


def _is_baseline(run: RunData) -> bool:
    return run_model(run).get("kind") == "baseline"


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    _pyplot().close(fig)
    return buf.getvalue()


def _headline(run: RunData, task: str) -> dict[str, Any] | None:
    """{"value", "ci"} of a task's headline metric in a run (`MIMIC score` for the mean), None if absent."""
    if task == MIMIC_SCORE:
        return run.scores.get("mimic_score")
    t = run.scores["tasks"].get(task)
    return t["metrics"][t["headline"]] if t else None


def _summary_plot(runs: list[RunData], tasks: list[str]) -> bytes:
    """Grouped bars: one group per task (+ MIMIC score), one bar per run, 95% CI whiskers."""
    plt = _pyplot()
    groups = tasks + ([MIMIC_SCORE] if any(r.scores.get("mimic_score") for r in runs) else [])
    width = 0.8 / len(runs)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.2 * len(groups) * max(1, len(runs) / 2)), 3.2))
    for i, r in enumerate(runs):
        entries = [_headline(r, g) for g in groups]
        x = [j + (i - (len(runs) - 1) / 2) * width for j in range(len(groups))]
        values = [e["value"] if e and e.get("value") is not None else float("nan") for e in entries]
        errors = [[v - e["ci"][0], e["ci"][1] - v] if e and e.get("ci") and v == v else [0.0, 0.0]
                  for v, e in zip(values, entries, strict=True)]
        ax.bar(x, values, width, yerr=list(zip(*errors, strict=True)), capsize=2, label=r.name,
               color=f"C{i % 10}", hatch="//" if _is_baseline(r) else None, edgecolor="white", linewidth=0.5)
    ax.set_xticks(range(len(groups)), groups, fontsize=9)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("headline metric")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, ncol=min(len(runs), 4), loc="upper center", bbox_to_anchor=(0.5, -0.1),
              frameon=False)
    fig.subplots_adjust(bottom=0.22, top=0.95, left=0.1, right=0.98)
    return _png(fig)


def _control_values(runs: list[RunData], control: str) -> list[str]:
    found = {v for r in runs for t in r.scores["tasks"].values() for v in t["by_control"].get(control, {})}
    return sorted(found, key=control_order)


def _series(run: RunData, panel: str, control: str) -> dict[str, dict[str, Any]]:
    """Control value -> {"value", "ci"} of a panel's headline: a task, or the MIMIC score."""
    if panel == MIMIC_SCORE:
        return (run.scores.get("mimic_score") or {}).get("by_control", {}).get(control, {})
    t = run.scores["tasks"].get(panel)
    return {v: e["metrics"][t["headline"]] for v, e in t["by_control"].get(control, {}).items()} if t else {}


def _control_plot(runs: list[RunData], control: str, values: list[str]) -> bytes:
    from matplotlib.ticker import MaxNLocator

    plt = _pyplot()
    panels = [p for p in [*_tasks(runs), MIMIC_SCORE] if any(_series(r, p, control) for r in runs)]
    numeric = all(control_order(v)[0] == 0 for v in values)
    xpos = {v: (float(v) if numeric else i) for i, v in enumerate(values)}
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 2.9), squeeze=False)
    legend: dict[str, Any] = {}
    for ax, panel in zip(axes[0], panels, strict=True):
        for i, r in enumerate(runs):
            points = _series(r, panel, control)
            keys = [v for v in values if v in points and points[v].get("value") is not None]
            if not keys:
                continue
            x, color = [xpos[v] for v in keys], f"C{i % 10}"
            (legend[r.name],) = ax.plot(x, [points[v]["value"] for v in keys], marker="o", color=color,
                                        linestyle="--" if _is_baseline(r) else "-")
            cis = [points[v].get("ci") for v in keys]
            if all(cis):
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
        elif all(float(v).is_integer() for v in values):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    fig.legend(list(legend.values()), list(legend), loc="lower center", ncol=min(len(legend), 5) or 1,
               fontsize=8, frameon=False)
    fig.subplots_adjust(left=0.25 / len(panels), right=1 - 0.05 / len(panels), bottom=0.3, top=0.88,
                        wspace=0.35)  # fixed margins: tight_layout costs seconds per figure
    return _png(fig)


# ---- rendering -----------------------------------------------------------------------------------------


def build_sections(runs: list[RunData]) -> list[Section]:
    _load_builtin_sections()
    return [s for builder in SECTIONS if (s := builder(runs)) is not None]


def render_markdown(sections: list[Section], title: str) -> str:
    out = [f"# {title}", ""]
    for s in sections:
        out += [f"## {s.title}", ""]
        for b in s.blocks:
            if isinstance(b, Text):
                out += [b.text, ""]
            elif isinstance(b, Table):
                out += ["| " + " | ".join(_md_cell(h) for h in b.headers) + " |",
                        "|" + "---|" * len(b.headers)]
                out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in b.rows]
                out.append("")
            else:
                out += [f"![{b.caption}](figures/{b.name}.png)", ""]
    return "\n".join(out)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


_CSS = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.8em 0;font-size:.88em}th,td{border:1px solid #ccc;padding:.25em .6em;
text-align:left}th{background:#f3f3f3}tr:nth-child(even) td{background:#fafafa}img{max-width:100%}
h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}figcaption{color:#666;font-size:.85em}
p{white-space:pre-line}"""


def render_html(sections: list[Section], title: str) -> str:
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
           f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"]
    for s in sections:
        out.append(f"<h2>{html.escape(s.title)}</h2>")
        for b in s.blocks:
            if isinstance(b, Text):
                text = html.escape(b.text)
                while "**" in text and text.count("**") >= 2:
                    text = text.replace("**", "<b>", 1).replace("**", "</b>", 1)
                out.append(f"<p>{text}</p>")
            elif isinstance(b, Table):
                head = "".join(f"<th>{html.escape(h)}</th>" for h in b.headers)
                body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                               for row in b.rows)
                out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
            else:
                data = base64.b64encode(b.png).decode()
                out.append(f"<figure><img alt='{html.escape(b.caption)}' src='data:image/png;base64,{data}'>"
                           f"<figcaption>{html.escape(b.caption)}</figcaption></figure>")
    out.append("</body></html>")
    return "\n".join(out)


def write_report(run_paths: list[str | Path], out: str | Path, overwrite: bool = False,
                 title: str = "MIMIC evaluation report") -> Path:
    """Build every registered section over the runs and write report.md, figures/ and report.html."""
    if not run_paths:
        raise MimicError("report: give at least one run folder")
    runs = load_runs(run_paths)
    with atomic_dir(out, overwrite=overwrite) as tmp:  # refuses an existing folder before any work
        sections = build_sections(runs)
        for s in sections:
            for b in s.blocks:
                if isinstance(b, Figure):
                    write_bytes_atomic(tmp / "figures" / f"{b.name}.png", b.png)
        write_bytes_atomic(tmp / "report.md", render_markdown(sections, title).encode())
        write_bytes_atomic(tmp / "report.html", render_html(sections, title).encode())
    return Path(out)
