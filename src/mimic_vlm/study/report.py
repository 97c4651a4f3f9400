"""What a study shows: study.md and one figure per finding in its folder, and the study's section of
`mimic report` (a report over a study folder, or over any of its runs, shows it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mimic_vlm.files import write_bytes_atomic, write_json_atomic
from mimic_vlm.report.blocks import Block, Figure, Section, Table, Text

FIGURES = "figures"


def _num(v: Any, signed: bool = False) -> str:
    if v is None:
        return "–"
    return f"{v:+.3f}" if signed else f"{v:.3f}"


def _estimate(value: Any, ci: Any, signed: bool = False) -> str:
    if value is None:
        return "–"
    return f"{_num(value, signed)} [{_num(ci[0], signed)}, {_num(ci[1], signed)}]" if ci else _num(value, signed)


def _p(p: float | None) -> str:
    return "–" if p is None else "<0.001" if p < 0.001 else f"{p:.3f}"


def _x(values: list[Any]) -> tuple[list[float], list[str] | None]:
    """Numeric x positions (values that are numbers), or positions 0..n-1 with the values as tick labels."""
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return [float(v) for v in values], None
    return [float(i) for i in range(len(values))], [str(v) for v in values]


def figure(finding: dict[str, Any], path: Path) -> Path | None:
    """The finding's metric by level with its 95% intervals (None when it has no levels)."""
    from mimic_vlm.report.plots import line_plot

    levels = finding["levels"]
    if not levels:
        return None
    x, ticks = _x([lv["value"] for lv in levels])
    points = [{"value": lv["metric"], "ci": lv["ci"]} for lv in levels]
    return line_plot(path, x, {finding["id"]: points}, xlabel=finding["design"]["vary"], ylabel=finding["metric"],
                     title=f"{finding['id']}: {finding['claim']}"[:90], xticks=ticks, ylim=None,
                     logx=finding["id"] == "F2")


def summary_rows(record: dict[str, Any]) -> list[list[str]]:
    return [[f["id"], f["claim"], _estimate(f["effect"]["value"], f["effect"]["ci"], True), _p(f["effect"]["p"]),
             _num(f["min_detectable_effect"]),
             f["verdict"]] for f in record["findings"]]


HEADERS = ["finding", "the paper's claim", "effect [95% CI]", "p (unadjusted)", "detectable at n", "verdict"]


def blocks(record: dict[str, Any], figures: dict[str, bytes], prefix: str = "study") -> list[Block]:
    """The study's blocks: the verdict table, then per finding its design, levels, reason and figure (figure
    files named `<prefix>-<finding>`)."""
    out: list[Block] = [
        Text(f"**{record['model']}**, profile `{record['profile']}`: {len(record['findings'])} findings. Effects "
             "with 95% bootstrap intervals (paired over base samples where the design pairs); p-values Holm-adjusted "
             "across the findings for the verdicts; 'detectable at n' is the smallest effect the design detects "
             "with 80% power."),
        Table(HEADERS, summary_rows(record))]
    for f in record["findings"]:
        fixed = ", ".join(f"{k}: {v}" for k, v in f["design"]["fixed"].items()) or "–"
        out.append(Text(f"### {f['id']}: {f['claim']}\n\nvaries **{f['design']['vary']}** "
                        f"({'paired' if f['design']['paired'] else 'independent samples'}); fixed: {fixed}. "
                        f"Verdict **{f['verdict']}**: {f['reason']}"))
        if f["levels"]:
            out.append(Table([f["design"]["vary"], "n", f["metric"] + " [95% CI]", "vision tokens / sample"],
                             [[str(lv["value"]), str(lv["n"]), _estimate(lv["metric"], lv["ci"]),
                               "–" if lv["vision_tokens"] is None else f"{lv['vision_tokens']:.1f}"]
                              for lv in f["levels"]]))
        if f["id"] in figures:
            out.append(Figure(name=f"{prefix}-{f['id']}", png=figures[f["id"]], caption=f"{f['id']}: {f['metric']} by "
                              f"{f['design']['vary']}"))
    return out


def write_outputs(out: Path, record: dict[str, Any]) -> None:
    """study.json, the figures and study.md (figures linked from figures/)."""
    from mimic_vlm.report.render import render_markdown

    pngs: dict[str, bytes] = {}
    for f in record["findings"]:
        path = figure(f, out / FIGURES / f"{f['id']}.png")
        if path is not None:
            pngs[f["id"]] = path.read_bytes()
    write_json_atomic(out / "study.json", record)
    text = render_markdown([Section("Findings", blocks(record, pngs))], f"MIMIC study of {record['model']}")
    write_bytes_atomic(out / "study.md", text.replace("(figures/study-", "(figures/").encode())


def study_folders(runs: list[Any]) -> list[Path]:
    """Study folders among the report's run folders and their ancestors (a study's runs are OUT/runs/F1 and
    OUT/runs/F2/max_pixels=N), each once, in order."""
    seen: list[Path] = []
    for run in runs:
        path = Path(run.path).resolve()
        for folder in (path, *path.parents[:3]):
            if (folder / "study.json").is_file() and folder not in seen:
                seen.append(folder)
    return seen


def study_section(runs: list[Any]) -> Section | None:
    """`mimic report` over a study's runs: the study's table, levels and one figure per finding."""
    return study_section_of(study_folders(runs))


def study_section_of(folders: list[Path]) -> Section | None:
    """The report section of these study folders (a caller that ran a study beside its runs: the demo)."""
    from mimic_vlm.schema import read_json

    out: list[Block] = []
    for i, folder in enumerate(folders):
        record = read_json(folder / "study.json")
        pngs = {f["id"]: (folder / FIGURES / f"{f['id']}.png").read_bytes() for f in record["findings"]
                if (folder / FIGURES / f"{f['id']}.png").is_file()}
        out += blocks(record, pngs, f"study-{i}")
    return Section("The paper's study", out) if out else None
