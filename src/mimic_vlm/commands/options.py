"""Options several commands share, declared once (as `Annotated` types: a command writes `dtype: Dtype = "auto"`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

MAX_SEED = 2**63 - 1
"""numpy takes any non-negative seed; JSON records (orjson) and torch hold 64 bits."""


def seed_option(help: str) -> Any:
    """`--seed`: a non-negative integer that fits every generator and record that takes it."""
    return typer.Option(0, "--seed", min=0, max=MAX_SEED, help=help)


AnyModel = Annotated[str, typer.Option(help="Any --model spec of `mimic eval` (hf:, tiny:, toy:, openai:, "
                                            "baselines).")]
BenchDir = Annotated[Path, typer.Option(help="Bench folder (samples.jsonl + manifest.json).")]
Limit = Annotated[int | None, typer.Option(min=1, help="Only N of the selected samples, spread evenly over the "
                                                        "tasks (the first of each task).")]
Dtype = Annotated[str, typer.Option(help="auto, float32, bfloat16 or float16 (hf).")]
Device = Annotated[str | None, typer.Option(help="cpu, cuda, cuda:1 ... (default: this rank's GPU, else cpu).")]
MaxPixels = Annotated[int | None, typer.Option(min=1, help="Per-image pixel cap (w*h), aspect kept.")]
ImageSize = Annotated[int | None, typer.Option(min=1, help="Longest edge every image is resized to, for families with "
                                                          "a fixed size (Idefics3/SmolVLM; released: 2048).")]
MaskLayers = Annotated[str | None, typer.Option(help="Image-block attention mask on these text layers (A-B, a,b,c, "
                                                    "second-half, all); hf:, tiny:, toy: models.")]
MaskBackend = Annotated[str, typer.Option(help="Mask backend: auto (the fastest exact one for the device), blocks, "
                                               "sdpa, eager or flex.")]
ShowProgress = Annotated[bool, typer.Option("--progress/--no-progress", help="Show progress bars.")]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace OUT if it exists (only after success).")]
ReplaceRuns = Annotated[bool, typer.Option("--overwrite", help="Replace runs made with other settings.")]
