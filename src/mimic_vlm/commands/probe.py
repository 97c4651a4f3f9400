"""Diagnostics commands: `mimic probe attention|pooling`, `mimic sweep`, `mimic pack`."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from mimic_vlm.commands.options import (
    AnyModel,
    BenchDir,
    Device,
    Dtype,
    ImagesDir,
    ImageSize,
    Limit,
    MaskBackend,
    MaskLayers,
    MaxPixels,
    OiClasses,
    OiHierarchy,
    Overwrite,
    ReplaceRuns,
    ShowProgress,
    SourceName,
    StudyAnnotations,
    seed_option,
)
from mimic_vlm.commands.progress import RichProgress
from mimic_vlm.errors import MimicError
from mimic_vlm.limits import MAX_BOOTSTRAP, MAX_COUNT
from mimic_vlm.models.registry import ModelOptions
from mimic_vlm.ranges import parse_name_list
from mimic_vlm.report.blocks import fmt, label

if TYPE_CHECKING:
    from mimic_vlm.models.hf import HFModel

MODEL_HELP = "hf:PATH_OR_ID | tiny:FAMILY | toy:NAME (a transformers VLM run locally)."
LocalModel = Annotated[str, typer.Option(help=MODEL_HELP)]
AttentionOut = Annotated[Path, typer.Option(help="Output folder: attention.json + vision/question/answer.png.")]
ProbeDtype = Annotated[str, typer.Option(help="auto, float32, bfloat16 or float16 (float32 here, unlike eval's auto: "
                                              "attention shares are averaged over many tokens and half precision "
                                              "rounds them).")]


def _hf_model(spec: str, options: ModelOptions) -> HFModel:
    """A transformers model for the diagnostics (its kind is checked first: no weights are read for a refusal)."""
    from mimic_vlm.models.hf import HFModel
    from mimic_vlm.models.kinds import require
    from mimic_vlm.models.registry import load_model

    require(spec, "transformers", "diagnostics")
    model = load_model(spec, options)
    if not isinstance(model, HFModel):
        raise MimicError(f"--model {spec}: not a transformers model")
    return model


def _ints(text: str, option: str) -> list[int]:
    names = parse_name_list(text, option) or []
    try:
        return [int(v) for v in names]
    except ValueError:
        raise MimicError(f"{option} {text!r}: expected comma-separated integers, e.g. 1,2,4,8") from None


def attention(
    model: LocalModel, bench: BenchDir, out: AttentionOut, limit: Limit = None,
    mask_layers: MaskLayers = None,
    bootstrap: Annotated[int, typer.Option(min=0, max=MAX_BOOTSTRAP, help="Bootstrap replicates for the intervals.")] = 1000,
    dtype: ProbeDtype = "float32", device: Device = None, max_pixels: MaxPixels = None, image_size: ImageSize = None,
    overwrite: Overwrite = False,
) -> None:
    """Attention shares by layer: vision tokens to own image / other images / text; question tokens and the
    answer position to target-holding vs distractor images (bootstrap intervals over samples)."""
    from mimic_vlm.files import atomic_dir, has_files, write_json_atomic
    from mimic_vlm.masking import mask_from_options
    from mimic_vlm.probe.attention import probe_bench
    from mimic_vlm.probe.plots import attention_plots
    from mimic_vlm.store import check_images, load_bench

    loaded = load_bench(bench)
    check_images(loaded)
    hf = _hf_model(model, ModelOptions(mask=mask_from_options(mask_layers, "eager"), dtype=dtype, device=device,
                                       max_pixels=max_pixels, image_size=image_size))
    with atomic_dir(out, overwrite=overwrite, marker=has_files("attention.json")) as tmp, RichProgress() as bars:
        result = probe_bench(hf, loaded, limit=limit, n_boot=bootstrap, progress=bars)
        write_json_atomic(tmp / "attention.json", result)
        attention_plots(result, tmp)
    _print_attention(result, model, out)


def _print_attention(result: dict[str, Any], model: str, out: Path) -> None:
    table = Table(title=f"attention shares by layer ({model}, {result['samples']} samples)")
    for col in ("layer", "vision→own", "vision→other", "vision→text", "answer→target", "answer→distractor"):
        table.add_column(col, justify="right")
    for row in result["layers"]:
        table.add_row(str(row["layer"]), *(fmt(row[k], ci=False) for k in (
            "vision.own", "vision.other", "vision.text", "answer.target", "answer.distractor")))
    Console().print(table)
    Console().print(f"written: {out}/attention.json, {out}/{{vision,question,answer}}.png")


def pooling(
    model: Annotated[str, typer.Option(help=MODEL_HELP + " Qwen2-VL, Qwen2.5-VL, LLaVA-OneVision or InternVL.")],
    bench: BenchDir,
    out: Annotated[Path, typer.Option(help="Output folder: pooling.json, pooling.png, runs/k=K/ (resumable).")],
    factors: Annotated[str, typer.Option(help="Pooling factors k: each image's n tokens become ceil(n/k).")]
    = "1,2,4,8",
    limit: Limit = None, dtype: Dtype = "auto", device: Device = None, max_pixels: MaxPixels = None,
    progress: ShowProgress = True, overwrite: ReplaceRuns = False,
) -> None:
    """Score against vision tokens per image: 1-D average pooling of each image's tokens by k."""
    from mimic_vlm.probe.pooling import family_of, pooling_study
    from mimic_vlm.store import load_bench

    ks = _ints(factors, "--factors")
    loaded = load_bench(bench)
    hf = _hf_model(model, ModelOptions(dtype=dtype, device=device, max_pixels=max_pixels))
    family_of(hf.model)  # refuse an unsupported family before any work
    with RichProgress(disable=not progress) as bars:
        result = pooling_study(hf, loaded, ks, out, limit=limit, progress=bars, overwrite=overwrite)
    table = Table(title=f"pooling ({model})")
    for col in ("k", "tokens / image", label(result["points"][0]["metric"]) + " [95% CI]"):
        table.add_column(col, justify="right")
    for p in result["points"]:
        table.add_row(str(p["k"]), f"{p['tokens_per_image']:.1f}", fmt(p))
    Console().print(table)
    Console().print(f"written: {out}/pooling.json, {out}/pooling.png")


