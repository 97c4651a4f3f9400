"""CLI commands of the benchmarks area: `mimic import`, `mimic import-official`, `mimic export`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from mimic_vlm.commands.options import BenchDir, Overwrite
from mimic_vlm.commands.progress import RichProgress
from mimic_vlm.errors import MimicError
from mimic_vlm.terminal import printable

if TYPE_CHECKING:
    from mimic_vlm.suites.importer import ImportReport

MAX_WARNINGS_SHOWN = 20


def _print_report(report: ImportReport, what: str) -> None:
    console = Console()
    console.print(f"[bold]{what}[/] -> {report.bench}", highlight=False)
    table = Table(show_header=False)
    table.add_row("samples", str(report.samples))
    for task, n in report.by_task.items():
        table.add_row(f"  {printable(task)}", str(n))
    table.add_row("warnings", str(len(report.warnings)))
    console.print(table)
    for w in report.warnings[:MAX_WARNINGS_SHOWN]:
        console.print(Text("warning: ", style="yellow") + Text(printable(w)), highlight=False, soft_wrap=True)
    if len(report.warnings) > MAX_WARNINGS_SHOWN:
        console.print(f"[yellow]… {len(report.warnings) - MAX_WARNINGS_SHOWN} more in manifest.json (warnings)[/]")


def import_(
    benchmark: str = typer.Argument(..., metavar="BENCHMARK", help="muirbench | blink | mantis-eval | nlvr2 | mirb | mmiu"),
    path: Path | None = typer.Argument(None, metavar="PATH", help="The release on disk: a data file or the folder holding "
                                                  "its parquet / arrow / json files (and image folders)."),
    out: Path = typer.Option(..., "--out", help="Bench folder to create."),
    split: str | None = typer.Option(None, help="Split to read (default: the benchmark's answered split)."),
    circular: bool = typer.Option(False, "--circular", help="One sample per rotation of the options; an "
                                                            "item counts only if all are right."),
    drop_defective: bool = typer.Option(False, "--drop-defective",
                                        help="Drop MCQs whose gold letter is outside their options."),
    hub: bool = typer.Option(False, "--hub", help="Download the release from the Hugging Face Hub first "
                                                  "(network)."),
    overwrite: Overwrite = False,
) -> None:
    """Import an existing multi-image benchmark's released files as a bench (offline)."""
    from mimic_vlm.suites.importer import hub_snapshot, import_benchmark

    if path is None and not hub:
        raise MimicError("import: give the PATH of the release on disk, or --hub to download it")
    source = hub_snapshot(benchmark) if hub or path is None else path
    with RichProgress(transient=True) as progress:
        report = import_benchmark(benchmark, source, out, split=split, circular_eval=circular,
                                  drop_defective=drop_defective, overwrite=overwrite, progress=progress)
    _print_report(report, benchmark)

def import_official(
    path: Path = typer.Argument(..., metavar="PATH", help="The released MIMIC dataset (anurag4446/mimic) on disk: config "
                                          "folders of parquet files and/or save_to_disk folders."),
    out: Path = typer.Option(..., "--out", help="Bench folder to create."),
    split: str = typer.Option("test", help="Split to read."),
    config: str | None = typer.Option(None, help="Treat every file as this config (counting, common, oddone, "
                                                 "listing, counting_unbalanced) instead of its folder name."),
    images: Path | None = typer.Option(None, "--images-dir", help="Folder of the images named by file (COCO "
                                                                   "train2017, for counting_unbalanced)."),
    coco_annotations: Path | None = typer.Option(None, "--coco-annotations", help="COCO instances json: "
                                                 "adds the category vocabulary the scorers use."),
    overwrite: Overwrite = False,
) -> None:
    """Import the released MIMIC dataset as a bench."""
    from mimic_vlm.bench.official import import_official as run

    with RichProgress(transient=True) as progress:
        report = run(path, out, split=split, config=config, images_dir=images,
                     coco_annotations=coco_annotations, overwrite=overwrite, progress=progress)
    _print_report(report, "MIMIC (official release)")

def export(
    bench: BenchDir,
    fmt: str = typer.Option(..., "--format", help="hf | lmms-eval | vlmevalkit"),
    out: Path = typer.Option(..., "--out", help="Folder to create."),
    name: str | None = typer.Option(None, help="Task / file name (default: the bench folder's name)."),
    overwrite: Overwrite = False,
) -> None:
    """Export a bench as HF parquet, an lmms-eval task folder, or a VLMEvalKit TSV."""
    from mimic_vlm.bench.export import export_bench

    with Console().status(f"exporting {bench} as {fmt}"):
        folder = export_bench(bench, fmt, out, name=name, overwrite=overwrite)
    Console().print(f"wrote {fmt} export to {folder}: " + ", ".join(sorted(p.name for p in folder.iterdir())))


def register(app: typer.Typer) -> None:
    app.command("import")(import_)
    app.command("import-official")(import_official)
    app.command("export")(export)
