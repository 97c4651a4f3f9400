"""The diagnostics' sections of `mimic report`: attention by layer, vision-token pooling, sweeps."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mimic_vlm.probe.plots import ATTENTION_FIGURES
from mimic_vlm.report.blocks import Block, Figure, Section, Table, Text, fmt, label
from mimic_vlm.report.runs import DIAGNOSTICS, RunData
from mimic_vlm.schema import read_json


def result_folders(runs: Sequence[RunData], kind: str) -> list[Path]:
    """Folders holding a `kind` result among the given run folders and their ancestors up to 3 levels (a
    pooling study's runs are OUT/runs/k=K, a sweep's OUT/runs/MODEL/CONTROL=VALUE), each once, in order."""
    seen: list[Path] = []
    for run in runs:
        path = Path(run.path).resolve()
        for folder in (path, *path.parents[:3]):
            if (folder / DIAGNOSTICS[kind]).is_file() and folder not in seen:
                seen.append(folder)
    return seen


def _load(folder: Path, kind: str) -> dict[str, Any]:
    return read_json(folder / DIAGNOSTICS[kind])


def _figure(folder: Path, png: str, name: str, caption: str) -> list[Figure]:
    path = folder / png
    return [Figure(name=name, png=path.read_bytes(), caption=caption)] if path.is_file() else []


def _cell(entry: dict[str, Any]) -> str:
    from mimic_vlm.probe.sweep import score_of

    return fmt(score_of(entry))


def attention_section(runs: list[RunData]) -> Section | None:
    blocks: list[Block] = []
    for i, folder in enumerate(result_folders(runs, "attention")):
        r = _load(folder, "attention")
        keys = ("vision.own", "vision.other", "vision.text", "answer.target", "answer.distractor", "answer.text")
        blocks += [Text(f"**{r['model']}** on {Path(r['bench']).name}: {r['samples']} samples, mask "
                        f"{r.get('mask') or 'none'}. Shares of attention (head and sample means, 95% bootstrap "
                        "intervals)."),
                   Table(["layer", *keys], [[str(row["layer"]), *(fmt(row[k]) for k in keys)]
                                            for row in r["layers"]])]
        for name in ATTENTION_FIGURES:
            blocks += _figure(folder, f"{name}.png", f"attention-{i}-{name}", ATTENTION_FIGURES[name][0])
    return Section("Attention by layer", blocks) if blocks else None


def pooling_section(runs: list[RunData]) -> Section | None:
    blocks: list[Block] = []
    for i, folder in enumerate(result_folders(runs, "pooling")):
        r = _load(folder, "pooling")
        blocks += [Text(f"**{r['model']}** on {Path(r['bench']).name} ({r['samples']} samples): each image's "
                        "vision tokens averaged in runs of k (1-D, raster order)."),
                   Table(["k", "tokens / image", label(r["points"][0]["metric"])],
                         [[str(p["k"]), f"{p['tokens_per_image']:.1f}", _cell(p)] for p in r["points"]])]
        blocks += _figure(folder, "pooling.png", f"pooling-{i}", "score vs vision tokens per image")
    return Section("Vision-token pooling", blocks) if blocks else None


def sweep_section(runs: list[RunData]) -> Section | None:
    blocks: list[Block] = []
    for i, folder in enumerate(result_folders(runs, "sweep")):
        r = _load(folder, "sweep")
        series = {r["model"]: r["points"], **r["baselines"]}
        fixed = ", ".join(f"{k}={v}" for k, v in r["fixed"].items()) or "defaults"
        blocks += [Text(f"**{r['task']}**, {r['vary']} varied ({fixed} fixed), {r['count']} samples per value."),
                   Table([r["vary"], *series], [[v, *(_cell(pts[j]) for pts in series.values())]
                                               for j, v in enumerate(r["values"])])]
        blocks += _figure(folder, "sweep.png", f"sweep-{i}", f"score vs {r['vary']}")
        tokens = [p.get("vision_tokens") for p in r["points"]]
        if any(tokens):
            blocks.append(Table([r["vary"], f"{r['model']}: vision tokens per sample (mean)"],
                                [[v, "–" if t is None else f"{t:.0f}"] for v, t in zip(r["values"], tokens, strict=True)]))
            blocks += _figure(folder, "sweep_tokens.png", f"sweep-tokens-{i}", "score vs vision tokens per sample")
    return Section("Sweeps", blocks) if blocks else None
