"""`--model SPEC` -> a `Model`. One registry of builders keyed by the spec's kind (the part before `:`); what
each kind can do is its record in `models/kinds.py`.

Options a kind does not use are ignored, so one command line serves every kind:
`hf:PATH_OR_ID`, `tiny:FAMILY`, `toy:NAME` (a trained model shipped in the package, see
`models/weights/`), `openai:MODEL@BASE_URL`, `chance`, `prior`, `single-image`, `oracle`.
Heavy imports (torch, transformers) happen only for the kinds that need them: baselines start instantly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mimic_vlm.errors import MimicError
from mimic_vlm.models.base import BenchView, Model
from mimic_vlm.models.kinds import KINDS, WEIGHTS, ModelKind, check_spec, require, toy_folder

if TYPE_CHECKING:  # torch is imported only by the kinds that need it: baselines start instantly
    from mimic_vlm.masking import ImageBlockMask


@dataclass(frozen=True)
class ModelOptions:
    """Everything a `--model` may be built with; each kind reads the options it uses and ignores the rest."""

    bench: BenchView | None = None
    batch_size: int | None = None
    dtype: str = "auto"
    device: str | None = None
    device_map: str | None = None
    attn_implementation: str | None = None
    max_pixels: int | None = None
    image_size: int | None = None
    adapter: str | None = None
    mask: ImageBlockMask | None = None
    concurrency: int = 8
    timeout: float = 120.0
    retries: int = 4
    api_key_env: str | None = None
    seed: int = 0
    jpeg_quality: int | None = None
    max_batch_tokens: int | None = None


def _hf(path: str, o: ModelOptions) -> Model:
    from mimic_vlm.models.hf import load_hf

    local = Path(path).expanduser()
    return load_hf(str(local) if local.is_dir() else path, dtype=o.dtype, device=o.device,
                   device_map=o.device_map, attn_implementation=o.attn_implementation, max_pixels=o.max_pixels,
                   image_size=o.image_size, adapter=o.adapter, mask=o.mask, batch_size=_rows(o),
                   max_batch_tokens=o.max_batch_tokens)


def _rows(o: ModelOptions) -> int:
    """Requests handed to an hf model at once: `--batch-size`, else 8, or 64 under a token budget (the model
    splits them into groups that fit it)."""
    return o.batch_size or (64 if o.max_batch_tokens else 8)


def _tiny(family: str, o: ModelOptions) -> Model:
    from pathlib import Path

    from mimic_vlm.models.hf import HFModel
    from mimic_vlm.models.load import load_vlm
    from mimic_vlm.models.trained import trained_resolution

    loaded = load_vlm(f"tiny:{family}", dtype=o.dtype, device=o.device, attn_implementation=o.attn_implementation,
                      adapter=o.adapter, mask=o.mask)
    settings = {"kind": "tiny", **loaded.settings, "attn_implementation": o.attn_implementation or "sdpa"}
    max_pixels, image_size = trained_resolution(Path(o.adapter) if o.adapter else None, o.max_pixels, o.image_size)
    return HFModel(loaded.model, loaded.processor, name=f"tiny:{family}", max_batch_size=_rows(o),
                   max_pixels=max_pixels, image_size=image_size, settings=settings,
                   max_batch_tokens=o.max_batch_tokens)


def _toy(name: str, o: ModelOptions) -> Model:
    model = _hf(str(toy_folder(name)), o)
    model.name = f"toy:{name}"
    return model


def _openai(spec: str, o: ModelOptions) -> Model:
    from mimic_vlm.models.openai_api import load_openai

    return load_openai(spec, api_key_env=o.api_key_env, concurrency=o.concurrency, timeout=o.timeout,
                       retries=o.retries, max_pixels=o.max_pixels, jpeg_quality=o.jpeg_quality)


def _baseline(kind: str) -> Callable[[str, ModelOptions], Model]:
    def build(_: str, o: ModelOptions) -> Model:
        from mimic_vlm.models.baselines import load_baseline

        model = load_baseline(kind, o.bench, seed=o.seed)
        if o.batch_size:
            model.max_batch_size = o.batch_size
        return model

    return build


BUILDERS: dict[str, Callable[[str, ModelOptions], Model]] = {
    "hf": _hf, "tiny": _tiny, "toy": _toy, "openai": _openai,
    **{kind: _baseline(kind) for kind in ("chance", "prior", "single-image", "oracle")},
}
"""kind -> builder(argument after `kind:`, options). Other packages may add kinds here."""


def register_kind(kind: ModelKind, builder: Callable[[str, ModelOptions], Model]) -> None:
    """Add a model kind: its record (what it can do) and how to build it."""
    KINDS[kind.name] = kind
    BUILDERS[kind.name] = builder


def load_model(spec: str, options: ModelOptions | None = None, **fields_: Any) -> Model:
    """Build the model a `--model` spec names, with `options` (or their fields as keywords; an unknown name is
    a MimicError, so a mistyped option never passes silently)."""
    kind, arg = check_spec(spec)
    unknown = set(fields_) - {f.name for f in fields(ModelOptions)}
    if unknown:
        raise MimicError(f"--model {spec}: unknown option(s) {sorted(unknown)}")
    o = replace(options or ModelOptions(), **fields_)
    if o.adapter:
        require(spec, "adapter", f"--adapter {o.adapter}")
    if not kind.needs_bench:  # a model gets only what it needs: the bench (and its answers) go to baselines
        o = replace(o, bench=None)
    return BUILDERS[kind.name](arg, o)


__all__ = ["KINDS", "WEIGHTS", "ModelKind", "ModelOptions", "check_spec", "load_model", "register_kind"]
