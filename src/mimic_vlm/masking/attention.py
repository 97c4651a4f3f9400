"""`ImageBlockMask`: the paper's image-block attention as a drop-in for transformers VLMs.

Mechanism (no monkey-patched forwards, so it survives transformers upgrades):

- one attention function per backend is registered in transformers' `AttentionInterface`, with its mask
  function in `AttentionMaskInterface` (without it a custom name receives no causal/padding mask at all);
- it is set on the TEXT sub-config only, so the vision tower keeps its own attention;
- a forward pre-hook on the VLM's base model (the module that sees `input_ids`, whether called by the top
  model, by `generate`, or directly) computes the image block ids and passes them down as the forward kwarg
  `image_blocks`. Being a kwarg, it is captured by gradient checkpointing and seen again by the recompute;
- the attention function restricts only layers whose `module.layer_idx` is selected (vision-tower modules
  have no `layer_idx`) and only queries that are image tokens; what it builds from the layout (a dense mask,
  a BlockMask, the `blocks` grouping) is built once per forward and shared by all masked layers.

Backends: `blocks` (per-image causal SDPA calls + one masked call for the text queries: exact, no compile),
`sdpa` (one dense `[B, 1, L, L]` bool mask), `eager` (additive mask; returns attention weights), `flex`
(compiled FlexAttention, block-sparse), and `auto`, the fastest exact one for the device and phase (`AUTO`).

Semantics (as the official MIMIC code): an image-token query attends causally to the tokens of its own image
only; not to the system prompt, earlier text, framing tokens or the first token. Text queries, including
every generated token, keep full causal attention. Rows with fewer than two images are not restricted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import torch
from torch import nn

from mimic_vlm.errors import MimicError
from mimic_vlm.masking import blocks
from mimic_vlm.masking import mask as rules
from mimic_vlm.masking.layout import image_block_ids
from mimic_vlm.ranges import parse_int_list

BACKENDS = ("auto", "blocks", "sdpa", "eager", "flex")
STATE_ATTR = "_mimic_image_block_mask"
NAME_PREFIX = "mimic_image_block_"
"""Attention names registered with transformers: NAME_PREFIX + backend."""
PHASES = ("prefill", "training")
AUTO = {  # (device type, phase) -> the fastest exact backend there (benchmarks/bench_mask.py, BENCHMARKS.md)
    ("cpu", "prefill"): "blocks", ("cpu", "training"): "blocks",  # measured; flex has no CPU backward
    # not measured yet (benchmarks/gpu_mask.py): blocks is exact, compiles nothing and, in half precision,
    # runs every image in one varlen flash call; switch an entry to "flex" if gpu_mask.py shows it faster
    ("cuda", "prefill"): "blocks", ("cuda", "training"): "blocks",
}


def resolve_backend(backend: str, device: torch.device | str, phase: str) -> str:
    """The backend `auto` stands for on this device in this phase (any other backend is itself).

    Decode steps need no choice: a generated token is text, so no backend restricts it.
    """
    if backend != "auto":
        return backend
    return AUTO.get((torch.device(device).type, phase), "blocks")


def check_layers(spec: str | Iterable[int]) -> None:
    """The syntax of a layer spec, checked where it enters (the range needs the model: `parse_layers`)."""
    parse_layers(spec, None)


def parse_layers(spec: str | Iterable[int], num_layers: int | None) -> frozenset[int]:
    """`"12-23"`, `"3,5,8-9"`, `"second-half"`, `"all"`, or any iterable of ints -> validated layer indices.

    With `num_layers` None only the syntax is checked (the empty set stands for the keywords)."""
    if isinstance(spec, str):
        text = spec.strip().lower()
        if text in ("all", "second-half"):
            if num_layers is None:
                return frozenset()
            return frozenset(range(0 if text == "all" else num_layers // 2, num_layers))
        try:
            layers = set(parse_int_list(text)) if all(part.strip() for part in text.split(",")) else set()
        except ValueError:
            layers = set()
        if not layers or min(layers) < 0:
            raise MimicError(f"mask layers {spec!r}: expected 'A-B' (A <= B), 'A,B,C', 'second-half' or 'all'")
    else:
        try:
            layers = {int(i) for i in spec}
        except (TypeError, ValueError):
            raise MimicError(f"mask layers {spec!r}: expected layer numbers") from None
    if num_layers is None:
        if not layers:
            raise MimicError(f"mask layers {spec!r}: no layer given")
        return frozenset(layers)
    bad = sorted(i for i in layers if not 0 <= i < num_layers)
    if bad or not layers:
        raise MimicError(f"mask layers {spec!r}: the text model has layers 0-{num_layers - 1}, got {bad or 'none'}")
    return frozenset(layers)


@dataclass(eq=False)
class ImageBlocks:
    """Per-forward carrier of the image layout: block ids (B, S), 2D padding mask, masked layers.

    It memoises what it builds from them (a restricted mask, a BlockMask, the blocks backend's grouping), so
    all masked layers of one forward (and the gradient-checkpoint recompute, which receives the same object)
    share one; `builds` counts them.
    """

    ids: torch.Tensor
    padding: torch.Tensor | None
    layers: frozenset[int]
    _built: dict = field(default_factory=dict, repr=False)
    builds: int = 0

    def mask_for(self, base: Any, q_len: int, kv_len: int, build: Callable[[], Any], kind: str = "mask") -> Any:
        key = (kind, id(base), q_len, kv_len)
        hit = self._built.get(key)
        if hit is None or hit[0] is not base:
            hit = self._built[key] = (base, build())
            self.builds += 1
        return hit[1]

    def restricts(self, module: nn.Module, q_len: int) -> bool:
        """Whether this layer and these queries (the last `q_len` tokens) are restricted at all."""
        return getattr(module, "layer_idx", None) in self.layers and bool((self.ids[:, -q_len:] >= 0).any())


def _restricted(module, query, key, attention_mask, image_blocks: ImageBlocks | None, additive: bool):
    """The model's own dense mask, restricted by the image rule where this layer and these queries ask for it."""
    q_len, kv_len = query.shape[2], key.shape[2]
    if image_blocks is None or not image_blocks.restricts(module, q_len):
        return attention_mask
    restrict = partial(rules.restrict_additive, dtype=query.dtype) if additive else rules.restrict_bool
    return image_blocks.mask_for(attention_mask, q_len, kv_len,
                                 lambda: restrict(attention_mask, image_blocks.ids, q_len, kv_len))


def _sdpa_attention(module, query, key, value, attention_mask, image_blocks=None, **kwargs):
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    mask = _restricted(module, query, key, attention_mask, image_blocks, additive=False)
    return sdpa_attention_forward(module, query, key, value, mask, **kwargs)


def _eager_attention(module, query, key, value, attention_mask, image_blocks=None, **kwargs):
    """Eager adds the mask to the scores, so it gets an additive float mask (a bool one would be wrong)."""
    from transformers.models.llama.modeling_llama import eager_attention_forward

    mask = _restricted(module, query, key, attention_mask, image_blocks, additive=True)
    return eager_attention_forward(module, query, key, value, mask, **kwargs)


def _blocks_attention(module, query, key, value, attention_mask, image_blocks=None, **kwargs):
    """Per-image causal SDPA calls + one masked call for the text queries, in masked layers; sdpa elsewhere."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    q_len, kv_len = query.shape[2], key.shape[2]
    kwargs.pop("is_causal", None)
    if image_blocks is None or not image_blocks.restricts(module, q_len):
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    layout = image_blocks.mask_for(attention_mask, q_len, kv_len, kind="blocks",
                                   build=lambda: blocks.plan(image_blocks.ids, attention_mask, q_len, kv_len))
    return blocks.attend(module, query, key, value, layout, **kwargs)


_COMPILED_FLEX: list[Callable] = []


def _compiled_flex() -> Callable:
    """`flex_attention` compiled once per process, static shapes: one kernel per padded shape."""
    from torch.nn.attention.flex_attention import flex_attention

    if not _COMPILED_FLEX:
        _COMPILED_FLEX.append(torch.compile(flex_attention, dynamic=False))
    return _COMPILED_FLEX[0]


def _flex_attention(module, query, key, value, attention_mask, image_blocks=None, **kwargs):
    """Compiled FlexAttention with a block-sparse mask in masked layers; plain sdpa everywhere else.

    Called directly with GQA (transformers' wrapper repeats k/v for head counts that are not powers of two
    and adds a no-op score function), on q/k/v padded to whole tiles so that a new batch length compiles a
    static kernel for its tile-rounded shape instead of a dynamic one.
    """
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    q_len, kv_len = query.shape[2], key.shape[2]
    if image_blocks is None or not image_blocks.restricts(module, q_len):
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    if kwargs.get("dropout", 0.0) > 0:
        raise MimicError("mask backend 'flex': FlexAttention has no attention dropout; use blocks or sdpa, or "
                         "turn attention dropout off")
    if query.device.type == "cpu" and torch.is_grad_enabled() and query.requires_grad:
        raise MimicError("mask backend 'flex': compiled FlexAttention has no backward on CPU; train with "
                         "--mask-backend auto (or blocks)")
    tile = rules.flex_tile(query.device)
    kv_size = rules.padded_length(kv_len, tile)
    q_size = q_len + kv_size - kv_len  # the same padding at the end of queries and keys keeps them aligned
    mask = image_blocks.mask_for(None, q_len, kv_len, kind="flex", build=lambda: rules.block_mask(
        image_blocks.ids, image_blocks.padding, q_len, kv_len, tile=tile, pad_to=(q_size, kv_size)))
    q, k, v = (nn.functional.pad(x, (0, 0, 0, kv_size - kv_len)) for x in (query, key, value))
    out = _compiled_flex()(q, k, v, block_mask=mask, enable_gqa=True, scale=kwargs.get("scaling"))
    return out[:, :, :q_len].transpose(1, 2).contiguous(), None


CONCRETE = {"blocks": _blocks_attention, "sdpa": _sdpa_attention, "eager": _eager_attention,
            "flex": _flex_attention}


def _auto_attention(module, query, key, value, attention_mask, image_blocks=None, **kwargs):
    """The fastest exact backend for this device and phase (`AUTO`)."""
    phase = "training" if module.training and torch.is_grad_enabled() else "prefill"
    backend = CONCRETE[resolve_backend("auto", query.device, phase)]
    return backend(module, query, key, value, attention_mask, image_blocks=image_blocks, **kwargs)


ATTENTION = {"auto": _auto_attention, **CONCRETE}


def register(backend: str) -> str:
    """Register the backend's attention + mask function in transformers (idempotent); returns its name."""
    from transformers import AttentionInterface, AttentionMaskInterface
    from transformers.masking_utils import eager_mask, sdpa_mask

    name = NAME_PREFIX + backend
    AttentionInterface.register(name, ATTENTION[backend])
    AttentionMaskInterface.register(name, eager_mask if backend == "eager" else sdpa_mask)
    return name


def unwrap(model: nn.Module) -> Any:
    """The transformers model inside a PEFT wrapper (or the model itself): a PreTrainedModel, typed `Any`
    because torch types every attribute of a Module as Tensor | Module."""
    get_base_model = getattr(model, "get_base_model", None)
    return get_base_model() if callable(get_base_model) else model


@dataclass
class _Attached:
    mask: ImageBlockMask
    name: str
    original: str
    handle: Any


class ImageBlockMask:
    """Restrict image-token queries to their own image in the chosen text layers.

    `layers`: "A-B" (inclusive), "A,B,C", "second-half", "all", or ints (syntax checked here, the range at
    `attach`). `backend`: "auto" (default: the fastest exact backend for the device and phase, `AUTO`),
    "blocks" (per-image causal SDPA calls, training and inference, no compile), "sdpa" (one dense bool mask),
    "eager" (additive float mask; returns attention weights), "flex" (compiled FlexAttention block-sparse
    mask; CPU: inference only, no backward).
    """

    def __init__(self, layers: str | Iterable[int] = "second-half", backend: str = "auto") -> None:
        if backend.startswith("flash"):
            raise MimicError(f"mask backend {backend!r}: flash-attention kernels ignore custom masks; "
                             f"use {', '.join(BACKENDS)}")
        if backend not in BACKENDS:
            raise MimicError(f"mask backend {backend!r}: choose one of {', '.join(BACKENDS)}")
        check_layers(layers)
        self.layers = layers if isinstance(layers, str) else tuple(layers)
        self.backend = backend
        self.resolved: dict[str, str] | None = None  # per phase, once attached to a model on a device

    def __repr__(self) -> str:
        return f"ImageBlockMask(layers={self.layers!r}, backend={self.backend!r})"

    def attach(self, model: nn.Module) -> nn.Module:
        """Switch the text attention of `model` (a transformers VLM, possibly PEFT-wrapped) to the mask."""
        vlm = unwrap(model)
        state: _Attached | None = getattr(vlm, STATE_ATTR, None)
        if state is not None and state.mask is self:
            return model
        if state is not None:
            state.mask.detach(model)
        text = vlm.config.get_text_config()
        original = text._attn_implementation
        if original.startswith("flash"):
            raise MimicError(f"{type(vlm).__name__}: attention {original!r} ignores custom masks; load the model "
                             "with attn_implementation='sdpa' (or 'eager') to use the image-block mask")
        layers = parse_layers(self.layers, text.num_hidden_layers)
        name = register(self.backend)
        vlm.set_attn_implementation(text_attention(vlm, name))
        self.resolved = self.resolve(vlm.device)
        hook = _inject_image_blocks(vlm.config, text, name, layers)
        setattr(vlm, STATE_ATTR, _Attached(self, name, original,
                                           vlm.base_model.register_forward_pre_hook(hook, with_kwargs=True)))
        return model

    def resolve(self, device: torch.device | str) -> dict[str, str]:
        """The concrete backend per phase on `device` (what run settings record)."""
        return {phase: resolve_backend(self.backend, device, phase) for phase in PHASES}

    def detach(self, model: nn.Module) -> nn.Module:
        """Restore the original attention implementation exactly (outputs become bit-identical again)."""
        vlm = unwrap(model)
        state: _Attached | None = getattr(vlm, STATE_ATTR, None)
        if state is not None:
            state.handle.remove()
            vlm.set_attn_implementation(text_attention(vlm, state.original))
            delattr(vlm, STATE_ATTR)
        return model


def text_attention(vlm: Any, name: str) -> str | dict[str, str]:
    """The `set_attn_implementation` argument that changes only the text model."""
    return {"text_config": name} if "text_config" in vlm.config.sub_configs else name


def _inject_image_blocks(config: Any, text: Any, name: str, layers: frozenset[int]):
    def hook(module: nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        if text._attn_implementation != name:
            raise MimicError(f"{type(module).__name__}: an image-block mask is attached but the text attention was "
                             f"changed to {text._attn_implementation!r}; call mask.detach(model) first")
        input_ids = kwargs.get("input_ids", args[0] if args else None)
        if input_ids is not None and kwargs.get("image_blocks") is None:
            padding = kwargs.get("attention_mask")
            kwargs["image_blocks"] = ImageBlocks(image_block_ids(input_ids, config),
                                                 padding if isinstance(padding, torch.Tensor) else None, layers)
        return args, kwargs

    return hook


def mask_from_options(layers: str | None, backend: str = "auto") -> ImageBlockMask | None:
    """The mask asked for by `--mask-layers/--mask-backend` options (None when no layers are given)."""
    if layers is None or layers.strip().lower() in ("", "none", "off"):
        return None
    return ImageBlockMask(layers, backend)
