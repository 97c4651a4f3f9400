"""`mimic train`: a plain transformers `Trainer` with our collator, under accelerate (one device, DDP,
DeepSpeed ZeRO-2/3, FSDP2), with checkpoints, exact resume, progress reports and a `mimic_train.json`
that lets `mimic eval --adapter OUT` rebuild the same model with the same image-block mask.
The launcher is `train/launch.py`, the trainer callbacks `train/callbacks.py`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import torch
from transformers import PrinterCallback, Trainer, TrainerCallback, TrainingArguments

from mimic_vlm.errors import MimicError, os_error
from mimic_vlm.files import check_output_folder, honour_umask, write_json_atomic
from mimic_vlm.locks import holding
from mimic_vlm.models.load import load_vlm
from mimic_vlm.models.processors import set_image_size
from mimic_vlm.models.trained import TRAIN_SETTINGS, TrainedSettings, read_trained
from mimic_vlm.progress import Progress
from mimic_vlm.schema import read_json
from mimic_vlm.staging import fresh_stage, staging, swap_in
from mimic_vlm.train.callbacks import ReportProgress, UmaskModes
from mimic_vlm.train.card import write_card
from mimic_vlm.train.data import ChatCollator, TrainingData, check_images, load_data
from mimic_vlm.train.finetune import METHODS, LoraSettings, find_parts, is_peft, lora_target_regex, prepare

if TYPE_CHECKING:
    from mimic_vlm.masking import ImageBlockMask

RUN_SETTINGS = "run.json"
PRECISIONS = ("auto", "bf16", "fp16", "fp32")


@dataclass
class TrainConfig:
    """Everything a run depends on. Defaults follow the official recipe (paper.md §6) where it has one."""

    model: str
    data: list[str]
    out: Path
    method: str = "lora"
    lora: LoraSettings = field(default_factory=LoraSettings)
    train_projector: bool = False
    mask_layers: str | None = None
    mask_backend: str = "auto"
    max_images: int = 10
    max_pixels: int | None = None
    """Per-image pixel cap, as `mimic eval --max-pixels` (Qwen-style models; released Qwen2-VL: 12.8M)."""
    image_size: int | None = None
    """Longest edge of every image for fixed-size families, as `mimic eval --image-size` (Idefics3/SmolVLM)."""
    epochs: float = 1.0
    max_steps: int = -1
    batch_size: int = 4
    grad_accum: int = 1
    lr: float = 2.5e-5
    lr_scheduler: str = "cosine"
    """After the warm-up: cosine | linear decay to 0, or constant (a long from-scratch stage that may be stopped
    early keeps its learning rate)."""
    warmup_ratio: float = 0.03
    weight_decay: float = 0.0
    precision: str = "auto"
    gradient_checkpointing: bool = True
    save_steps: int = 500
    save_total_limit: int | None = 3
    logging_steps: int = 10
    seed: int = 0
    base_kwargs: dict[str, Any] = field(default_factory=dict)
    """Extra `tiny.build` arguments for `tiny:` bases (hidden_size, num_layers, ...), recorded for rebuilding."""

    def record(self) -> dict[str, Any]:
        """The settings that must match for `--resume` to continue the same run."""
        d = asdict(self)
        d["out"], d["data"] = str(self.out), [str(p) for p in self.data]
        for k in ("save_steps", "save_total_limit", "logging_steps"):
            d.pop(k)
        return d


@dataclass
class TrainResult:
    out: Path
    model: torch.nn.Module
    log: list[dict[str, Any]]
    settings: dict[str, Any]


# ---------------------------------------------------------------- models

PRECISION_ALIASES = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}
"""`--dtype` spellings of the other commands, accepted by `--precision` too."""


def resolve_precision(precision: str) -> str:
    """`auto`: accelerate's setting when launched by it on a GPU, else bf16 / fp16 on a GPU that has it, else
    fp32 (so the shipped GPU configs also run on a CPU-only machine)."""
    precision = PRECISION_ALIASES.get(precision, precision)
    if precision not in PRECISIONS:
        raise MimicError(f"--precision {precision}: choose one of {', '.join(PRECISIONS)}")
    if precision != "auto":
        if precision != "fp32" and not torch.cuda.is_available():
            raise MimicError(f"--precision {precision}: needs a CUDA device; use fp32 on the CPU")
        return precision
    launched = os.environ.get("ACCELERATE_MIXED_PRECISION", "no")
    if launched in ("bf16", "fp16") and torch.cuda.is_available():
        return launched
    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "fp32"


def load_base(spec: str, *, dtype: torch.dtype = torch.float32,
              base_kwargs: dict[str, Any] | None = None) -> tuple[torch.nn.Module, Any]:
    """`tiny:FAMILY` (built in code, deterministic) or `hf:PATH` -> (model, processor) on the CPU, sdpa attention
    (the Trainer places it)."""
    loaded = load_vlm(spec, dtype=dtype, device="cpu", attn_implementation="sdpa", base_kwargs=base_kwargs or {})
    return loaded.model, loaded.processor


def parse_base_config(text: str | None, model: str) -> dict[str, Any]:
    """`--base-config JSON` -> `tiny.build` keyword arguments (an object; only for `tiny:` bases), checked in
    full here (keys, types, sizes that fit together): a bad size would otherwise fail deep in torch."""
    if text is None:
        return {}
    if not model.startswith("tiny:"):
        raise MimicError(f"--base-config: only for tiny:FAMILY bases, not --model {model}")
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as e:
        raise MimicError(f"--base-config: invalid JSON ({e})") from None
    if not isinstance(value, dict):
        raise MimicError(f"--base-config: expected a JSON object, got {text!r}")
    from mimic_vlm.models import tiny

    tiny.configure(model.removeprefix("tiny:"), value, where="--base-config")
    return value


def load_trained(out: str | Path, *, dtype: torch.dtype = torch.float32) -> tuple[torch.nn.Module, Any, dict]:
    """The model a `mimic train` folder describes, ready for inference: base + adapter (merged) or full
    weights, with the image-block mask it was trained with attached. Returns (model, processor, settings)."""
    out = Path(out)
    trained = read_trained(out)
    if trained is None:
        raise MimicError(f"{out}: not a finished `mimic train` folder (no {TRAIN_SETTINGS})")
    if trained.method == "lora":
        loaded = load_vlm(trained.base_model, dtype=dtype, device="cpu", attn_implementation="sdpa",
                          base_kwargs=trained.base_kwargs, adapter=str(out))
    else:  # full weights and processor were saved like any transformers model; the folder's record gives the mask
        loaded = load_vlm(f"hf:{out}", dtype=dtype, device="cpu", attn_implementation="sdpa")
    set_image_size(loaded.processor, trained.details.get("image_size"))
    return loaded.model.eval(), loaded.processor, trained.to_dict()


# ---------------------------------------------------------------- the run

class VLMTrainer(Trainer):
    """`Trainer` that resumes full-weight VLM checkpoints correctly.

    transformers 5.24 writes checkpoints in the model's original key layout (`model.layers.*`, `visual.*`),
    but `Trainer._load_from_checkpoint` loads them with `load_state_dict(strict=False)` without converting the
    keys back: every language-model and vision weight is silently left at its current value. Loading through
    `from_pretrained` converts them. Adapters (PEFT), DeepSpeed and FSDP checkpoints take the stock path.
    """

    def _load_from_checkpoint(self, resume_from_checkpoint, model=None):
        model = model or self.model
        if is_peft(model) or self.is_deepspeed_enabled or self.is_fsdp_enabled:
            return super()._load_from_checkpoint(resume_from_checkpoint, model)
        dtype = next(model.parameters()).dtype
        saved = type(model).from_pretrained(resume_from_checkpoint, dtype=dtype, device_map="cpu",
                                            trust_remote_code=False)
        model.load_state_dict(saved.state_dict(), strict=True)


def last_checkpoint(folder: Path) -> str | None:
    """The newest COMPLETE checkpoint: a kill while saving leaves a folder without `trainer_state.json`
    (the Trainer writes it last), which `get_last_checkpoint` would pick and resuming would fail on."""
    steps = sorted((int(m.group(1)), p) for p in (folder.iterdir() if folder.is_dir() else ())
                   if (m := re.fullmatch(r"checkpoint-(\d+)", p.name)) and p.is_dir())
    for _, p in reversed(steps):
        try:
            read_json(p / "trainer_state.json")
            return str(p)
        except MimicError:
            continue
    return None


TRAIN_KEYS = ("model", "data", "method", "lora", "mask_layers", "max_images", "batch_size")
"""Keys every `run.json` of `mimic train` holds (`TrainConfig.record`): `mimic eval` writes a `run.json` too."""


def _is_training_run(folder: Path) -> bool:
    """A folder `mimic train` wrote: its result record, its checkpoints, or a `run.json` that is train's (an
    eval run folder also holds a `run.json`, and `--overwrite` must never take it for a training run)."""
    if (folder / TRAIN_SETTINGS).is_file() or (folder / "checkpoints").is_dir():
        return True
    try:
        record = read_json(folder / RUN_SETTINGS)
    except MimicError:
        return False
    return isinstance(record, dict) and all(k in record for k in TRAIN_KEYS)


def _empty(folder: Path) -> None:
    for child in folder.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def _prepare_out(cfg: TrainConfig, resume: bool, overwrite: bool) -> tuple[str | None, bool]:
    """Refuse to clobber a run by accident; return the checkpoint to resume from (or None) and whether the
    folder holds a run that `--overwrite` replaces. Nothing is deleted here: the new run is built in a stage
    and swapped in once saved, so neither a bad option nor a late failure costs the old run."""
    out, ckpts = cfg.out, cfg.out / "checkpoints"
    if resume and overwrite:
        raise MimicError("--resume and --overwrite contradict each other: continue the run, or replace it")
    if out.is_dir() and any(out.iterdir()) and not _is_training_run(out):
        raise MimicError(f"{out}: not a mimic train folder (it holds other files, e.g. a mimic eval run); "
                         "--overwrite replaces only a folder mimic train made (choose another --out)")
    ours = check_output_folder(out, True, _is_training_run)  # a folder of other files: refused, never deleted
    if overwrite:
        return None, ours
    if (out / TRAIN_SETTINGS).exists():
        raise MimicError(f"{out}: holds a finished run (use --overwrite to replace it)")
    last = last_checkpoint(ckpts)
    if resume and not last:
        raise MimicError(f"{out}: --resume, but there is no complete checkpoint in {ckpts} to continue from "
                         "(drop --resume to start a new run)")
    if last and not resume:
        raise MimicError(f"{out}: holds checkpoints of an unfinished run (use --resume to continue it, "
                         "or --overwrite)")
    if (out / RUN_SETTINGS).exists():
        new = orjson.loads(orjson.dumps(cfg.record()))
        old = {**{k: v for k, v in ADDED_SETTINGS.items() if k in new}, **read_json(out / RUN_SETTINGS)}
        diff = sorted(k for k in new.keys() | old.keys() if old.get(k) != new.get(k))
        if last and diff:
            raise MimicError(f"{out}: --resume with different settings ({', '.join(diff)}) than the run had")
    return last, False


def _cache_configs(model: Any) -> list[Any]:
    """The configs (the model's and its language model's) whose KV cache is on."""
    return [c for c in (model.config, getattr(model.config, "text_config", None))
            if c is not None and getattr(c, "use_cache", False)]


ADDED_SETTINGS = {"lr_scheduler": "cosine"}
"""Settings newer than some run folders, with the value those runs used: a run recorded before a setting
existed still resumes."""

SCHEDULERS = {"cosine": "cosine", "linear": "linear", "constant": "constant_with_warmup"}
"""`--lr-scheduler` names -> transformers' `lr_scheduler_type` (every one warms up first)."""


