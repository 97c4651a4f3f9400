"""Diagnostics commands: `mimic probe attention|pooling`, `mimic sweep`, `mimic pack`."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from mimic_vlm.commands.options import seed_option
from mimic_vlm.commands.progress import RichProgress
from mimic_vlm.errors import MimicError
from mimic_vlm.limits import MAX_BOOTSTRAP, MAX_COUNT
from mimic_vlm.ranges import parse_name_list
from mimic_vlm.report.blocks import fmt, label

MODEL_HELP = "hf:PATH_OR_ID | tiny:FAMILY | toy:NAME (a transformers VLM run locally)."


def _hf_model(spec: str, bench: Any, *, mask: Any = None, **options: Any) -> Any:
    from mimic_vlm.models.hf import HFModel
    from mimic_vlm.models.registry import load_model

    if not spec.startswith(("hf:", "tiny:", "toy:")):
        raise MimicError(f"--model {spec}: diagnostics need a transformers model (hf:..., tiny:... or toy:...)")
    model = load_model(spec, bench=bench, mask=mask, **options)
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
    model: str = typer.Option(..., help=MODEL_HELP),
    bench: Path = typer.Option(..., help="Bench folder."),
    out: Path = typer.Option(..., help="Output folder: attention.json + vision/question/answer.png."),
    limit: int | None = typer.Option(None, min=1, help="Only the first N samples."),
    mask_layers: str | None = typer.Option(None, help="Attach the image-block mask (eager) on these layers "
                                                      "(A-B, a,b,c, second-half, all)."),
    bootstrap: int = typer.Option(1000, min=0, max=MAX_BOOTSTRAP, help="Bootstrap replicates for the intervals."),
    dtype: str = typer.Option("float32", help="auto, float32, bfloat16 or float16 (float32 here, unlike eval's "
                                              "auto: attention shares are averaged over many tokens and half "
                                              "precision rounds them)."),
    device: str | None = typer.Option(None, help="cpu, cuda, cuda:1 ..."),
    max_pixels: int | None = typer.Option(None, min=1, help="Per-image pixel cap (w*h), aspect kept."),
    image_size: int | None = typer.Option(None, min=1, help="Longest edge of every image for fixed-size "
                                                            "families (Idefics3/SmolVLM)."),
    overwrite: bool = typer.Option(False, help="Replace OUT if it exists (only after success)."),
) -> None:
    """Attention shares by layer: vision tokens to own image / other images / text; question tokens and the
    answer position to target-holding vs distractor images (bootstrap intervals over samples)."""
    from mimic_vlm.bench.store import check_images, load_bench
    from mimic_vlm.masking import mask_from_options
    from mimic_vlm.probe.attention import probe_bench
    from mimic_vlm.probe.plots import attention_plots
    from mimic_vlm.schema import atomic_dir, has_files, write_json_atomic

    loaded = load_bench(bench)
    check_images(loaded)
    hf = _hf_model(model, loaded, mask=mask_from_options(mask_layers, "eager"), dtype=dtype, device=device,
                   max_pixels=max_pixels, image_size=image_size)
    with atomic_dir(out, overwrite=overwrite, marker=has_files("attention.json")) as tmp, RichProgress() as bars:
        result = probe_bench(hf, loaded, limit=limit, n_boot=bootstrap, progress=bars)
        write_json_atomic(tmp / "attention.json", result)
        attention_plots(result, tmp)
    table = Table(title=f"attention shares by layer ({model}, {result['samples']} samples)")
    for col in ("layer", "vision→own", "vision→other", "vision→text", "answer→target", "answer→distractor"):
        table.add_column(col, justify="right")
    for row in result["layers"]:
        table.add_row(str(row["layer"]), *(fmt(row[k], ci=False) for k in (
            "vision.own", "vision.other", "vision.text", "answer.target", "answer.distractor")))
    Console().print(table)
    Console().print(f"written: {out}/attention.json, {out}/{{vision,question,answer}}.png")


def pooling(
    model: str = typer.Option(..., help=MODEL_HELP + " Qwen2-VL, Qwen2.5-VL or LLaVA-OneVision."),
    bench: Path = typer.Option(..., help="Bench folder."),
    out: Path = typer.Option(..., help="Output folder: pooling.json, pooling.png, runs/k=K/ (resumable)."),
    factors: str = typer.Option("1,2,4,8", help="Pooling factors k: each image's n tokens become ceil(n/k)."),
    limit: int | None = typer.Option(None, min=1, help="Only the first N samples."),
    dtype: str = typer.Option("auto", help="auto, float32, bfloat16 or float16."),
    device: str | None = typer.Option(None, help="cpu, cuda, cuda:1 ..."),
    max_pixels: int | None = typer.Option(None, min=1, help="Per-image pixel cap (w*h), aspect kept."),
    progress: bool = typer.Option(True, help="Show progress bars."),
    overwrite: bool = typer.Option(False, help="Replace runs in OUT made with other settings."),
) -> None:
    """Score against vision tokens per image: 1-D average pooling of each image's tokens by k."""
    from mimic_vlm.bench.store import load_bench
    from mimic_vlm.probe.pooling import family_of, pooling_study

    ks = _ints(factors, "--factors")
    loaded = load_bench(bench)
    hf = _hf_model(model, loaded, dtype=dtype, device=device, max_pixels=max_pixels)
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


