"""CLI commands of the data area: `mimic generate`, `mimic validate`, `mimic inspect`."""

from __future__ import annotations

import shlex
import shutil
import tempfile
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from mimic_vlm.errors import MimicError
from mimic_vlm.schema import TASKS

DEFAULT_TOY_IMAGES = 500


def register(app: typer.Typer) -> None:
    app.command("generate")(generate)
    app.command("validate")(validate)
    app.command("inspect")(inspect)


def _catalog(source: str, annotations: Path | None, images_dir: Path | None, min_area: float,
             oi_classes: Path | None, oi_hierarchy: Path | None, check_images: bool = True):
    from mimic_vlm.annotations.load import load_catalog

    extra = {k: v for k, v in (("class_descriptions", oi_classes), ("hierarchy", oi_hierarchy)) if v is not None}
    if images_dir is None and annotations is not None and source == "toy":
        images_dir = annotations.parent / "images"
    return load_catalog(source, annotations, images_dir, min_area=min_area, check_images=check_images, **extra)


def generate(
    source: str = typer.Option("toy", "--source", help="toy | coco | openimages."),
    annotations: Path | None = typer.Option(None, "--annotations",
                                            help="COCO instances JSON (toy, coco) or OpenImages box CSV. "
                                                 "--source toy without it builds a default toy world inside OUT."),
    images_dir: Path | None = typer.Option(None, "--images-dir", help="Folder holding the source images."),
    task: str = typer.Option("all", "--task", help="counting | listing | common | odd_one | all."),
    count: int = typer.Option(100, "--count", help="Samples per task."),
    n_images: str = typer.Option("2-6", "--n-images", help="Images per sample: N, A-B or a,b,c (1-16)."),
    spread: str | None = typer.Option(None, "--spread", help="Images holding a target (default: drawn)."),
    distractors: str | None = typer.Option(None, "--distractors", help="Images holding no target."),
    concepts: str = typer.Option("1", "--concepts", help="Categories (counting) / supercategories (listing) asked."),
    answers: str = typer.Option("1", "--answers", help="Categories common / odd_one must name."),
    balance: str = typer.Option("uniform", "--balance", help="uniform (flat answers) | natural (data's own)."),
    seed: int = typer.Option(0, "--seed", help="Random seed; the same inputs and seed give identical benches."),
    out: Path = typer.Option(..., "--out", help="Bench folder to create."),
    copy_images: bool = typer.Option(False, "--copy-images", help="Copy images into OUT/images (self-contained)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT if it exists (only after success)."),
    min_area: float = typer.Option(0.0, "--min-area", help="Instances smaller than this (px^2) make counts uncertain."),
    purpose: str = typer.Option("eval", "--for", help="eval | training (adds LLaVA and HF-messages conversations)."),
    oi_classes: Path | None = typer.Option(None, "--oi-classes", help="OpenImages class descriptions CSV."),
    oi_hierarchy: Path | None = typer.Option(None, "--oi-hierarchy", help="OpenImages label hierarchy JSON."),
    toy_images: int = typer.Option(DEFAULT_TOY_IMAGES, "--toy-images", help="Scenes of the default toy world."),
    pack_targets: bool = typer.Option(False, "--pack-targets",
                                      help="Put each sample's target-holding images side by side in one image "
                                           "(distractors stay separate): same information, fewer images."),
) -> None:
    """Compose a controlled multi-image bench (or training set) from annotations."""
    from mimic_vlm.compose.controls import Controls
    from mimic_vlm.compose.generate import generate_bench

    if purpose not in ("eval", "training"):
        raise MimicError(f"--for {purpose!r}: expected eval or training")
    tasks = list(TASKS) if task == "all" else [task]
    if task != "all" and task not in TASKS:
        raise MimicError(f"--task {task!r}: expected one of {', '.join(TASKS)} or all")
    controls = Controls.parse(n_images=n_images, spread=spread, distractors=distractors, concepts=concepts,
                              answers=answers, balance=balance)
    for t in tasks:
        controls.layouts(t)  # contradictory controls fail before any toy world is rendered
    if pack_targets and set(tasks) - {"counting", "listing"}:
        raise MimicError(f"--pack-targets: only counting and listing samples can be packed (common and odd_one "
                         f"answers depend on image boundaries), not --task {task}")
    if out.exists() and not overwrite:
        raise MimicError(f"{out}: output folder exists (use --overwrite to replace it)")
    command = _command(source=source, annotations=annotations, images_dir=images_dir, task=task, count=count,
                       n_images=n_images, spread=spread, distractors=distractors, concepts=concepts,
                       answers=answers, balance=balance, seed=seed, out=out, copy_images=copy_images,
                       min_area=min_area, purpose=purpose, oi_classes=oi_classes, oi_hierarchy=oi_hierarchy,
                       toy_images=toy_images if source == "toy" and annotations is None else None,
                       pack_targets=pack_targets)
    console = Console()
    scratch = None
    extra: dict[str, Path] = {}
    try:
        if source == "toy" and annotations is None:
            from mimic_vlm.annotations.toyworld import render_toy_world

            out.parent.mkdir(parents=True, exist_ok=True)
            scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}.toy-", dir=out.parent))
            with _progress() as progress:
                bar = progress.add_task("toy world", total=toy_images)
                annotations = render_toy_world(scratch / "world", toy_images, seed,
                                               on_image=lambda: progress.advance(bar))
            images_dir = annotations.parent / "images"
            extra = {"toy_annotations.json": annotations, "images": images_dir}
        catalog = _catalog(source, annotations, images_dir, min_area, oi_classes, oi_hierarchy)
        with _progress() as progress:
            bar = progress.add_task("composing", total=count * len(tasks))
            path = generate_bench(catalog, tasks, count, controls, seed, out, copy_images=copy_images,
                                  overwrite=overwrite, for_training=purpose == "training", command=command,
                                  advance=lambda: progress.advance(bar), extra_files=extra)
        if pack_targets:
            from mimic_vlm.probe.side_by_side import pack_bench

            pack_bench(path, path, overwrite=True)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    console.print(f"wrote {count * len(tasks)} samples ({', '.join(tasks)}) to {path}")