def training_arguments(cfg: TrainConfig, precision: str) -> TrainingArguments:
    return TrainingArguments(
        output_dir=str(cfg.out / "checkpoints"), per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum, learning_rate=cfg.lr, weight_decay=cfg.weight_decay,
        lr_scheduler_type=SCHEDULERS[cfg.lr_scheduler], warmup_steps=cfg.warmup_ratio, num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps, bf16=precision == "bf16", fp16=precision == "fp16",
        activation_checkpointing=cfg.gradient_checkpointing,
        activation_checkpointing_kwargs={"use_reentrant": False} if cfg.gradient_checkpointing else None,
        save_strategy="steps", save_steps=cfg.save_steps, save_total_limit=cfg.save_total_limit,
        logging_steps=cfg.logging_steps, seed=cfg.seed, data_seed=cfg.seed, remove_unused_columns=False,
        report_to=[], disable_tqdm=True, include_num_input_tokens_seen="non_padding",
        dataloader_num_workers=0, dataloader_pin_memory=torch.cuda.is_available(),
        use_cpu=not torch.cuda.is_available(),  # also makes a CPU-only torchrun launch a real (gloo) DDP run
    )


def train(cfg: TrainConfig, *, resume: bool = False, overwrite: bool = False, progress: Progress | None = None,
          callbacks: list[TrainerCallback] | None = None) -> TrainResult:
    """Train, checkpointing every `save_steps`; `resume` continues from the last checkpoint exactly.

    Data and images are checked before any model is loaded. The output folder gets the adapter (LoRA) or
    the full weights, the processor, and `mimic_train.json`, written last: its presence marks a finished run.
    """
    from mimic_vlm.masking import mask_from_options

    if cfg.method not in METHODS:
        raise MimicError(f"--method {cfg.method}: choose one of {', '.join(METHODS)}")
    if cfg.lr_scheduler not in SCHEDULERS:
        raise MimicError(f"--lr-scheduler {cfg.lr_scheduler}: choose one of {', '.join(SCHEDULERS)}")
    check_length(cfg)
    check_seed(cfg.seed)
    mask = mask_from_options(cfg.mask_layers, cfg.mask_backend)  # bad options fail before the slow parts
    check_mask_device(mask)
    resolve_precision(cfg.precision)
    data = load_data(cfg.data, max_images=cfg.max_images, seed=cfg.seed)
    check_images(data.conversations, progress)
    with _holding(cfg.out):
        try:
            return _train(cfg, mask, data, resume, overwrite, progress, callbacks)
        except OSError as e:  # a full disk while saving (torch.save): the folder named, not a temp file in it
            raise os_error(e, cfg.out) from None


