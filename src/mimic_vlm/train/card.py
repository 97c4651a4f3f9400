"""The model card of a `mimic train` output folder (`README.md`): what was trained, on what, how, and the
command that made it, from the run's own record (`mimic_train.json`), so the folder explains itself on disk
and on the Hugging Face Hub. It replaces PEFT's template card (fields left "[More Information Needed]")."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mimic_vlm.files import write_bytes_atomic

CARD = "README.md"


def invocation(argv: Sequence[str] | None = None) -> str:
    """The command line that is running, as a user would type it: `mimic train ...` for the CLI (also under
    `python -m mimic_vlm` and accelerate's re-launch), else the program and its arguments."""
    argv = list(sys.argv if argv is None else argv)
    program = Path(argv[0]).name if argv else ""
    if program in ("mimic", "__main__.py") or "mimic_vlm" in argv[:3]:
        args = argv[argv.index("mimic_vlm") + 1:] if "mimic_vlm" in argv[:3] else argv[1:]
        return shlex.join(["mimic", *args])
    return shlex.join(["python", *argv]) if argv else "python"


def _value(x: Any) -> str:
    return "–" if x is None or x == "" else f"`{x}`"


def model_card(record: dict[str, Any], folder: str | Path, command: str) -> str:
    """README.md of a trained folder from its `mimic_train.json` record."""
    folder = Path(folder)
    base, method = str(record.get("base_model") or ""), str(record.get("method") or "")
    adapter = bool(record.get("adapter"))
    hub_base = base.removeprefix("hf:") if base.startswith("hf:") else None
    tags = ["mimic-vlm", "multi-image", "vision-language-model", *(["lora"] if method == "lora" else []),
            *(["image-block-attention-mask"] if record.get("mask_layers") else [])]
    front = ["---", *([f"base_model: {hub_base}"] if hub_base else []),
             f"library_name: {'peft' if adapter else 'transformers'}", "tags:", *(f"- {t}" for t in tags), "---", ""]
    what = {"lora": "LoRA adapter", "full-lm": "language model fine-tuned (vision tower and projector frozen)",
            "full": "fully fine-tuned model"}.get(method, method or "fine-tuned model")
    lines = [*front, f"# {folder.name}: {what} of {base or 'an unrecorded base'}", "",
             "Trained with mimic-vlm (`mimic train`) on multi-image conversations: the paper's remedies for "
             "multi-image failure modes (synthetic multi-image supervision"
             + (", an image-block attention mask" if record.get("mask_layers") else "") + ").", ""]
    lines += ["## Base model and method", "", "| | |", "|---|---|", f"| base model | {_value(base)} |",
              f"| method | {_value(method)} |"]
    if record.get("base_kwargs"):
        lines.append(f"| base sizes | {_value(record['base_kwargs'])} |")
    lora = record.get("lora") or {}
    if lora:
        lines += [f"| LoRA | r {lora.get('r')}, alpha {lora.get('alpha')}, dropout {lora.get('dropout')} |",
                  f"| LoRA target modules | {_value(lora.get('target_modules'))} |"]
    lines.append(f"| projector trained | {'yes' if record.get('train_projector') else 'no'} |")
    mask = record.get("mask_layers")
    mask_text = (f"layers {_value(mask)}, backend {_value(record.get('mask_backend'))} (ran as "
                 f"{_value(record.get('mask_backend_resolved'))})" if mask else "none")
    lines.append(f"| image-block attention mask | {mask_text} |")
    lines += ["", "## Data", "", "| file | SHA-256 | sampling | records | used | dropped (too many images) |",
              "|---|---|---|---|---|---|"]
    for f in record.get("data") or []:
        lines.append(f"| `{f.get('path')}` | `{f.get('sha256')}` | {f.get('sampling')} | {f.get('records', '–')} | "
                     f"{f.get('used', '–')} | {f.get('dropped_too_many_images', 0)} |")
    lines += ["", f"{record.get('samples', '–')} training samples, at most {record.get('max_images', '–')} images "
              "each.", "", "## Training", "", "| | |", "|---|---|"]
    for key, name in (("steps", "steps"), ("epochs", "epochs"), ("batch_size", "batch size per device"),
                      ("grad_accum", "gradient accumulation"), ("world_size", "processes"), ("lr", "learning rate"),
                      ("lr_scheduler", "schedule"), ("warmup_ratio", "warm-up ratio"), ("precision", "precision"),
                      ("gradient_checkpointing", "gradient checkpointing"), ("seed", "seed"),
                      ("train_loss", "mean training loss"), ("max_pixels", "max pixels per image"),
                      ("image_size", "image size (longest edge)")):
        if key in record:
            lines.append(f"| {name} | {_value(record[key])} |")
    versions = record.get("versions") or {}
    if versions:
        lines.append("| versions | " + ", ".join(f"{k} {v}" for k, v in versions.items()) + " |")
    use = (f"mimic eval BENCH --model {base or 'BASE'} --adapter {folder} --out RUN" if adapter
           else f"mimic eval BENCH --model hf:{folder} --out RUN")
    lines += ["", "## Command", "", "```bash", command, "```", "", "## Use", "", "```bash", use, "```", "",
              "The mask and the image resolution of training are re-applied from `mimic_train.json` on load"
              + (" (`mimic_vlm.train.load_trained`)." if adapter else "."), ""]
    return "\n".join(lines)


def write_card(folder: str | Path, record: dict[str, Any], command: str | None = None) -> Path:
    """Write README.md into a trained folder (replacing the template card PEFT writes when it saves)."""
    path = Path(folder) / CARD
    write_bytes_atomic(path, model_card(record, folder, command or invocation()).encode())
    return path