def _command(**options: object) -> str:
    """The canonical command line (recorded in the manifest; independent of how options were spelled)."""
    parts = ["mimic", "generate"]
    for name, value in options.items():
        if value is None or value is False:
            continue
        flag = "--for" if name == "purpose" else "--" + name.replace("_", "-")
        parts += [flag] if value is True else [flag, str(value)]
    return shlex.join(parts)


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    transient=True)


def validate(
    bench: Path = typer.Argument(..., help="Bench folder."),
    annotations: Path | None = typer.Option(None, "--annotations", help="Re-derive from these annotations."),
    source: str | None = typer.Option(None, "--source", help="Source of --annotations (default: the bench's)."),
    images_dir: Path | None = typer.Option(None, "--images-dir", help="Images folder (not needed to validate)."),
    min_area: float = typer.Option(0.0, "--min-area", help="The --min-area the bench was generated with."),
    oi_classes: Path | None = typer.Option(None, "--oi-classes", help="OpenImages class descriptions CSV."),
    oi_hierarchy: Path | None = typer.Option(None, "--oi-hierarchy", help="OpenImages label hierarchy JSON."),
) -> None:
    """Re-derive every answer and control; exit 1 and list the disagreements if any."""
    from mimic_vlm.bench.store import load_bench
    from mimic_vlm.bench.validate import validate_bench

    b = load_bench(bench)
    catalog = None
    if annotations is not None:
        catalog = _catalog(source or str(b.manifest.get("source", "coco")), annotations, images_dir, min_area,
                           oi_classes, oi_hierarchy, check_images=False)
    problems = validate_bench(b, catalog)
    console = Console()
    where = "the annotations" if catalog is not None else "the samples' own object tables"
    if problems:
        for p in problems[:50]:
            console.print(f"[red]x[/] {p}", highlight=False)
        if len(problems) > 50:
            console.print(f"... and {len(problems) - 50} more")
        console.print(f"[bold red]{len(problems)} disagreement(s)[/] in {len(b.samples)} samples (checked against {where})")
        raise SystemExit(1)  # not typer.Exit: the non-standalone app would swallow its code
    console.print(f"[green]ok[/]: {len(b.samples)} samples agree with {where}")


def inspect(
    bench: Path = typer.Argument(..., help="Bench folder."),
    sheet: Path | None = typer.Option(None, "--sheet", help="Contact sheet PNG (default BENCH/contact_sheet.png)."),
    n: int = typer.Option(6, "--n", help="Samples on the contact sheet."),
) -> None:
    """Print the distribution of answers and controls and write a contact sheet of a few samples."""
    from mimic_vlm.bench.inspect import contact_sheet, print_summary
    from mimic_vlm.bench.store import load_bench

    b = load_bench(bench)
    print_summary(b)
    path = contact_sheet(b, sheet or bench / "contact_sheet.png", n=n)
    Console().print(f"contact sheet: {path}")
