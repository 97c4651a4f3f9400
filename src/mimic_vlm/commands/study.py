"""`mimic study`: the paper's findings F1-F7 on one model, in one resumable folder (`study/run.py`)."""

from __future__ import annotations

import shutil
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from mimic_vlm.commands.options import seed_option
from mimic_vlm.commands.progress import RichProgress


def study(
    model: str = typer.Option(..., help="Any --model spec of `mimic eval` (hf:, tiny:, toy:, openai:, baselines)."),
    out: Path = typer.Option(..., help="Study folder: study.json, study.md, figures/, benches/, runs/ (resumable)."),
    findings: str = typer.Option("all", help="Which findings, e.g. F1,F3 (default: F1-F7)."),
    profile: str = typer.Option("quick", help="quick (a CPU in minutes, toy-world ranges), paper (the paper's "
                                              "ranges, up to 10 images, for real models on GPUs) or long (16-64 "
                                              "images, for long-context models)."),
    count: int | None = typer.Option(None, min=2, help="Base samples per design (quick 200, paper 500)."),
    source: str = typer.Option("toy", help="Annotation source: toy, coco or openimages."),
    annotations: Path | None = typer.Option(None, help="Annotations file (toy: the model's world, rendered into "
                                                       "OUT, if omitted)."),
    images_dir: Path | None = typer.Option(None, help="Folder of the source images."),
    class_descriptions: Path | None = typer.Option(None, help="OpenImages class descriptions CSV."),
    hierarchy: Path | None = typer.Option(None, help="OpenImages hierarchy JSON."),
    mask_layers: str | None = typer.Option(None, help="Image-block attention mask on these text layers."),
    mask_backend: str = typer.Option("auto", help="Mask backend, as in mimic eval."),
    adapter: str | None = typer.Option(None, help="PEFT adapter folder (its training mask is re-applied)."),
    dtype: str = typer.Option("auto", help="auto, float32, bfloat16 or float16 (hf)."),
    device: str | None = typer.Option(None, help="cpu, cuda, cuda:1 ..."),
    max_pixels: int | None = typer.Option(None, min=1, help="Per-image pixel cap (F2 varies its own)."),
    image_size: int | None = typer.Option(None, min=1, help="Longest image edge for fixed-size families."),
    batch_size: int | None = typer.Option(None, min=1, help="Requests per batch."),
    seed: int = seed_option("Seed of the designs and the intervals."),
    bootstrap: int = typer.Option(1000, min=100, help="Bootstrap replicates for the intervals."),
    progress: bool = typer.Option(True, help="Show progress bars."),
    overwrite: bool = typer.Option(False, help="Redo the benches and runs a changed setting invalidates."),
) -> None:
    """Run the paper's study: each finding's paired design, evaluated once, with verdicts and intervals."""
    from mimic_vlm.bench.generate import Source
    from mimic_vlm.masking import mask_from_options
    from mimic_vlm.study.run import study as run_study

    created = not out.exists()
    options = {"mask": mask_from_options(mask_layers, mask_backend), "adapter": adapter, "dtype": dtype,
               "device": device, "max_pixels": max_pixels, "image_size": image_size, "batch_size": batch_size}
    try:
        with RichProgress(disable=not progress) as bars:
            record = run_study(model, out, findings=findings, count=count, profile=profile, seed=seed,
                               source=Source(source, annotations, images_dir, oi_classes=class_descriptions,
                                             oi_hierarchy=hierarchy),
                               model_options=options, overwrite=overwrite, replicates=bootstrap, progress=bars)
    except BaseException:
        if created and not (out / "runs").exists():  # failed before any run: no folder of leftovers
            shutil.rmtree(out, ignore_errors=True)
        raise
    from mimic_vlm.study.report import HEADERS, summary_rows

    table = Table(title=f"{model}: the paper's findings ({profile} profile)")
    for h in HEADERS:
        table.add_column(h)
    for row in summary_rows(record):
        table.add_row(*row)
    Console().print(table)
    Console().print(f"written: {out}/study.json, {out}/study.md, {out}/figures/")


def register(app: typer.Typer) -> None:
    app.command("study")(study)