def sweep(
    model: str = typer.Option(..., help="Any --model spec of `mimic eval` (hf:, tiny:, openai:, baselines)."),
    task: str = typer.Option(..., help="counting, listing, common or odd_one."),
    vary: str = typer.Option(..., help="CONTROL=VALUES, e.g. n_images=2,4,6,8,10, spread=1-4, packed=false,true, "
                                       "target_position=first,middle,last, max_pixels=3136,12544 (the "
                                       "model's per-image pixel cap) or pooling=1,2,4 (vision tokens pooled)."),
    fix: list[str] = typer.Option([], help="CONTROL=VALUE held fixed (repeatable), e.g. --fix spread=2."),
    count: int = typer.Option(50, min=1, max=MAX_COUNT, help="Samples per value."),
    out: Path = typer.Option(..., help="Output folder: sweep.json, sweep.png, benches/, runs/ (resumable)."),
    source: str = typer.Option("toy", help="Annotation source: toy, coco or openimages."),
    annotations: Path | None = typer.Option(None, help="Annotations file (toy: rendered into OUT if omitted)."),
    images_dir: Path | None = typer.Option(None, help="Folder of the source images."),
    class_descriptions: Path | None = typer.Option(None, help="OpenImages class descriptions CSV."),
    hierarchy: Path | None = typer.Option(None, help="OpenImages hierarchy JSON."),
    baselines: str = typer.Option("", help="Baselines drawn on the same plot, e.g. chance,single-image,oracle."),
    mask_layers: str | None = typer.Option(None, help="Image-block attention mask on these text layers (hf/tiny)."),
    mask_backend: str = typer.Option("auto", help="Mask backend: auto (the fastest exact one for the device), "
                                     "blocks, sdpa, eager or flex, as in mimic eval."),
    seed: int = seed_option("Generator seed (the same for every value)."),
    dtype: str = typer.Option("auto", help="auto, float32, bfloat16 or float16 (hf)."),
    device: str | None = typer.Option(None, help="cpu, cuda, ... (hf/tiny)."),
    max_pixels: int | None = typer.Option(None, min=1, help="Per-image pixel cap (w*h), aspect kept."),
    progress: bool = typer.Option(True, help="Show progress bars."),
    overwrite: bool = typer.Option(False, help="Replace runs in OUT made with other settings."),
) -> None:
    """Score against one control, everything else fixed: one generated bench and one run per value."""
    from mimic_vlm.annotations.toyworld import ensure_toy_world
    from mimic_vlm.bench.generate import Source
    from mimic_vlm.masking import mask_from_options
    from mimic_vlm.probe.sweep import SWEEP_FILES, parse_assignment, run_sweep, sweep_values
    from mimic_vlm.schema import check_study_folder

    name, values = parse_assignment(vary, "--vary")
    fixed = dict(parse_assignment(f, "--fix") for f in fix)
    mask = mask_from_options(mask_layers, mask_backend)
    check_study_folder(out, SWEEP_FILES, "mimic sweep")
    created = not out.exists()
    try:
        if source == "toy" and annotations is None:  # a default world, kept in OUT so a rerun resumes on it
            annotations = ensure_toy_world(out / "toy-world")
        catalog = Source(source, annotations, images_dir, oi_classes=class_descriptions,
                         oi_hierarchy=hierarchy).catalog()
        with RichProgress(disable=not progress) as bars:
            result = run_sweep(catalog, model=model, task=task, vary=name, values=sweep_values(values),
                               fixed=fixed, count=count, out=out, seed=seed,
                               baselines=[b for b in baselines.split(",") if b],
                               model_options={"dtype": dtype, "device": device, "max_pixels": max_pixels,
                                              "mask": mask}, progress=bars, overwrite=overwrite)
    except BaseException:
        if created and not (out / "runs").exists():  # failed before any run: no folder of leftovers
            shutil.rmtree(out, ignore_errors=True)
        raise
    table = Table(title=f"{task}: {label(result['points'][0]['metric'])} vs {name}")
    table.add_column(name)
    for series in (model, *result["baselines"]):
        table.add_column(series, justify="right")
    for i, value in enumerate(result["values"]):
        table.add_row(value, fmt(result["points"][i]), *(fmt(b[i]) for b in result["baselines"].values()))
    Console().print(table)
    Console().print(f"written: {out}/sweep.json, {out}/sweep.png")


def pack(
    bench: Path = typer.Argument(..., help="Bench folder (counting or listing samples)."),
    out: Path = typer.Option(..., help="New bench folder."),
    overwrite: bool = typer.Option(False, help="Replace OUT if it exists (only after success)."),
) -> None:
    """Same information, fewer images: paste each sample's target-holding images side by side into one."""
    from mimic_vlm.bench.pack import pack_bench
    from mimic_vlm.bench.store import load_bench

    pack_bench(bench, out, overwrite=overwrite)
    samples = load_bench(out).samples
    before = sum(s.controls["n_images_original"] for s in samples)
    after = sum(len(s.images) for s in samples)
    Console().print(f"packed {len(samples)} samples: {before} -> {after} images; written: {out}")


def register(app: typer.Typer) -> None:
    probe = typer.Typer(help="Diagnostics: attention by layer, vision-token pooling.", no_args_is_help=True,
                        rich_markup_mode=None)
    probe.command("attention")(attention)
    probe.command("pooling")(pooling)
    app.add_typer(probe, name="probe")
    app.command("sweep")(sweep)
    app.command("pack")(pack)