SweepTask = Annotated[str, typer.Option(help="counting, listing, common or odd_one.")]
Vary = Annotated[str, typer.Option(help="CONTROL=VALUES, e.g. n_images=2,4,6,8,10, spread=1-4, packed=false,true, "
                                        "target_position=first,middle,last, max_pixels=3136,12544 (the model's "
                                        "per-image pixel cap) or pooling=1,2,4 (vision tokens pooled).")]
SweepOut = Annotated[Path, typer.Option(help="Output folder: sweep.json, sweep.png, benches/, runs/ (resumable).")]
Fix = Annotated[list[str] | None, typer.Option(help="CONTROL=VALUE held fixed (repeatable), e.g. --fix spread=2.")]
SweepCount = Annotated[int, typer.Option(min=1, max=MAX_COUNT, help="Samples per value.")]
Baselines = Annotated[str, typer.Option(help="Baselines drawn on the same plot, e.g. chance,single-image,oracle.")]


def sweep(
    model: AnyModel, task: SweepTask, vary: Vary, out: SweepOut, fix: Fix = None, count: SweepCount = 50,
    source: SourceName = "toy", annotations: StudyAnnotations = None, images_dir: ImagesDir = None,
    oi_classes: OiClasses = None, oi_hierarchy: OiHierarchy = None, baselines: Baselines = "",
    mask_layers: MaskLayers = None, mask_backend: MaskBackend = "auto",
    seed: int = seed_option("Generator seed (the same for every value)."), dtype: Dtype = "auto",
    device: Device = None, max_pixels: MaxPixels = None, progress: ShowProgress = True,
    overwrite: ReplaceRuns = False,
) -> None:
    """Score against one control, everything else fixed: one generated bench and one run per value."""
    from mimic_vlm.annotations.toyworld import ensure_toy_world
    from mimic_vlm.bench.generate import Source
    from mimic_vlm.files import check_study_folder
    from mimic_vlm.masking import mask_from_options
    from mimic_vlm.probe.sweep import SWEEP_FILES, parse_assignment, run_sweep, sweep_values

    name, values = parse_assignment(vary, "--vary")
    fixed = dict(parse_assignment(f, "--fix") for f in fix or [])
    mask = mask_from_options(mask_layers, mask_backend)
    check_study_folder(out, SWEEP_FILES, "mimic sweep")
    with cleaned_on_failure(out, "runs"):
        if source == "toy" and annotations is None:  # a default world, kept in OUT so a rerun resumes on it
            annotations = ensure_toy_world(out / "toy-world")
        catalog = Source(source, annotations, images_dir, oi_classes=oi_classes, oi_hierarchy=oi_hierarchy).catalog()
        with RichProgress(disable=not progress) as bars:
            result = run_sweep(catalog, model=model, task=task, vary=name, values=sweep_values(values),
                               fixed=fixed, count=count, out=out, seed=seed,
                               baselines=[b for b in baselines.split(",") if b],
                               model_options=ModelOptions(dtype=dtype, device=device, max_pixels=max_pixels,
                                                          mask=mask), progress=bars, overwrite=overwrite)
    _print_sweep(result, model, task, name, out)


