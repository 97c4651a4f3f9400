"""`--model SPEC` -> a `Model`. One registry of builders keyed by the spec's kind (the part before `:`).

Options a kind does not use are ignored, so one command line serves every kind:
`hf:PATH_OR_ID`, `tiny:FAMILY`, `toy:NAME` (a trained model shipped in the package, see
`models/weights/`), `openai:MODEL@BASE_URL`, `chance`, `prior`, `single-image`, `oracle`.
Heavy imports (torch, transformers) happen only for the kinds that need them: baselines start instantly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mimic_vlm.bench.store import Bench
from mimic_vlm.errors import MimicError
from mimic_vlm.models.base import Model

if TYPE_CHECKING:  # torch is imported only by the kinds that need it: baselines start instantly
    from mimic_vlm.masking import ImageBlockMask


@dataclass
class ModelOptions:
    bench: Bench | None = None
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


WEIGHTS = Path(__file__).resolve().parent / "weights"
"""Trained models shipped inside the package: `toy:NAME` loads `WEIGHTS/NAME` like `hf:` does."""


def _toy(name: str, o: ModelOptions) -> Model:
    folder = WEIGHTS / name
    if not (folder / "config.json").is_file():
        known = sorted(p.name for p in WEIGHTS.iterdir() if (p / "config.json").is_file()) if WEIGHTS.is_dir() else []
        raise MimicError(f"toy:{name}: no packaged model of that name; known: {', '.join(known) or 'none'}")
    model = _hf(str(folder), o)
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


ADAPTABLE = ("hf", "tiny", "toy")
"""The kinds whose weights a PEFT `--adapter` can change; any other kind would silently ignore it."""


def check_spec(spec: str) -> tuple[str, str]:
    """(kind, argument) of a `--model` spec, checked without building anything (a command with several
    models checks them all before its first slow step)."""
    kind, _, arg = spec.partition(":")
    if kind not in BUILDERS:
        raise MimicError(f"--model {spec}: unknown model kind {kind!r}; known: "
                         "hf:PATH_OR_ID, tiny:FAMILY, toy:NAME, openai:MODEL@BASE_URL, " + ", ".join(
                             k for k in BUILDERS if k not in ("hf", "tiny", "toy", "openai")))
    if kind in ("hf", "tiny", "toy", "openai") and not arg:
        raise MimicError(f"--model {spec}: {kind}: needs an argument, e.g. {kind}:...")
    return kind, arg


def load_model(spec: str, **options: Any) -> Model:
    """Build the model a `--model` spec names; unknown kinds and options are a MimicError."""
    kind, arg = check_spec(spec)
    unknown = set(options) - {f.name for f in fields(ModelOptions)}
    if unknown:
        raise MimicError(f"--model {spec}: unknown option(s) {sorted(unknown)}")
    if options.get("adapter") and kind not in ADAPTABLE:
        raise MimicError(f"--adapter {options['adapter']}: only {', '.join(k + ':' for k in ADAPTABLE)} models "
                         f"take an adapter, not --model {spec}")
    return BUILDERS[kind](arg, ModelOptions(**options))
