"""Plots of the diagnostics (lines with bootstrap bands; matplotlib, Agg), and their `mimic report` sections."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


def line_plot(path: Path, x: Sequence[float], series: dict[str, Sequence[dict[str, float]]], *, xlabel: str,
              ylabel: str, title: str, dashed: set[str] | None = None, logx: bool = False,
              xticks: Sequence[str] | None = None, ylim: tuple[float, float] | None = (0.0, 1.0)) -> Path:
    """One line per series (points `{mean, lo, hi}`) with its interval as a band; `dashed` series (baselines)
    are drawn dashed; `xticks` labels categorical x positions."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    for name, points in series.items():
        style = "--" if name in (dashed or set()) else "-"
        ax.plot(x, [p["mean"] for p in points], style, marker="o", ms=3, label=name)
        ax.fill_between(x, [p["lo"] for p in points], [p["hi"] for p in points], alpha=0.2)
    if logx:
        ax.set_xscale("log", base=2)
    if logx or xticks is not None:
        ax.set_xticks(list(x), list(xticks) if xticks is not None else [f"{v:g}" for v in x])
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    if ylim:
        ax.set_ylim(*ylim)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def as_band(entries: Sequence[dict[str, Any]]) -> list[dict[str, float]]:
    """Score entries `{value, ci}` (scores.json style) as plot points `{mean, lo, hi}`; missing -> NaN."""
    nan = float("nan")
    return [{"mean": nan if e.get("value") is None else e["value"],
             "lo": e["ci"][0] if e.get("ci") else nan, "hi": e["ci"][1] if e.get("ci") else nan} for e in entries]


ATTENTION_FIGURES = {
    "vision": ("Attention from vision tokens", ("vision.own", "vision.other", "vision.text")),
    "question": ("Attention from the question tokens", ("question.target", "question.distractor", "question.text")),
    "answer": ("Attention from the answer position", ("answer.target", "answer.distractor", "answer.text")),
}


def attention_plots(result: dict[str, Any], out: Path) -> list[Path]:
    """`vision.png`, `question.png`, `answer.png`: each share against the layer, with intervals."""
    layers = result["layers"]
    x = [row["layer"] for row in layers]
    return [line_plot(out / f"{name}.png", x, {k.split(".", 1)[1]: [row[k] for row in layers] for k in keys},
                      xlabel="layer", ylabel="share of attention", title=title)
            for name, (title, keys) in ATTENTION_FIGURES.items()]


# ---------------------------------------------------------------- report sections (`mimic report`)

RESULT_FILES = {"attention": "attention.json", "pooling": "pooling.json", "sweep": "sweep.json"}


def result_folders(runs: Sequence[Any], kind: str) -> list[Path]:
    """Folders holding a `kind` result among the given run folders and their ancestors up to 3 levels (a
    pooling study's runs are OUT/runs/k=K, a sweep's OUT/runs/MODEL/CONTROL=VALUE), each once, in order."""
    seen: list[Path] = []
    for run in runs:
        path = Path(run.path).resolve()
        for folder in (path, *path.parents[:3]):
            if (folder / RESULT_FILES[kind]).is_file() and folder not in seen:
                seen.append(folder)
    return seen


def _load(folder: Path, kind: str) -> dict[str, Any]:
    import orjson

    return orjson.loads((folder / RESULT_FILES[kind]).read_bytes())


def _figure(folder: Path, png: str, name: str, caption: str) -> list[Any]:
    from mimic_vlm.evaluate.report import Figure

    path = folder / png
    return [Figure(name=name, png=path.read_bytes(), caption=caption)] if path.is_file() else []


def _cell(entry: dict[str, Any]) -> str:
    from mimic_vlm.evaluate.report import fmt

    return fmt(entry)


def attention_section(runs: list[Any]) -> Any:
    from mimic_vlm.evaluate.report import Section, Table, Text

    blocks: list[Any] = []
    for i, folder in enumerate(result_folders(runs, "attention")):
        r = _load(folder, "attention")
        keys = ("vision.own", "vision.other", "vision.text", "answer.target", "answer.distractor", "answer.text")
        blocks += [Text(f"**{r['model']}** on {Path(r['bench']).name}: {r['samples']} samples, mask "
                        f"{r.get('mask') or 'none'}. Shares of attention (head and sample means, 95% bootstrap "
                        "intervals)."),
                   Table(["layer", *keys], [[str(row["layer"]), *(_band_cell(row[k]) for k in keys)]
                                            for row in r["layers"]])]
        for name in ATTENTION_FIGURES:
            blocks += _figure(folder, f"{name}.png", f"attention-{i}-{name}", ATTENTION_FIGURES[name][0])
    return Section("Attention by layer", blocks) if blocks else None


def _band_cell(p: dict[str, float]) -> str:
    if p.get("mean") is None or p["mean"] != p["mean"]:  # NaN in memory, null once written
        return "–"
    return f"{p['mean']:.3f} [{p['lo']:.3f}, {p['hi']:.3f}]"


def pooling_section(runs: list[Any]) -> Any:
    from mimic_vlm.evaluate.report import Section, Table, Text

    blocks: list[Any] = []
    for i, folder in enumerate(result_folders(runs, "pooling")):
        r = _load(folder, "pooling")
        blocks += [Text(f"**{r['model']}** on {Path(r['bench']).name} ({r['samples']} samples): each image's "
                        "vision tokens averaged in runs of k (1-D, raster order)."),
                   Table(["k", "tokens / image", r["points"][0]["metric"]],
                         [[str(p["k"]), f"{p['tokens_per_image']:.1f}", _cell(p)] for p in r["points"]])]
        blocks += _figure(folder, "pooling.png", f"pooling-{i}", "score vs vision tokens per image")
    return Section("Vision-token pooling", blocks) if blocks else None


def sweep_section(runs: list[Any]) -> Any:
    from mimic_vlm.evaluate.report import Section, Table, Text

    blocks: list[Any] = []
    for i, folder in enumerate(result_folders(runs, "sweep")):
        r = _load(folder, "sweep")
        series = {r["model"]: r["points"], **r["baselines"]}
        fixed = ", ".join(f"{k}={v}" for k, v in r["fixed"].items()) or "defaults"
        blocks += [Text(f"**{r['task']}**, {r['vary']} varied ({fixed} fixed), {r['count']} samples per value."),
                   Table([r["vary"], *series], [[v, *(_cell(pts[j]) for pts in series.values())]
                                               for j, v in enumerate(r["values"])])]
        blocks += _figure(folder, "sweep.png", f"sweep-{i}", f"score vs {r['vary']}")
    return Section("Sweeps", blocks) if blocks else None


def register_sections() -> None:
    """Add the diagnostics sections to `mimic report` (idempotent)."""
    from mimic_vlm.evaluate.report import register_section

    for builder in (attention_section, pooling_section, sweep_section):
        register_section(builder)