def check_length(cfg: TrainConfig) -> None:
    """A run trains at least one step: `max_steps` -1 means "train for `epochs`"; 0 has no meaning (the Trainer
    would take it for "unset" yet stop after one step), and 0 epochs would save an untrained model."""
    if cfg.max_steps == 0 or cfg.max_steps < -1:
        raise MimicError(f"--max-steps {cfg.max_steps}: give a number of steps >= 1, or -1 to train for --epochs")
    if cfg.max_steps == -1 and not cfg.epochs > 0:
        raise MimicError(f"--epochs {cfg.epochs}: must be > 0 (or give --max-steps)")


NUMPY_SEEDS = 2**32
"""The Trainer seeds numpy (`np.random.seed`), which takes seeds below 2**32 only."""


def check_seed(seed: int) -> None:
    """A seed the Trainer can use, refused here rather than by numpy in the middle of the set-up."""
    if not 0 <= seed < NUMPY_SEEDS:
        raise MimicError(f"--seed {seed}: training needs a seed from 0 to {NUMPY_SEEDS - 1} (numpy's range)")


def check_mask_device(mask: ImageBlockMask | None) -> None:
    """The mask backend must train on this machine's device: compiled FlexAttention has no backward on the CPU,
    which the first training step would only find after the run folder was written."""
    from mimic_vlm.masking.attention import resolve_backend

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if mask is not None and device == "cpu" and resolve_backend(mask.backend, device, "training") == "flex":
        raise MimicError("--mask-backend flex: compiled FlexAttention has no backward on the CPU, and this machine "
                         "trains on the CPU; use --mask-backend auto (or blocks)")


