"""`mimic score` (score predictions made anywhere), `mimic report` (markdown + HTML over run folders) and
`mimic compare` (paired differences between runs on their shared samples)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from mimic_vlm.commands.options import BenchDir, Official, seed_option
from mimic_vlm.errors import MimicError
from mimic_vlm.limits import MAX_BOOTSTRAP

if TYPE_CHECKING:
    from mimic_vlm.report.blocks import Section


def print_scores(scores: dict[str, Any], console: Console | None = None) -> None:
    """The summary table every scoring command ends with (the runner prints it too)."""
    from mimic_vlm.report.blocks import headline_rows

    console = console or Console()
    o = scores["overall"]
    mode = (scores.get("scoring") or {}).get("mode", "default")
    table = Table(title=f"scores ({mode} scoring, 95% bootstrap CI)")
    for col in ("task", "n", "metric", "value [CI]", "unparsed"):
        table.add_column(col, justify="right" if col in ("n", "unparsed") else "left")
    for row in headline_rows(scores):
        table.add_row(*row)
    console.print(table)
    missing = o.get("n_missing", 0)
    console.print(f"{o['n']} samples, {o['n_unparsed']} unparsed, {missing} without a prediction")
    if mode == "official":
        console.print("official scoring reproduces lmms-eval, bugs included (scores.json: scoring.notes)")


def score(
    bench: BenchDir,
    predictions: list[Path] = typer.Option(..., "--predictions", help=(
        "Predictions (repeatable): JSONL of {id, output}; lmms-eval --log_samples JSONL of an exported task; "
        "VLMEvalKit prediction files (.xlsx with openpyxl, .csv, .tsv, .pkl).")),
    official: Official = False,
    out: Path | None = typer.Option(None, "--out", help="Write scores.json here."),
    scored: Path | None = typer.Option(None, "--scored", help="Write each sample's parse and score (JSONL)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out / --scored file "
                                                              "(never a predictions file or a bench file)."),
    bootstrap: int = typer.Option(1000, min=0, max=MAX_BOOTSTRAP, help="Bootstrap replicates for the 95% intervals."),
    seed: int = seed_option("Bootstrap seed."),
) -> None:
    """Score predictions made anywhere (lmms-eval, VLMEvalKit, in-house) against a bench, as `eval` does."""
    from mimic_vlm.api import score as score_files

    scores = score_files(bench, predictions, official=official, bootstrap=bootstrap, seed=seed, out=out,
                         scored=scored, overwrite=overwrite)
    print_scores(scores.raw)


def report(
    runs: list[Path] = typer.Argument(..., metavar="RUN", help="Run folders (each with scores.json)."),
    out: Path = typer.Option(..., "--out", help="Report folder: report.md, report.html, figures/."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing report folder."),
    title: str = typer.Option("MIMIC evaluation report", help="Report title."),
    allow_mixed: bool = typer.Option(False, "--allow-mixed", help="Allow runs scored on different benches."),
) -> None:
    """Markdown and self-contained HTML report with tables and plots over one or more runs."""
    from mimic_vlm.api import report as write_report

    def warn(note: str) -> None:
        Console(stderr=True).print(f"warning: {note}", highlight=False, soft_wrap=True)

    path = write_report(runs, out, overwrite=overwrite, title=title, allow_mixed=allow_mixed, warn=warn)
    Console().print(f"wrote {path / 'report.md'} and {path / 'report.html'}")


def compare(
    runs: list[Path] = typer.Argument(..., metavar="RUN", help="Run folders: the first (A) against each of "
                                                                    "the others (B)."),
    out: Path | None = typer.Option(None, "--out", help="Folder for compare.json and compare.md."),
    shared_ids: bool = typer.Option(False, "--shared-ids", help="Compare runs of different benches on the "
                                                                 "samples they share (same id, same sample)."),
    bootstrap: int = typer.Option(1000, min=0, max=MAX_BOOTSTRAP,
                                  help="Paired bootstrap replicates for the 95% intervals."),
    seed: int = seed_option("Bootstrap seed."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out folder."),
) -> None:
    """Paired comparison: per task and control value, B - A with a paired 95% CI, fixed/broken, McNemar p."""
    from mimic_vlm.files import atomic_dir, check_output_folder, has_files, write_bytes_atomic
    from mimic_vlm.report.compare import compare_runs
    from mimic_vlm.report.render import render_markdown
    from mimic_vlm.report.runs import load_runs
    from mimic_vlm.schema import dumps

    if len(runs) < 2:
        raise MimicError("compare: give at least two run folders (A, then B ...)")
    if out is not None:  # refused before the tables are printed, not after
        check_output_folder(out, overwrite, has_files("compare.json"))
    loaded = load_runs(runs)
    results = [compare_runs(loaded[0], b, shared_ids, bootstrap, seed) for b in loaded[1:]]
    console = Console()
    sections = [_show_comparison(r, console) for r in results]
    if out is not None:
        with atomic_dir(out, overwrite=overwrite, marker=has_files("compare.json")) as tmp:
            write_bytes_atomic(tmp / "compare.json", dumps(results) + b"\n")
            write_bytes_atomic(tmp / "compare.md", render_markdown(sections, "Paired comparison").encode())
        console.print(f"wrote {out / 'compare.json'} and {out / 'compare.md'} (per control value too)")
    else:
        console.print("per control value, and both right / both wrong: --out DIR writes compare.md and compare.json")


def _show_comparison(r: dict[str, Any], console: Console) -> Section:
    """Print one B-vs-A comparison (one row per task, 80 columns) and return its report section (every control
    value)."""
    from mimic_vlm.report.blocks import Section, Text
    from mimic_vlm.report.compare import compare_table, pairing_note

    table = compare_table(r)
    note = pairing_note(r)
    if note:
        Console(stderr=True).print(f"warning: {r['b']} vs {r['a']}: {note}", highlight=False, soft_wrap=True)
    console.print(terminal_table(r, table), soft_wrap=False)
    return Section(f"{r['b']} vs {r['a']}", [
        Text(f"{r['n_shared']} shared samples ({r['only_a']} only in A, {r['only_b']} only in B)"
             + (f"; {note}" if note else "")), table])


def terminal_table(result: dict[str, Any], table: Any) -> Table:
    """`compare_table` for an 80-column terminal: one row per task (every control value and the both-right /
    both-wrong counts are in `--out`), A and B named in the title, the metrics in the caption; no cell is cut."""
    rich = Table(title=f"B = {result['b']} vs A = {result['a']}: {result['n_shared']} shared samples "
                       "(paired 95% bootstrap CI, exact McNemar p)", box=None, pad_edge=False,
                 padding=(0, 1), caption_justify="left", header_style="bold underline")
    for name in ("task", "n", "A", "B", "Δ B − A [95% CI]", "fixed", "broken", "p"):
        rich.add_column(name, no_wrap=True, justify="left" if name in ("task", "Δ B − A [95% CI]") else "right")
    metrics = []
    for row in table.rows:
        if row[1] == "all":
            rich.add_row(row[0], row[2], row[4], row[5], row[6], row[7], row[8], row[11])
            metrics.append(f"{row[0]}: {row[3]}")
    rich.caption = "; ".join(metrics)
    return rich


def register(app: typer.Typer) -> None:
    app.command()(score)
    app.command()(report)
    app.command()(compare)
