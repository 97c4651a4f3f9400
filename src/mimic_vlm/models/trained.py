"""`mimic_train.json`: what `mimic train` records in its output folder, so that evaluation, diagnostics and
further training rebuild exactly the model that was trained (base, its build options, the image-block mask).

Written last by a training run (its presence marks a finished run), read wherever a trained folder is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mimic_vlm.errors import MimicError
from mimic_vlm.files import write_json_atomic
from mimic_vlm.masking import ImageBlockMask, mask_from_options
from mimic_vlm.schema import read_json

TRAIN_SETTINGS = "mimic_train.json"


@dataclass(frozen=True)
class TrainedSettings:
    base_model: str
    """The `--model` spec that was fine-tuned (`tiny:FAMILY` or `hf:PATH_OR_ID`); "" if not recorded."""
    method: str
    """lora | full-lm | full: an adapter folder (lora) or full weights; "" if not recorded."""
    base_kwargs: dict[str, Any] = field(default_factory=dict)
    """Build options of a `tiny:` base (sizes), so the same base is rebuilt."""
    mask_layers: str | None = None
    mask_backend: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    """Everything else the run recorded (data, steps, loss, versions, ...), kept as written."""

    def mask(self) -> ImageBlockMask | None:
        """The image-block mask the model was trained with (None without one)."""
        return mask_from_options(self.mask_layers, self.mask_backend or "sdpa")

    def to_dict(self) -> dict[str, Any]:
        return {"base_model": self.base_model, "method": self.method, "base_kwargs": self.base_kwargs,
                "mask_layers": self.mask_layers, "mask_backend": self.mask_backend, **self.details}

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = TRAIN_SETTINGS) -> TrainedSettings:
        if not isinstance(d, dict) or not all(isinstance(d.get(k, ""), str) for k in ("base_model", "method")):
            raise MimicError(f"{where}: not a mimic train record (an object with 'base_model' and 'method')")
        problem = _record_problem(d)
        if problem:
            raise MimicError(f"{where}: {problem}")
        known = ("base_model", "method", "base_kwargs", "mask_layers", "mask_backend")
        return cls(d.get("base_model", ""), d.get("method", ""), dict(d.get("base_kwargs") or {}),
                   d.get("mask_layers"), d.get("mask_backend"), {k: v for k, v in d.items() if k not in known})

    def write(self, folder: Path) -> None:
        write_json_atomic(Path(folder) / TRAIN_SETTINGS, self.to_dict())


def _record_problem(d: dict[str, Any]) -> str | None:
    """What is ill-typed in a record that evaluation and further training read (None when nothing): the base's
    sizes, the mask and the image resolution rebuild the model, so each must have the type it had when written."""
    kwargs = d.get("base_kwargs")
    if kwargs is not None and not (isinstance(kwargs, dict) and all(isinstance(k, str) for k in kwargs)):
        return f"'base_kwargs' must be an object of build options, not {kwargs!r}"[:200]
    for key in ("mask_layers", "mask_backend"):
        if not isinstance(d.get(key), (str, type(None))):
            return f"'{key}' must be a string or null, not {d.get(key)!r}"[:200]
    for key in ("max_pixels", "image_size"):
        value = d.get(key)
        if value is not None and (type(value) is not int or value < 1):
            return f"'{key}' must be a positive whole number or null, not {value!r}"[:200]
    return None


def trained_resolution(folder: Path | None, max_pixels: int | None,
                       image_size: int | None) -> tuple[int | None, int | None]:
    """`(max_pixels, image_size)`: the ones given, else those recorded by `mimic train` in `folder` (an adapter,
    or a full fine-tune): a model is evaluated at the image resolution it was trained at."""
    trained = read_trained(folder) if folder is not None else None
    if trained is None:
        return max_pixels, image_size
    return (trained.details.get("max_pixels") if max_pixels is None else max_pixels,
            trained.details.get("image_size") if image_size is None else image_size)


def read_trained(folder: Path) -> TrainedSettings | None:
    """The settings recorded in `folder`, or None when it is not a `mimic train` output."""
    path = Path(folder) / TRAIN_SETTINGS
    return TrainedSettings.from_dict(read_json(path), str(path)) if path.is_file() else None
