"""Options several commands share, declared once (as `Annotated` types: a command writes `dtype: Dtype = "auto"`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from mimic_vlm.limits import MAX_COUNT

MAX_SEED = 2**32 - 1
"""One seed range for every command: the Trainer seeds numpy's legacy generator, which takes seeds below 2**32."""


def seed_option(help: str) -> Any:
    """`--seed`: a non-negative integer that fits every generator and record that takes it."""
    return typer.Option(0, "--seed", min=0, max=MAX_SEED, help=help)


AnyModel = Annotated[str, typer.Option(help="Any --model spec of `mimic eval` (hf:, tiny:, toy:, openai:, "
                                            "baselines).")]
BenchDir = Annotated[Path, typer.Argument(metavar="BENCH", help="Bench folder (samples.jsonl + manifest.json).",
                                          show_default=False)]
Limit = Annotated[int | None, typer.Option(min=1, help="Only N of the selected samples, spread evenly over the "
                                                        "tasks (the first of each task).")]
Dtype = Annotated[str, typer.Option(help="auto, float32, bfloat16 or float16 (hf).")]
Device = Annotated[str | None, typer.Option(help="cpu, cuda, cuda:1 ... (default: this rank's GPU, else cpu).")]
MaxPixels = Annotated[int | None, typer.Option(min=1, help="Per-image pixel cap (w*h), aspect kept; a training run "
                                                         "records it and eval --adapter reuses it unless given.")]
ImageSize = Annotated[int | None, typer.Option(min=1, help="Longest edge every image is resized to, for families with "
                                                          "a fixed size (Idefics3/SmolVLM; released: 2048); a training "
                                                          "run records it and eval --adapter reuses it unless given.")]
MASK_LAYERS = "text layers: A-B, a,b,c, second-half or all"
MaskLayers = Annotated[str | None, typer.Option(help=f"Image-block attention mask on these {MASK_LAYERS} (default: "
                                                    "no mask); hf:, tiny:, toy: models.")]
MaskBackend = Annotated[str, typer.Option(help="Mask backend: auto (the fastest exact one for the device), blocks, "
                                               "sdpa, eager or flex (flex trains on GPU only).")]
ShowProgress = Annotated[bool, typer.Option("--progress/--no-progress", help="Show progress bars.")]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace OUT if it exists (only after success).")]
ReplaceRuns = Annotated[bool, typer.Option("--overwrite", help="Replace runs made with other settings.")]
SourceName = Annotated[str, typer.Option("--source", help="Annotation source: toy, coco or openimages.")]
StudyAnnotations = Annotated[Path | None, typer.Option(help="Annotations file (toy: a toy world is rendered into OUT "
                                                           "if omitted).")]
ImagesDir = Annotated[Path | None, typer.Option("--images-dir", help="Folder holding the source images.")]
OiClasses = Annotated[Path | None, typer.Option("--oi-classes", help="OpenImages class descriptions CSV.")]
OiHierarchy = Annotated[Path | None, typer.Option("--oi-hierarchy", help="OpenImages label hierarchy JSON.")]
ToyPreset = Annotated[str, typer.Option("--toy-preset", help="Toy world: default (256 px, 18 categories) | tiny "
                                        "(112 px, 4 large icons in 2 supercategories, few instances) | study "
                                        "(224 px, the studyable model's world).")]
ToyImages = Annotated[int, typer.Option("--toy-images", min=1, help="Images (scenes) of the toy world.")]
Count = Annotated[int, typer.Option("--count", min=1, max=MAX_COUNT, help="Samples per task.")]
NImages = Annotated[str, typer.Option("--n-images", help="Images per sample: N, A-B or a,b,c (1-64).")]
Adapter = Annotated[str | None, typer.Option(help="PEFT adapter folder (its training mask is re-applied).")]
Official = Annotated[bool, typer.Option("--official", help="Score exactly like the official lmms-eval MIMIC code, "
                                                          "bugs included.")]
