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


def line_plot(path: Path, x: Sequence[float], series: dict[str, Sequence[dict[str, Any]]], *, xlabel: str,
              ylabel: str, title: str, dashed: set[str] | None = None, logx: bool = False,
              xticks: Sequence[str] | None = None, ylim: tuple[float, float] | None = (0.0, 1.0)) -> Path:
    """One line per series of estimates (`{"value", "ci"}`, see evaluate/stats.py) with its interval as a band;
    `dashed` series (baselines) are drawn dashed; `xticks` labels categorical x positions."""
    from matplotlib.ticker import MaxNLocator

    plt = pyplot()

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    for name, points in series.items():
        style = "--" if name in (dashed or set()) else "-"
        nan = float("nan")
        ax.plot(x, [nan if p.get("value") is None else p["value"] for p in points], style, marker="o", ms=3,
                label=name)
        ax.fill_between(x, [p["ci"][0] if p.get("ci") else nan for p in points],
                        [p["ci"][1] if p.get("ci") else nan for p in points], alpha=0.2)
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
