"""`mimic study`: the paper's findings F1-F7 on one model, in one resumable folder (`study/run.py`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from mimic_vlm.commands.options import (
    Adapter,
    AnyModel,
    Device,
    Dtype,
    ImagesDir,
    ImageSize,
    MaskBackend,
    MaskLayers,
    MaxPixels,
    OiClasses,
    OiHierarchy,
    ReplaceRuns,
    ShowProgress,
    SourceName,
    StudyAnnotations,
    seed_option,
)
from mimic_vlm.commands.probe import cleaned_on_failure
from mimic_vlm.commands.progress import RichProgress
from mimic_vlm.limits import MAX_BOOTSTRAP, MAX_COUNT

StudyOut = Annotated[Path, typer.Option(help="Study folder: study.json, study.md, figures/, benches/, runs/ "
                                             "(resumable).")]
Findings = Annotated[str, typer.Option(help="Which findings, e.g. F1,F3 (default: F1-F7).")]
Profile = Annotated[str, typer.Option(help="quick (a CPU in minutes, toy-world ranges), paper (the paper's ranges, "
                                           "up to 10 images, for real models on GPUs) or long (16-64 images, for "
                                           "long-context models).")]
Count = Annotated[int | None, typer.Option(min=2, max=MAX_COUNT, help="Base samples per design (quick 200, paper "
                                                                      "500).")]
BatchSize = Annotated[int | None, typer.Option(min=1, help="Requests per batch.")]
Bootstrap = Annotated[int, typer.Option(min=100, max=MAX_BOOTSTRAP, help="Bootstrap replicates for the intervals.")]


def study(
    model: AnyModel, out: StudyOut, findings: Findings = "all", profile: Profile = "quick", count: Count = None,
    source: SourceName = "toy", annotations: StudyAnnotations = None, images_dir: ImagesDir = None,
    oi_classes: OiClasses = None, oi_hierarchy: OiHierarchy = None, mask_layers: MaskLayers = None,
    mask_backend: MaskBackend = "auto", adapter: Adapter = None, dtype: Dtype = "auto", device: Device = None,
    max_pixels: MaxPixels = None, image_size: ImageSize = None, batch_size: BatchSize = None,
    seed: int = seed_option("Seed of the designs and the intervals."), bootstrap: Bootstrap = 1000,
    progress: ShowProgress = True, overwrite: ReplaceRuns = False,
) -> None:
    """Run the paper's study: each finding's paired design, evaluated once, with verdicts and intervals."""
    from mimic_vlm.bench.generate import Source
    from mimic_vlm.masking import mask_from_options
    from mimic_vlm.study.run import study as run_study

    options = {"mask": mask_from_options(mask_layers, mask_backend), "adapter": adapter, "dtype": dtype,
               "device": device, "max_pixels": max_pixels, "image_size": image_size, "batch_size": batch_size}
    with cleaned_on_failure(out, "runs"), RichProgress(disable=not progress) as bars:  # no folder of leftovers
        record = run_study(model, out, findings=findings, count=count, profile=profile, seed=seed,
                           source=Source(source, annotations, images_dir, oi_classes=oi_classes,
                                         oi_hierarchy=oi_hierarchy),
                           model_options=options, overwrite=overwrite, replicates=bootstrap, progress=bars)
    Console().print(findings_table(record, f"{model}: the paper's findings ({profile} profile)"))
    Console().print(f"written: {out}/study.json, {out}/study.md, {out}/figures/")


def findings_table(record: dict[str, Any], title: str) -> Table:
    """The verdict table of a study.json, as the terminal shows it."""
    from mimic_vlm.study.report import HEADERS, summary_rows

    table = Table(title=title)
    for h in HEADERS:
        table.add_column(h)
    for row in summary_rows(record):
        table.add_row(*row)
    return table


def register(app: typer.Typer) -> None:
    app.command("study")(study)
