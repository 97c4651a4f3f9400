"""Loading a transformers VLM: the one path used by evaluation, diagnostics and training.

`load_vlm("hf:PATH_OR_ID" | "tiny:FAMILY", ...)` gives the model (on its device, in its dtype) and its processor,
with a PEFT adapter merged and the image-block mask attached: the mask given, else the one the model was
trained with (recorded in `mimic_train.json` of the adapter folder or of a full fine-tune's folder), so a model
is always evaluated as it was trained.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import transformers
from transformers import PreTrainedModel, ProcessorMixin

from mimic_vlm.errors import MimicError, first_line
from mimic_vlm.masking import ImageBlockMask
from mimic_vlm.models.kinds import check_spec, toy_folder
from mimic_vlm.models.processors import load_processor
from mimic_vlm.models.trained import TrainedSettings, read_trained
from mimic_vlm.schema import read_json

DTYPES = {"auto": "auto", "float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass
class LoadedVLM:
    model: PreTrainedModel
    processor: ProcessorMixin
    mask: ImageBlockMask | None
    settings: dict[str, Any]
    """What shapes the answers (kind, attention, adapter, mask), for run.json."""


def torch_dtype(name: str | torch.dtype) -> Any:
    """`--dtype` -> what transformers takes ("auto" keeps the checkpoint's dtype)."""
    if isinstance(name, torch.dtype):
        return name
    if name not in DTYPES:
        raise MimicError(f"--dtype {name}: choose one of {', '.join(DTYPES)}")
    return DTYPES[name]


def default_device() -> str:
    """This process's GPU under `accelerate launch` / torchrun (LOCAL_RANK), else the first GPU or the CPU."""
    return f"cuda:{os.environ.get('LOCAL_RANK', '0')}" if torch.cuda.is_available() else "cpu"


def resolve_device(device: str | None) -> str:
    """`--device` checked before any weights are read: a CUDA device on a CPU-only torch, or a GPU index that
    does not exist, is one clear line (torch would raise an AssertionError deep inside `.to()`)."""
    if device is None:
        return default_device()
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise MimicError(f"--device {device}: not a device name (cpu, cuda, cuda:1, ...)") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            why = "this torch build has no CUDA" if torch.version.cuda is None else "no CUDA GPU is visible"
            raise MimicError(f"--device {device}: {why}; use --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise MimicError(f"--device {device}: only {torch.cuda.device_count()} CUDA device(s) visible")
    return device


def load_vlm(spec: str, *, dtype: str | torch.dtype = "auto", device: str | None = None,
             device_map: str | None = None, attn_implementation: str | None = None, adapter: str | None = None,
             mask: ImageBlockMask | None = None, base_kwargs: dict[str, Any] | None = None) -> LoadedVLM:
    """`hf:PATH_OR_ID` (a local folder, or a hub id already in the local cache), `toy:NAME` (packaged) or
    `tiny:FAMILY` (built in code; `base_kwargs` are its sizes), with an optional PEFT adapter; see the module docstring for the mask."""
    kind, arg = check_spec(spec)[0].name, spec.partition(":")[2]
    if kind == "toy":  # a packaged model is a transformers folder like any other
        kind, arg = "hf", str(toy_folder(arg))
    target = None if device_map else resolve_device(device)
    check_attention(attn_implementation)
    trained = read_trained(Path(adapter)) if adapter else None
    check_adapter_base(spec, adapter, trained)
    if kind == "tiny" and arg:
        from mimic_vlm.models import tiny

        sizes = base_kwargs if base_kwargs is not None else (trained.base_kwargs if trained else {})
        model, processor = tiny.build(arg, attn_implementation=attn_implementation or "sdpa", **sizes)
        if dtype != "auto":
            model = model.to(torch_dtype(dtype))
        folder = None
    elif kind == "hf" and arg:
        model, processor = _from_pretrained(arg, dtype, device_map, attn_implementation)
        folder = Path(arg)
    else:
        raise MimicError(f"--model {spec}: expected hf:PATH_OR_ID, toy:NAME or tiny:FAMILY")
    if target is not None:
        model = model.to(target)  # type: ignore[arg-type]  # transformers' typing of the wrapped `to`
    model, mask = adapt(model, adapter=adapter, mask=mask, folder=folder)
    settings = {"attn_implementation": model.config._attn_implementation, "adapter": adapter,
                "mask": describe_mask(mask)}
    return LoadedVLM(model, processor, mask, settings)


FLASH_PACKAGES = {"flash_attention_2": "flash_attn", "flash_attention_3": "flash_attn_interface",
                  "flash_attention_4": "flash_attn.cute"}
"""The package each flash kernel of transformers imports (checked first: transformers' ImportError is long)."""


def check_attention(name: str | None) -> None:
    """An `--attn-implementation` transformers knows and this machine can run (a hub kernel, `org/name`, is
    left to transformers)."""
    if name is None or "/" in name:
        return
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    known = ["eager", *ALL_ATTENTION_FUNCTIONS.valid_keys()]
    if name not in known:
        raise MimicError(f"--attn-implementation {name!r}: unknown; choose one of {', '.join(known)}")
    package = FLASH_PACKAGES.get(name)
    if package and not _importable(package):
        raise MimicError(f"--attn-implementation {name}: needs the {package.split('.')[0]} package, which is not "
                         "installed (or use sdpa)")


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def _from_pretrained(path: str, dtype: str | torch.dtype, device_map: str | None,
                     attn_implementation: str | None) -> tuple[PreTrainedModel, ProcessorMixin]:
    local = Path(path).expanduser()
    if path.startswith((".", "/", "~")) and not local.is_dir():
        raise MimicError(f"hf:{path}: no such model folder")
    if local.is_dir() and not (local / "config.json").is_file():
        raise MimicError(f"hf:{path}: no config.json in this folder, so it is not a transformers model "
                         "(give the folder that holds config.json and the weights)")
    name = str(local) if local.is_dir() else path
    kwargs: dict[str, Any] = {"dtype": torch_dtype(dtype), "trust_remote_code": False}  # never code from a folder
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    if device_map:
        kwargs["device_map"] = device_map
    try:
        processor = load_processor(name)
        model = transformers.AutoModelForImageTextToText.from_pretrained(name, **kwargs)
    except (OSError, ValueError, ImportError) as e:
        if "trust_remote_code" in str(e):
            raise MimicError(f"hf:{path}: the model declares its own Python code (auto_map), which mimic never "
                             "runs; use a model whose architecture transformers ships") from None
        offline = " (offline mode is on: HF_HUB_OFFLINE=1)" if os.environ.get("HF_HUB_OFFLINE") == "1" else ""
        first = first_line(e)
        raise MimicError(f"hf:{path}: cannot load the model{offline}: {first}") from None
    return model, processor


def adapt(model: PreTrainedModel, *, adapter: str | None = None, mask: ImageBlockMask | None = None,
          folder: Path | None = None) -> tuple[PreTrainedModel, ImageBlockMask | None]:
    """Merge a PEFT adapter and attach the image-block mask: `mask` if given, else the one `mimic train`
    recorded in the adapter folder (or in `folder`, a full fine-tune), so a model is evaluated as trained."""
    trained_in = folder
    if adapter:
        trained_in = Path(adapter)
        model = merge_adapter(model, trained_in)
    if mask is None and trained_in is not None:
        trained = read_trained(trained_in)
        mask = trained.mask() if trained else None
    if mask is not None:
        mask.attach(model)
    return model, mask


def merge_adapter(model: PreTrainedModel, folder: Path) -> PreTrainedModel:
    """`model` with the PEFT adapter in `folder` merged. A broken or foreign adapter (bad config, torn weights,
    modules or shapes the base lacks) is one line naming the folder: peft and safetensors raise their own
    errors from deep inside, none of which says which folder to look at."""
    from peft import PeftModel
    from safetensors import SafetensorError

    config = folder / "adapter_config.json"
    if not config.is_file():
        raise MimicError(f"--adapter {folder}: not a PEFT adapter folder (no adapter_config.json)")
    if not isinstance(read_json(config), dict):
        raise MimicError(f"{config}: not a PEFT adapter config (expected a JSON object)")
    try:
        with warnings.catch_warnings():
            if not sys.warnoptions:  # peft calls a transformers API deprecated for library developers
                warnings.simplefilter("ignore", FutureWarning)
            return PeftModel.from_pretrained(model, str(folder)).merge_and_unload()
    except (SafetensorError, OSError, ValueError, RuntimeError, KeyError, TypeError) as e:
        first = first_line(e)
        trained = read_trained(folder)
        base = f" (trained on {trained.base_model})" if trained and trained.base_model else ""
        raise MimicError(f"--adapter {folder}: cannot apply it to this model{base}: {type(e).__name__}: "
                         f"{first[:300]}") from None


def check_adapter_base(spec: str, adapter: str | None, trained: TrainedSettings | None) -> None:
    """A `tiny:` model spec names its base exactly, so an adapter recorded for another tiny base is refused
    (its sizes would be rebuilt on the wrong family). `hf:` bases are not compared: one model has many
    spellings (hub id, local folder)."""
    if trained is None or not spec.startswith("tiny:") or not trained.base_model.startswith("tiny:"):
        return
    if trained.base_model != spec:
        raise MimicError(f"--adapter {adapter}: trained on --model {trained.base_model}, not {spec}")


def describe_mask(mask: ImageBlockMask | None) -> dict[str, Any] | None:
    """The mask's settings for run.json (None without a mask)."""
    if mask is None:
        return None
    layers = mask.layers
    return {"layers": list(layers) if isinstance(layers, tuple) else layers, "backend": mask.backend,
            "resolved": mask.resolved}  # what "auto" chose on the model's device, per phase
