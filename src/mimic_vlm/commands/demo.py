"""`mimic demo`: the main job on the built-in toy world, end to end, with nothing downloaded.

toy world -> bench of all four tasks -> validation -> summary + contact sheet -> baselines and the shipped
trained tiny VLM (`toy:mimic-study`, trained on the `study` toy world the demo renders) evaluated -> a quick
run of the paper's study on the shipped model (a few findings, small paired designs) -> report. Every step is
a library call that the other commands also use.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.rule import Rule
from rich.table import Table

from mimic_vlm.commands.options import Count, NImages, ToyImages, ToyPreset, seed_option
from mimic_vlm.commands.progress import RichProgress
from mimic_vlm.errors import MimicError
from mimic_vlm.files import has_files
from mimic_vlm.ranges import parse_name_list
from mimic_vlm.schema import TASKS

if TYPE_CHECKING:
    from mimic_vlm.annotations.catalog import Catalog
    from mimic_vlm.store import Bench

DEMO_MODELS = ("oracle", "single-image", "prior", "chance", "toy:mimic-study")
STUDY_MODEL = "toy:mimic-study"
STUDY_FINDINGS = "F1,F4,F5"
"""The demo's study: more images, distractors by spread, more query concepts (the ones a minute affords)."""
STUDY_COUNT = 100
DEMO_MADE = has_files("toy-world/annotations.json", "bench/manifest.json", "runs", "report/report.html")
"""A folder `mimic demo --overwrite` may replace: one holding everything a demo writes (a sweep folder holds
a toy world too)."""


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    out: Path = typer.Option(Path("demo-out"), "--out", help="Folder for everything the demo writes."),
    images: ToyImages = 300, count: Count = 50, n_images: NImages = "2-5",
    seed: int = seed_option("Seed of the toy world and of the bench."),
    preset: ToyPreset = "study",
    models: str = typer.Option(",".join(DEMO_MODELS), "--models", help="Comma-separated model specs to evaluate."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT if it exists."),
    study: bool = typer.Option(True, "--study/--no-study", help=f"Also run {STUDY_FINDINGS} of the paper's "
                               f"study on {STUDY_MODEL} (when it is among --models; `mimic study` runs them all)."),
) -> None:
    """Render a toy world, generate and validate a MIMIC bench, evaluate baselines and a tiny VLM, report."""
    from mimic_vlm.annotations.toyworld import get_preset
    from mimic_vlm.compose.controls import Controls
    from mimic_vlm.files import built_in_place
    from mimic_vlm.models.registry import check_spec

    controls = Controls.parse(n_images=n_images)
    world = get_preset(preset)
    specs = parse_name_list(models, "--models") or []
    if len(set(specs)) < len(specs):
        raise MimicError(f"--models {models!r}: a model is named twice")
    for spec in specs:  # before the world is rendered
        check_spec(spec)
    with built_in_place(out, overwrite, DEMO_MADE):
        _demo(out, images, count, controls, seed, world, specs, study and STUDY_MODEL in specs)


def _demo(out: Path, images: int, count: int, controls: Any, seed: int, world: Any, specs: list[str],
          with_study: bool) -> None:
    from mimic_vlm.annotations.load import load_catalog
    from mimic_vlm.annotations.toyworld import render_toy_world
    from mimic_vlm.bench.generate import generate_bench
    from mimic_vlm.plugins import REPORT_SECTIONS
    from mimic_vlm.report import write_report
    from mimic_vlm.store import load_bench

    console = Console()
    start = time.perf_counter()
    console.print(Rule(f"1. toy world ({world.name}): {images} scenes"))
    annotations = render_toy_world(out / "toy-world", images, seed, preset=world)
    catalog = load_catalog("toy", annotations, annotations.parent / "images")

    console.print(Rule(f"2. bench: {count} samples per task, {', '.join(TASKS)}"))
    bench_dir = generate_bench(catalog, list(TASKS), count, controls, seed, out / "bench", copy_images=True,
                               command=f"mimic demo --toy-preset {world.name} --toy-images {images} --count {count} "
                                       f"--seed {seed}")
    bench = load_bench(bench_dir)

    console.print(Rule("3. validation against the annotations"))
    _check(bench, catalog, out, console)
    console.print(Rule("4. evaluation"))
    runs = [_evaluate(bench, spec, out, console) for spec in specs]
    _headlines(runs, console)

    sections = REPORT_SECTIONS
    if with_study:
        console.print(Rule(f"5. the paper's study on {STUDY_MODEL} ({STUDY_FINDINGS}, quick profile)"))
        sections = _with_study(_study(out / "study", console))

    console.print(Rule("6. report" if with_study else "5. report"))
    report = write_report(runs, out / "report", sections, overwrite=True, title="mimic-vlm demo: toy world")
    console.print(f"report: {report}  ({time.perf_counter() - start:.0f} s in all)")