@contextlib.contextmanager
def _holding(out: Path) -> Iterator[None]:
    """Rank 0 holds `out` for the whole run (made here if missing, removed again if it stays empty): a second
    `mimic train` into it, `--overwrite` included, is refused instead of deleting or interleaving this run."""
    rank0 = int(os.environ.get("RANK", "0")) == 0
    with holding(out, "another mimic train", hold=rank0) as created:
        fresh = created or not any(out.iterdir())
        try:
            yield
        except BaseException:
            if fresh and rank0 and last_checkpoint(out / "checkpoints") is None:
                _empty(out)  # a run that failed before its first checkpoint leaves nothing to resume: no half-run
            raise
        finally:
            if created and rank0 and not any(out.iterdir()):
                out.rmdir()


def _train(cfg: TrainConfig, mask: ImageBlockMask | None, data: TrainingData, resume: bool, overwrite: bool,
           progress: Progress | None, callbacks: list[TrainerCallback] | None) -> TrainResult:
    last, replace = _prepare_out(cfg, resume, overwrite)
    precision = resolve_precision(cfg.precision)
    half = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision, torch.float32)
    model, processor = load_base(cfg.model, dtype=half if cfg.method == "lora" else torch.float32,
                                 base_kwargs=cfg.base_kwargs)
    set_image_size(processor, cfg.image_size)
    if mask is not None:
        mask.attach(model)
    target = lora_target_regex(model, find_parts(model)) if cfg.method == "lora" else None
    model = prepare(model, cfg.method, lora=cfg.lora, train_projector=cfg.train_projector)
    cached = _cache_configs(model) if cfg.gradient_checkpointing else []
    for config in cached:  # no KV cache while training (else transformers warns on every run); put back below
        config.use_cache = False

    collator = ChatCollator(processor, cfg.max_pixels)
    collator(data.conversations[:1])  # the processor and template render a sample before anything is written
    real = cfg
    if replace:  # built beside the run it replaces, swapped in at the end: a late failure keeps the old run
        cfg = dataclasses.replace(cfg, out=staging(cfg.out))
        if int(os.environ.get("RANK", "0")) == 0:
            fresh_stage(cfg.out)
    try:
        return _fit(cfg, real, model, processor, collator, data, mask, target, cached, precision, last,
                    progress, callbacks)
    except BaseException:
        if replace and int(os.environ.get("RANK", "0")) == 0:
            shutil.rmtree(cfg.out, ignore_errors=True)
        raise


