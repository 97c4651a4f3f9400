"""Plot helpers shared by every report section and diagnostic (matplotlib, Agg backend, imported on use)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    pyplot().close(fig)
    return buf.getvalue()


def line_plot(path: Path, x: Sequence[float], series: dict[str, Sequence[dict[str, float]]], *, xlabel: str,
              ylabel: str, title: str, dashed: set[str] | None = None, logx: bool = False,
              xticks: Sequence[str] | None = None, ylim: tuple[float, float] | None = (0.0, 1.0)) -> Path:
    """One line per series (points `{mean, lo, hi}`) with its interval as a band; `dashed` series (baselines)
    are drawn dashed; `xticks` labels categorical x positions."""
    from matplotlib.ticker import MaxNLocator

    plt = pyplot()

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