def _check(bench: Bench, catalog: Catalog, out: Path, console: Console) -> None:
    """Every answer and control re-derived from the annotations; the bench's summary and contact sheet."""
    from mimic_vlm.bench.inspect import contact_sheet, print_summary
    from mimic_vlm.bench.validate import validate_bench

    problems = validate_bench(bench, catalog)
    if problems:
        raise MimicError(f"{bench.root}: validation found {len(problems)} disagreement(s), first: {problems[0]}")
    console.print(f"all {len(bench.samples)} answers and controls re-derived from the annotations: OK")
    print_summary(bench, console)
    sheet = contact_sheet(bench, out / "contact_sheet.png")
    console.print(f"contact sheet: {sheet}")


def _headlines(runs: list[Path], console: Console) -> None:
    """One line per run: the MIMIC score and each task's headline metric."""
    from mimic_vlm.api import load_run
    from mimic_vlm.report.blocks import label

    table = Table(title="headline scores (95% bootstrap CI in the report)")
    loaded = [load_run(r) for r in runs]
    tasks = list(loaded[0].scores.tasks) if loaded else []
    for column in ("model", "MIMIC score", *tasks):
        table.add_column(column, justify="left" if column == "model" else "right")
    for run in loaded:
        cells = ["–" if t.value is None else f"{t.value:.3f}" for t in run.scores.tasks.values()]
        score = run.scores.mimic_score
        table.add_row(run.model, "–" if score is None else f"{score:.3f}", *cells)
    console.print(table)
    console.print("headline metrics: " + ", ".join(f"{t} {label(loaded[0].scores.tasks[t].headline)}"
                                                    for t in tasks))


def _study(folder: Path, console: Console) -> Path:
    """The demo's few findings of the paper's study on the shipped model, and their verdict table."""
    from mimic_vlm.commands.study import findings_table
    from mimic_vlm.progress import library_bars
    from mimic_vlm.study.run import study

    with RichProgress(transient=True) as bars, library_bars(False):
        record = study(STUDY_MODEL, folder, findings=STUDY_FINDINGS, count=STUDY_COUNT, profile="quick",
                       progress=bars)
    console.print(findings_table(record, f"{STUDY_MODEL}: findings of the paper ({STUDY_COUNT} base samples per "
                                         "design)"))
    console.print(f"study: {folder / 'study.md'} (all seven findings: mimic study --model {STUDY_MODEL})")
    return folder


def _with_study(folder: Path) -> tuple[Any, ...]:
    """The report's sections, with the study section reading the demo's study folder."""
    from mimic_vlm.plugins import REPORT_SECTIONS
    from mimic_vlm.study.report import study_section, study_section_of

    return tuple((lambda _runs: study_section_of([folder])) if s is study_section else s for s in REPORT_SECTIONS)


def _evaluate(bench: Bench, spec: str, out: Path, console: Console) -> Path:
    from mimic_vlm.api import evaluate_scores
    from mimic_vlm.progress import library_bars

    run = out / "runs" / spec.replace(":", "-").replace("/", "_")
    console.print(f"[bold]{spec}[/]")
    with RichProgress(transient=True) as bars, library_bars(False):  # our bar, not transformers' too
        evaluate_scores(bench, spec, run, command=["mimic", "demo"], progress=bars)
    return run
