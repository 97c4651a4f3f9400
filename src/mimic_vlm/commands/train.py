"""`mimic train`: fine-tune a VLM on multi-image conversations (LoRA or full LM), with the image-block mask."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from mimic_vlm.commands.options import MAX_SEED, ImageSize, MaskBackend, MaskLayers, MaxPixels, ShowProgress
from mimic_vlm.commands.progress import RichProgress
from mimic_vlm.limits import MAX_EPOCHS, MAX_LR, MAX_WEIGHT_DECAY


def quiet_library_warnings() -> None:
    """transformers' and torch's FutureWarnings speak to library developers, not to a user training a model;
    they are hidden unless the user asks for warnings (`python -W ...` / PYTHONWARNINGS)."""
    if not sys.warnoptions:
        warnings.filterwarnings("ignore", category=FutureWarning)


def _opt(help: str, **kw: Any) -> Any:
    return typer.Option(help=help, **kw)


TrainModel = Annotated[str, _opt("hf:PATH_OR_ID, tiny:FAMILY or toy:NAME (the base to fine-tune).")]
Data = Annotated[list[Path], _opt("Training data: LLaVA .json, chat .jsonl, or a mixture .yaml (datasets: [{path, "
                                  "sampling}]). Repeatable.")]
TrainOut = Annotated[Path, _opt("Output folder: adapter or weights + mimic_train.json.")]
Method = Annotated[str, _opt("lora | full-lm (vision tower + projector frozen) | full.")]
LoraR = Annotated[int, _opt("LoRA rank (official run: 128).", min=1)]
LoraAlpha = Annotated[int, _opt("LoRA alpha (official run: 32).", min=1)]
LoraDropout = Annotated[float, _opt("LoRA dropout.", min=0.0, max=1.0)]
TrainProjector = Annotated[bool, _opt("Also train the projector fully (as the paper did).")]
MaxImages = Annotated[int, _opt("Drop samples with more images (counted and reported).", min=1)]


def _epochs(text: str) -> float:
    """typer shows only closed ranges, and 0 epochs would save an untrained model: 0 < x <= MAX_EPOCHS."""
    try:
        value = float(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a number") from None
    if not 0 < value <= MAX_EPOCHS:  # nan fails too
        raise typer.BadParameter(f"{text} is not in the range 0<x<={MAX_EPOCHS:g}")
    return value


Epochs = Annotated[float, _opt(f"Epochs, 0<x<={MAX_EPOCHS:g} (ignored when --max-steps is set).", parser=_epochs)]
MaxSteps = Annotated[int, _opt("Stop after this many optimizer steps (>= 1; -1: train for --epochs).", min=-1)]
TrainBatch = Annotated[int, _opt("Per-device batch size.", min=1)]
GradAccum = Annotated[int, _opt("Gradient accumulation steps.", min=1)]
Lr = Annotated[float, _opt("Peak learning rate.", min=0.0, max=MAX_LR)]
LrScheduler = Annotated[str, _opt("After the warm-up: cosine | linear (decay to 0) | constant.")]
WarmupRatio = Annotated[float, _opt("Linear warm-up, as a fraction of the steps.", min=0.0, max=1.0)]
WeightDecay = Annotated[float, _opt("AdamW's decoupled weight decay (0: none).", min=0.0, max=MAX_WEIGHT_DECAY)]
Precision = Annotated[str, _opt("auto | bf16 | fp16 | fp32 (or bfloat16, float16, float32 as --dtype spells them); "
                                "auto: bf16/fp16 on GPU, fp32 on CPU.")]
Checkpointing = Annotated[bool, _opt("Recompute activations to save memory.")]
SaveSteps = Annotated[int, _opt("Checkpoint every N steps (what --resume continues from).", min=1)]
SaveLimit = Annotated[int, _opt("Keep at most this many checkpoints.", min=1)]
LoggingSteps = Annotated[int, _opt("Record the loss and learning rate every N steps (the progress bar, "
                                    "trainer_state.json).", min=1)]
TrainSeed = Annotated[int, _opt("Seed of initialisation, data order and dropout.", min=0, max=MAX_SEED)]
Resume = Annotated[bool, _opt("Continue an interrupted run from its last checkpoint.")]
TrainOverwrite = Annotated[bool, typer.Option("--overwrite", help="Replace an existing output folder.")]
AccelerateConfig = Annotated[str | None, _opt("Re-launch under accelerate: single_gpu, multi_gpu, zero2, zero3, fsdp2, "
                                              "or an accelerate YAML file.")]
NumProcesses = Annotated[int | None, _opt("With --accelerate-config: processes (GPUs) to use (without it, launch "
                                          "with torchrun or accelerate yourself).", min=1)]
BaseConfig = Annotated[str | None, _opt("tiny: bases only: tiny.build options as JSON, e.g. '{\"hidden_size\": 128, "
                                        "\"num_layers\": 4, \"vision\": {\"depth\": 3}}' (recorded in "
                                        "mimic_train.json).")]


def train_command(
    model: TrainModel, data: Data, out: TrainOut, method: Method = "lora", lora_r: LoraR = 128,
    lora_alpha: LoraAlpha = 32, lora_dropout: LoraDropout = 0.05, train_projector: TrainProjector = False,
    mask_layers: MaskLayers = None, mask_backend: MaskBackend = "auto", max_images: MaxImages = 10,
    max_pixels: MaxPixels = None, image_size: ImageSize = None, epochs: Epochs = 1.0,
    max_steps: MaxSteps = -1, batch_size: TrainBatch = 4, grad_accum: GradAccum = 1, lr: Lr = 2.5e-5,
    lr_scheduler: LrScheduler = "cosine", warmup_ratio: WarmupRatio = 0.03, weight_decay: WeightDecay = 0.0,
    precision: Precision = "auto", gradient_checkpointing: Checkpointing = True, save_steps: SaveSteps = 500,
    save_total_limit: SaveLimit = 3, logging_steps: LoggingSteps = 10, seed: TrainSeed = 0, resume: Resume = False,
    overwrite: TrainOverwrite = False, accelerate_config: AccelerateConfig = None,
    num_processes: NumProcesses = None, base_config: BaseConfig = None, progress: ShowProgress = True,
) -> None:
    """Fine-tune on multi-image conversations: LoRA on the language model or the full language model."""
    quiet_library_warnings()
    from mimic_vlm.train import engine, launch
    from mimic_vlm.train.finetune import LoraSettings

    base_kwargs = engine.parse_base_config(base_config, model)
    launch.check_num_processes(num_processes, accelerate_config)
    if accelerate_config and not os.environ.get(launch.CHILD_ENV):  # this process only launches the run
        raise typer.Exit(launch.relaunch(accelerate_config, num_processes, sys.argv))
    cfg = engine.TrainConfig(
        model=model, data=[str(p) for p in data], out=out, method=method,
        lora=LoraSettings(lora_r, lora_alpha, lora_dropout), train_projector=train_projector,
        mask_layers=mask_layers, mask_backend=mask_backend, max_images=max_images, max_pixels=max_pixels,
        image_size=image_size, epochs=epochs, max_steps=max_steps, batch_size=batch_size, grad_accum=grad_accum,
        lr=lr, lr_scheduler=lr_scheduler, warmup_ratio=warmup_ratio, weight_decay=weight_decay,
        precision=precision, gradient_checkpointing=gradient_checkpointing, save_steps=save_steps,
        save_total_limit=save_total_limit, logging_steps=logging_steps, seed=seed, base_kwargs=base_kwargs)
    with RichProgress(disable=not progress) as bars:
        result = engine.train(cfg, resume=resume, overwrite=overwrite, progress=bars if progress else None)
    s = result.settings
    if int(os.environ.get("RANK", "0")) == 0:
        Console().print(f"[green]trained[/] {s['method']} on {s['samples']} samples ({s['dropped_too_many_images']} "
                        f"dropped: > {s['max_images']} images), {s['steps']} steps -> {result.out}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("train")(train_command)
