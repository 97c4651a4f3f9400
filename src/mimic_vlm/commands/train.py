"""`mimic train`: fine-tune a VLM on multi-image conversations (LoRA or full LM), with the image-block mask."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import typer
from rich.console import Console

from mimic_vlm.commands.progress import RichProgress
from mimic_vlm.errors import MimicError
from mimic_vlm.limits import MAX_EPOCHS, MAX_LR, MAX_WEIGHT_DECAY


def quiet_library_warnings() -> None:
    """transformers' and torch's FutureWarnings speak to library developers, not to a user training a model;
    they are hidden unless the user asks for warnings (`python -W ...` / PYTHONWARNINGS)."""
    if not sys.warnoptions:
        warnings.filterwarnings("ignore", category=FutureWarning)


def register(app: typer.Typer) -> None:
    @app.command("train")
    def train_command(
        model: str = typer.Option(..., "--model", help="hf:PATH_OR_ID or tiny:FAMILY (the base to fine-tune)."),
        data: list[Path] = typer.Option(..., "--data", help="Training data: LLaVA .json, chat .jsonl, or a "
                                        "mixture .yaml (datasets: [{path, sampling}]). Repeatable."),
        out: Path = typer.Option(..., "--out", help="Output folder: adapter or weights + mimic_train.json."),
        method: str = typer.Option("lora", help="lora | full-lm (vision tower + projector frozen) | full."),
        lora_r: int = typer.Option(128, min=1, help="LoRA rank (official run: 128)."),
        lora_alpha: int = typer.Option(32, min=1, help="LoRA alpha (official run: 32)."),
        lora_dropout: float = typer.Option(0.05, min=0.0, max=1.0, help="LoRA dropout."),
        train_projector: bool = typer.Option(False, help="Also train the projector fully (as the paper did)."),
        mask_layers: str = typer.Option(None, help="Image-block mask layers during training, e.g. 12-23, "
                                        "second-half, all (default: no mask)."),
        mask_backend: str = typer.Option("auto", help="auto (the fastest exact one here) | blocks | sdpa | eager | "
                                         "flex (flex trains on GPU only)."),
        max_images: int = typer.Option(10, min=1, help="Drop samples with more images (counted and reported)."),
        max_pixels: int = typer.Option(None, min=1, help="Per-image pixel cap (w*h), aspect kept, as in mimic eval; "
                                       "recorded, and reused by eval --adapter."),
        image_size: int = typer.Option(None, min=1, help="Longest edge of every image for fixed-size families "
                                       "(Idefics3/SmolVLM), as in mimic eval; recorded, reused by eval --adapter."),
        epochs: float = typer.Option(1.0, min=0.0, max=MAX_EPOCHS, help="Epochs, > 0 (ignored when --max-steps is set)."),
        max_steps: int = typer.Option(-1, min=-1, help="Stop after this many optimizer steps (>= 1; -1: train "
                                      "for --epochs)."),
        batch_size: int = typer.Option(4, min=1, help="Per-device batch size."),
        grad_accum: int = typer.Option(1, min=1, help="Gradient accumulation steps."),
        lr: float = typer.Option(2.5e-5, min=0.0, max=MAX_LR, help="Peak learning rate."),
        lr_scheduler: str = typer.Option("cosine", help="After the warm-up: cosine | linear (decay to 0) | constant."),
        warmup_ratio: float = typer.Option(0.03, min=0.0, max=1.0, help="Linear warm-up, as a fraction of the steps."),
        weight_decay: float = typer.Option(0.0, min=0.0, max=MAX_WEIGHT_DECAY),
        precision: str = typer.Option("auto", help="auto | bf16 | fp16 | fp32 (or bfloat16, float16, float32 as "
                                       "--dtype spells them); auto: bf16/fp16 on GPU, fp32 on CPU."),
        gradient_checkpointing: bool = typer.Option(True, help="Recompute activations to save memory."),
        save_steps: int = typer.Option(500, min=1, help="Checkpoint every N steps (what --resume continues from)."),
        save_total_limit: int = typer.Option(3, min=1, help="Keep at most this many checkpoints."),
        logging_steps: int = typer.Option(10, min=1),
        seed: int = typer.Option(0, min=0, max=2**63 - 1, help="Seed of initialisation, data order and dropout "
                                 "(the Trainer seeds numpy too, which takes < 2**32)."),
        resume: bool = typer.Option(False, help="Continue an interrupted run from its last checkpoint."),
        overwrite: bool = typer.Option(False, help="Replace an existing output folder."),
        accelerate_config: str = typer.Option(None, help="Re-launch under accelerate: single_gpu, multi_gpu, "
                                              "zero2, zero3, fsdp2, or an accelerate YAML file."),
        num_processes: int = typer.Option(None, min=1, help="With --accelerate-config: processes (GPUs) to use "
                                          "(without it, launch with torchrun or accelerate yourself)."),
        base_config: str = typer.Option(None, help="tiny: bases only: tiny.build options as JSON, e.g. "
                                        '\'{"hidden_size": 128, "num_layers": 4, "vision": {"depth": 3}}\' '
                                        "(recorded in mimic_train.json)."),
    ) -> None:
        """Fine-tune on multi-image conversations: LoRA on the language model or the full language model."""
        quiet_library_warnings()
        from mimic_vlm.train import engine
        from mimic_vlm.train.finetune import LoraSettings

        base_kwargs = engine.parse_base_config(base_config, model)
        if num_processes is not None and not accelerate_config:
            raise MimicError(f"--num-processes {num_processes}: only with --accelerate-config (it sets the processes "
                             "of the launch it makes); without it, launch with torchrun --nproc_per_node N")

        if accelerate_config and not os.environ.get(engine.CHILD_ENV):
            config = engine.accelerate_config_path(accelerate_config)
            engine.check_launcher(accelerate_config)  # a missing engine fails here, before launching
            argv = sys.argv[sys.argv.index("train") + 1:]
            cmd = engine.launch_command(config,
                                        engine.strip_options(argv, ("--accelerate-config", "--num-processes")),
                                        num_processes)
            Console(stderr=True).print(f"[dim]$ {' '.join(cmd)}[/]", highlight=False)
            raise typer.Exit(subprocess.call(cmd, env={**os.environ, engine.CHILD_ENV: "1"}))
        cfg = engine.TrainConfig(
            model=model, data=[str(p) for p in data], out=out, method=method,
            lora=LoraSettings(lora_r, lora_alpha, lora_dropout), train_projector=train_projector,
            mask_layers=mask_layers, mask_backend=mask_backend, max_images=max_images, max_pixels=max_pixels,
            image_size=image_size, epochs=epochs,
            max_steps=max_steps, batch_size=batch_size, grad_accum=grad_accum, lr=lr, lr_scheduler=lr_scheduler, warmup_ratio=warmup_ratio,
            weight_decay=weight_decay, precision=precision, gradient_checkpointing=gradient_checkpointing,
            save_steps=save_steps, save_total_limit=save_total_limit, logging_steps=logging_steps, seed=seed,
            base_kwargs=base_kwargs)
        with RichProgress() as bars:
            result = engine.train(cfg, resume=resume, overwrite=overwrite, progress=bars)
        s = result.settings
        if int(os.environ.get("RANK", "0")) == 0:
                Console().print(f"[green]trained[/] {s['method']} on {s['samples']} samples ({s['dropped_too_many_images']} "
                            f"dropped: > {s['max_images']} images), {s['steps']} steps -> {result.out}",
                            highlight=False)
