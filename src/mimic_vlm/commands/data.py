"""CLI commands of the data area: `mimic generate`, `mimic validate`, `mimic inspect`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.text import Text

from mimic_vlm.commands.options import seed_option
from mimic_vlm.commands.progress import RichProgress
from mimic_vlm.errors import MimicError
from mimic_vlm.limits import MAX_COUNT
from mimic_vlm.schema import TASKS
from mimic_vlm.terminal import printable


def register(app: typer.Typer) -> None:
    app.command("generate")(generate)
    app.command("validate")(validate)
    app.command("inspect")(inspect)


def generate(
    source: str = typer.Option("toy", "--source", help="toy | coco | openimages."),
    annotations: Path | None = typer.Option(None, "--annotations",
                                            help="COCO instances JSON (toy, coco) or OpenImages box CSV. "
                                                 "--source toy without it builds a default toy world inside OUT."),
    images_dir: Path | None = typer.Option(None, "--images-dir", help="Folder holding the source images."),
    task: str = typer.Option("all", "--task", help="counting | listing | common | odd_one | all."),
    count: int = typer.Option(100, "--count", min=1, max=MAX_COUNT, help="Samples per task."),
    n_images: str = typer.Option("2-6", "--n-images", help="Images per sample: N, A-B or a,b,c (1-16)."),
    spread: str | None = typer.Option(None, "--spread", help="Images holding a target (default: drawn)."),
    distractors: str | None = typer.Option(None, "--distractors", help="Images holding no target."),
    concepts: str = typer.Option("1", "--concepts", help="Categories (counting) / supercategories (listing) asked."),
    answers: str = typer.Option("1", "--answers", help="Categories common / odd_one must name."),
    balance: str = typer.Option("uniform", "--balance", help="uniform (flat answers: counting draws the answer "
                                "first, then controls that reach it) | natural (data's own)."),
    target_position: str | None = typer.Option(
        None, "--target-position", help="first | middle | last | any: where the target-holding images sit; "
                                        "records each sample's target_positions (unset: neither)."),
    seed: int = seed_option("Random seed; the same inputs and seed give identical benches."),
    out: Path = typer.Option(..., "--out", help="Bench folder to create."),
    copy_images: bool = typer.Option(False, "--copy-images", help="Copy images into OUT/images (self-contained)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT if it exists (only after success)."),
    min_area: float = typer.Option(0.0, "--min-area", min=0.0, help="Instances smaller than this (px^2) make counts uncertain."),
    purpose: str = typer.Option("eval", "--for", help="eval | training (adds LLaVA and HF-messages conversations)."),
    training_phrasing: str = typer.Option("paraphrased", "--training-phrasing",
                                          help="paraphrased (varied questions, sentence answers) | eval (the "
                                               "evaluation prompt and the bare answer, as scored)."),
    toy_preset: str = typer.Option("default", "--toy-preset", help="World the default toy world is rendered "
                                   "from (see `mimic toy --preset`)."),
    oi_classes: Path | None = typer.Option(None, "--oi-classes", help="OpenImages class descriptions CSV."),
    oi_hierarchy: Path | None = typer.Option(None, "--oi-hierarchy", help="OpenImages label hierarchy JSON."),
    toy_images: int | None = typer.Option(None, "--toy-images",
                                          min=1, help="Scenes of the default toy world (default 500)."),
    pack_targets: bool = typer.Option(False, "--pack-targets",
                                      help="Put each sample's target-holding images side by side in one image "
                                           "(distractors stay separate): same information, fewer images."),
) -> None:
    """Compose a controlled multi-image bench (or training set) from annotations."""
    from mimic_vlm.bench.generate import DEFAULT_TOY_IMAGES, Source
    from mimic_vlm.bench.generate import generate as generate_to
    from mimic_vlm.compose.controls import Controls

    if purpose not in ("eval", "training"):
        raise MimicError(f"--for {purpose!r}: expected eval or training")
    if task != "all" and task not in TASKS:
        raise MimicError(f"--task {task!r}: expected one of {', '.join(TASKS)} or all")
    tasks = list(TASKS) if task == "all" else [task]
    controls = Controls.parse(n_images=n_images, spread=spread, distractors=distractors, concepts=concepts,
                              answers=answers, balance=balance, target_position=target_position)
    source_spec = Source(source, annotations, images_dir, min_area, oi_classes, oi_hierarchy,
                         DEFAULT_TOY_IMAGES if toy_images is None else toy_images, toy_preset)
    with RichProgress(transient=True) as progress:
        path = generate_to(source_spec, tasks, count, controls, seed, out, copy_images=copy_images,
                           overwrite=overwrite, for_training=purpose == "training", pack_targets=pack_targets,
                           progress=progress, phrasing=training_phrasing)
    Console().print(f"wrote {count * len(tasks)} samples ({', '.join(tasks)}) to {path}")


def validate(
    bench: Path = typer.Argument(..., help="Bench folder."),
    annotations: Path | None = typer.Option(None, "--annotations", help="Re-derive from these annotations."),
    source: str | None = typer.Option(None, "--source", help="Source of --annotations (default: the bench's)."),
    images_dir: Path | None = typer.Option(None, "--images-dir", help="Images folder (not needed to validate)."),
    min_area: float = typer.Option(0.0, "--min-area", min=0.0, help="The --min-area the bench was generated with."),
    oi_classes: Path | None = typer.Option(None, "--oi-classes", help="OpenImages class descriptions CSV."),
    oi_hierarchy: Path | None = typer.Option(None, "--oi-hierarchy", help="OpenImages label hierarchy JSON."),
) -> None:
    """Re-derive every answer and control; exit 1 and list the disagreements if any."""
    from mimic_vlm.bench.generate import Source
    from mimic_vlm.bench.store import load_bench, missing_images, unreadable_images
    from mimic_vlm.bench.validate import validate_bench

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
    bench: Path = typer.Argument(..., help="Bench folder."),
    sheet: Path | None = typer.Option(None, "--sheet", help="Contact sheet PNG (default BENCH/contact_sheet.png)."),
    n: int = typer.Option(6, "--n", min=1, help="Samples on the contact sheet."),
) -> None:
    """Print the distribution of answers and controls and write a contact sheet of a few samples."""
    from mimic_vlm.bench.inspect import check_sheet_path, contact_sheet, print_summary, sheet_unreadable
    from mimic_vlm.bench.store import load_bench

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