def _fit(cfg: TrainConfig, real: TrainConfig, model: Any, processor: Any, collator: ChatCollator,
         data: TrainingData, mask: ImageBlockMask | None, target: str | None, cached: list[Any], precision: str,
         last: str | None, progress: Progress | None, callbacks: list[TrainerCallback] | None) -> TrainResult:
    """Train into `cfg.out` (the stage of an `--overwrite`, swapped into `real.out` once saved)."""
    args = training_arguments(cfg, precision)
    trainer = VLMTrainer(model=model, args=args, train_dataset=data.conversations,
                         data_collator=collator,
                         callbacks=[UmaskModes(), *([ReportProgress(progress)] if progress else []),
                                    *(callbacks or [])])
    trainer.remove_callback(PrinterCallback)  # the progress bar shows the logs; trainer_state.json keeps them
    if trainer.is_world_process_zero():
        write_json_atomic(cfg.out / RUN_SETTINGS, real.record())
    first_step = 0 if last is None else read_json(Path(last) / "trainer_state.json")["global_step"]  # resumed from
    started = time.perf_counter()
    output = trainer.train(resume_from_checkpoint=last)
    timing = _timing(time.perf_counter() - started, trainer.state.global_step - first_step)

    for config in cached:  # the saved model generates with its cache, as the base did
        config.use_cache = True
    trainer.save_model(str(cfg.out))
    if trainer.is_world_process_zero():
        honour_umask(cfg.out)
    settings = TrainedSettings.from_dict({
        "base_model": cfg.model, "base_kwargs": cfg.base_kwargs, "method": cfg.method,
        "lora": {**asdict(cfg.lora), "target_modules": target, "train_projector": cfg.train_projector}
        if cfg.method == "lora" else None,
        "train_projector": cfg.train_projector, "mask_layers": cfg.mask_layers,
        "mask_backend": cfg.mask_backend if cfg.mask_layers else None,
        "mask_backend_resolved": mask.resolved["training"] if mask is not None and mask.resolved else None,
        "data": data.files, "samples": len(data.conversations), "dropped_too_many_images": data.dropped,
        "max_images": cfg.max_images, "max_pixels": cfg.max_pixels, "image_size": cfg.image_size, "seed": cfg.seed, "steps": trainer.state.global_step,
        "train_loss": output.training_loss, "timing": timing,
        "epochs": cfg.epochs, "batch_size": cfg.batch_size, "grad_accum": cfg.grad_accum,
        "world_size": args.world_size, "lr": cfg.lr, "lr_scheduler": cfg.lr_scheduler,
        "warmup_ratio": cfg.warmup_ratio, "precision": precision,
        "gradient_checkpointing": cfg.gradient_checkpointing, "adapter": is_peft(model),
        "versions": _versions(),
    })
    if trainer.is_world_process_zero():
        processor.save_pretrained(str(cfg.out))
        write_card(cfg.out, settings.to_dict())  # README.md: the run's own card, not PEFT's template
        settings.write(cfg.out)
        if cfg.out != real.out:
            swap_in(cfg.out, real.out)
    return TrainResult(real.out, model, trainer.state.log_history, settings.to_dict())


def _timing(seconds: float, steps: int) -> dict[str, float | int | None]:
    """Wall time of the steps this process trained (a resumed run times only its own part): what the mask's
    cost is read from, run against run on the same machine."""
    return {"seconds": round(seconds, 3), "steps": steps,
            "seconds_per_step": round(seconds / steps, 4) if steps > 0 else None}


def _versions() -> dict[str, str]:
    import peft
    import transformers

    from mimic_vlm import __version__

    return {"mimic_vlm": __version__, "torch": torch.__version__, "transformers": transformers.__version__,
            "peft": peft.__version__}
