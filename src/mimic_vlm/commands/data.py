"""CLI commands of the data area: `mimic generate`, `mimic validate`, `mimic inspect`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from mimic_vlm.commands.options import (
    BenchDir,
    Count,
    ImagesDir,
    NImages,
    OiClasses,
    OiHierarchy,
    Overwrite,
    SourceName,
    ToyImages,
    ToyPreset,
    seed_option,
)
from mimic_vlm.commands.progress import RichProgress
from mimic_vlm.errors import MimicError
from mimic_vlm.terminal import printable


def register(app: typer.Typer) -> None:
    app.command("generate")(generate)
    app.command("validate")(validate)
    app.command("inspect")(inspect)


def _opt(flag: str, help: str, **kw: Any) -> Any:
    return typer.Option(flag, help=help, **kw)


Annotations = Annotated[Path | None, _opt("--annotations", "COCO instances JSON (toy, coco) or OpenImages box CSV. "
                                          "--source toy without it builds a default toy world inside OUT.")]
TaskName = Annotated[str, _opt("--task", "counting | listing | common | odd_one | all.")]
Spread = Annotated[str | None, _opt("--spread", "Images holding a target (default: drawn).")]
Distractors = Annotated[str | None, _opt("--distractors", "Images holding no target.")]
Concepts = Annotated[str, _opt("--concepts", "Categories (counting) / supercategories (listing) asked.")]
Answers = Annotated[str, _opt("--answers", "Categories common / odd_one must name.")]
Balance = Annotated[str, _opt("--balance", "uniform (flat answers: counting draws the answer first, then controls "
                                           "that reach it) | natural (data's own).")]
TargetPosition = Annotated[str | None, _opt("--target-position", "first | middle | last | any: where the "
                                            "target-holding images sit; records each sample's target_positions "
                                            "(unset: neither).")]
BlankImages = Annotated[bool, _opt("--blank-images", "Let common / odd_one images hold no object (off: every image "
                                                      "of those tasks holds one, so no sample is vacuous).")]
BenchOut = Annotated[Path, _opt("--out", "Bench folder to create.")]
CopyImages = Annotated[bool, _opt("--copy-images", "Copy images into OUT/images (self-contained).")]
MinArea = Annotated[float, _opt("--min-area", "Instances smaller than this (px^2) make counts uncertain.", min=0.0)]
Purpose = Annotated[str, _opt("--for", "eval | training (adds LLaVA and HF-messages conversations).")]
TrainingPhrasing = Annotated[str, _opt("--training-phrasing", "paraphrased (varied questions, sentence answers) | "
                                       "eval (the evaluation prompt and the bare answer, as scored).")]
PackTargets = Annotated[bool, _opt("--pack-targets", "Put each sample's target-holding images side by side in one "
                                   "image (distractors stay separate): same information, fewer images.")]


def generate(
    out: BenchOut, source: SourceName = "toy", annotations: Annotations = None, images_dir: ImagesDir = None,
    task: TaskName = "all", count: Count = 100, n_images: NImages = "2-6", spread: Spread = None,
    distractors: Distractors = None, concepts: Concepts = "1", answers: Answers = "1", balance: Balance = "uniform",
    target_position: TargetPosition = None, blank_images: BlankImages = False,
    seed: int = seed_option("Random seed; the same inputs and seed give identical benches."),
    copy_images: CopyImages = False, overwrite: Overwrite = False, min_area: MinArea = 0.0,
    purpose: Purpose = "eval", training_phrasing: TrainingPhrasing = "paraphrased", toy_preset: ToyPreset = "default",
    oi_classes: OiClasses = None, oi_hierarchy: OiHierarchy = None, toy_images: ToyImages = 500,
    pack_targets: PackTargets = False,
) -> None:
    """Compose a controlled multi-image bench (or training set) from annotations."""
    from mimic_vlm.api import generate as generate_bench
    from mimic_vlm.api import tasks_of

    if purpose not in ("eval", "training"):
        raise MimicError(f"--for {purpose!r}: expected eval or training")
    tasks = tasks_of(task)
    with RichProgress(transient=True) as progress:
        bench = generate_bench(out, source=source, annotations=annotations, images_dir=images_dir, task=tasks,
                               count=count, n_images=n_images, spread=spread, distractors=distractors,
                               concepts=concepts, answers=answers, balance=balance, target_position=target_position,
                               blank_images=blank_images, seed=seed, copy_images=copy_images, overwrite=overwrite,
                               min_area=min_area,
                               for_training=purpose == "training", training_phrasing=training_phrasing,
                               toy_preset=toy_preset, oi_classes=oi_classes, oi_hierarchy=oi_hierarchy,
                               toy_images=toy_images, pack_targets=pack_targets, progress=progress)
    Console().print(f"wrote {len(bench.samples)} samples ({', '.join(tasks)}) to {out}")


def validate(
    bench: BenchDir,
    annotations: Path | None = typer.Option(None, "--annotations", help="Re-derive from these annotations."),
    source: str | None = typer.Option(None, "--source", help="Source of --annotations (default: the bench's)."),
    images_dir: ImagesDir = None,
    min_area: float = typer.Option(0.0, "--min-area", min=0.0, help="The --min-area the bench was generated with."),
    oi_classes: OiClasses = None, oi_hierarchy: OiHierarchy = None,
) -> None:
    """Re-derive every answer and control; exit 1 and list the disagreements if any."""
    from mimic_vlm.bench.generate import Source
    from mimic_vlm.bench.validate import validate_bench
    from mimic_vlm.store import load_bench, missing_images, unreadable_images

    b = load_bench(bench)
    catalog = None
    if annotations is not None:
        catalog = Source(source or str(b.manifest.get("source", "coco")), annotations, images_dir, min_area,
                         oi_classes, oi_hierarchy).catalog(check_images=False)
    # a deleted or corrupt image is a problem, never "ok"
    problems = missing_images(b) + unreadable_images(b) + validate_bench(b, catalog)
    console = Console()
    where = "the annotations" if catalog is not None else "the samples' own object tables"
    if problems:
        for p in problems[:50]:
            console.print(Text("x ", style="red") + Text(printable(p)), highlight=False, soft_wrap=True)  # paths stay whole
        if len(problems) > 50:
            console.print(f"... and {len(problems) - 50} more")
        console.print(f"[bold red]{len(problems)} disagreement(s)[/] in {len(b.samples)} samples (checked against {where})")
        raise SystemExit(1)  # not typer.Exit: the non-standalone app would swallow its code
    console.print(f"[green]ok[/]: {len(b.samples)} samples agree with {where}")


def inspect(
    bench: BenchDir,
    sheet: Path | None = typer.Option(None, "--sheet", help="Contact sheet PNG (default BENCH/contact_sheet.png)."),
    n: int = typer.Option(6, "--limit", min=1, help="Samples on the contact sheet."),
) -> None:
    """Print the distribution of answers and controls and write a contact sheet of a few samples."""
    from mimic_vlm.bench.inspect import check_sheet_path, contact_sheet, print_summary, sheet_unreadable
    from mimic_vlm.store import load_bench

    target = sheet or bench / "contact_sheet.png"
    check_sheet_path(target)
    b = load_bench(bench)
    print_summary(b)
    path = contact_sheet(b, target, n=n)
    Console().print(f"contact sheet: {path}")
    unreadable = sheet_unreadable(b, n)
    if unreadable:  # the sheet still helps, but a grey tile alone is easy to miss
        Console(stderr=True).print(f"warning: {len(unreadable)} image(s) on the contact sheet could not be read "
                                   f"(drawn as 'unreadable'): {printable('; '.join(unreadable))}; mimic validate checks "
                                   "every image", highlight=False, soft_wrap=True)