@contextlib.contextmanager
def cleaned_on_failure(out: Path, kept: str) -> Iterator[None]:
    """A folder this command creates is removed again when it fails before writing `kept` (no leftovers)."""
    created = not out.exists()
    try:
        yield
    except BaseException:
        if created and not (out / kept).exists():
            shutil.rmtree(out, ignore_errors=True)
        raise


def _print_sweep(result: dict[str, Any], model: str, task: str, name: str, out: Path) -> None:
    from mimic_vlm.probe.sweep import score_of

    table = Table(title=f"{task}: {label(result['points'][0]['metric'])} vs {name}")
    table.add_column(name)
    for series in (model, *result["baselines"]):
        table.add_column(series, justify="right")
    for i, value in enumerate(result["values"]):
        table.add_row(value, fmt(score_of(result["points"][i])),
                      *(fmt(score_of(b[i])) for b in result["baselines"].values()))
    Console().print(table)
    Console().print(f"written: {out}/sweep.json, {out}/sweep.png")


def pack(
    bench: BenchDir,
    out: Annotated[Path, typer.Option(help="New bench folder.")], overwrite: Overwrite = False,
    task: Annotated[str | None, typer.Option("--task", help="counting, listing or counting,listing (default: both; "
                                                            "common and odd_one cannot be packed).")] = None,
) -> None:
    """Same information, fewer images: paste each sample's target-holding images side by side into one."""
    from mimic_vlm.bench.pack import pack_bench
    from mimic_vlm.store import load_bench

    pack_bench(bench, out, overwrite=overwrite, tasks=parse_name_list(task, "--task"))
    packed = load_bench(out)
    samples = packed.samples
    before = sum(s.controls["n_images_original"] for s in samples)
    after = sum(len(s.images) for s in samples)
    left = packed.manifest["packed_from"].get("left_out", 0)
    Console().print(f"packed {len(samples)} samples: {before} -> {after} images; written: {out}"
                    + (f" ({left} samples of other tasks left out)" if left else ""))


def _usage(ctx: typer.Context) -> None:
    """Bare `mimic probe`: its usage, exit 0 (as bare `mimic`)."""
    if ctx.invoked_subcommand is None:
        print(ctx.get_help())
        raise typer.Exit()


def register(app: typer.Typer) -> None:
    probe = typer.Typer(help="Diagnostics: attention by layer, vision-token pooling.", invoke_without_command=True,
                        rich_markup_mode=None)
    probe.callback()(_usage)
    probe.command("attention")(attention)
    probe.command("pooling")(pooling)
    app.add_typer(probe, name="probe")
    app.command("sweep")(sweep)
    app.command("pack")(pack)
