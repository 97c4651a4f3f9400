"""`ImageBlockMask`: the paper's image-block attention as a drop-in for transformers VLMs.

Mechanism (no monkey-patched forwards, so it survives transformers upgrades):

- one attention function per backend is registered in transformers' `AttentionInterface`, with its mask
  function in `AttentionMaskInterface` (without it a custom name receives no causal/padding mask at all);
- it is set on the TEXT sub-config only, so the vision tower keeps its own attention;
- a forward pre-hook on the VLM's base model (the module that sees `input_ids`, whether called by the top
  model, by `generate`, or directly) computes the image block ids and passes them down as the forward kwarg
  `image_blocks`. Being a kwarg, it is captured by gradient checkpointing and seen again by the recompute;
- the attention function restricts only layers whose `module.layer_idx` is selected (vision-tower modules
  have no `layer_idx`) and only queries that are image tokens; the restricted mask is built once per forward
  and shared by all masked layers.

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
from mimic_vlm.masking import mask as rules
from mimic_vlm.masking.layout import image_block_ids

BACKENDS = ("sdpa", "eager", "flex")
STATE_ATTR = "_mimic_image_block_mask"


def parse_layers(spec: str | Iterable[int], num_layers: int) -> frozenset[int]:
    """`"12-23"`, `"3,5,8-9"`, `"second-half"`, `"all"`, or any iterable of ints -> validated layer indices."""
    if isinstance(spec, str):
        text = spec.strip().lower()
        if text == "all":
            return frozenset(range(num_layers))
        if text == "second-half":
            return frozenset(range(num_layers // 2, num_layers))
        layers: set[int] = set()
        for part in text.split(","):
            lo, _, hi = part.strip().partition("-")
            if not lo.isdigit() or (hi and not hi.isdigit()):
                raise MimicError(f"mask layers {spec!r}: expected 'A-B', 'A,B,C', 'second-half' or 'all'")
            layers.update(range(int(lo), int(hi or lo) + 1))
    else:
        layers = {int(i) for i in spec}
    bad = sorted(i for i in layers if not 0 <= i < num_layers)
    if bad or not layers:
        raise MimicError(f"mask layers {spec!r}: the text model has layers 0-{num_layers - 1}, got {bad or 'none'}")
    return frozenset(layers)


@dataclass(eq=False)
class ImageBlocks:
    """Per-forward carrier of the image layout: block ids (B, S), 2D padding mask, masked layers.

    It memoises the restricted mask it builds, so all masked layers of one forward (and the gradient
    checkpoint recompute, which receives the same object) share a single mask.
    """

    ids: torch.Tensor
    padding: torch.Tensor | None
    layers: frozenset[int]
    _built: dict = field(default_factory=dict, repr=False)

    def mask_for(self, base: Any, q_len: int, kv_len: int, build: Callable[[], Any]) -> Any:
        key = (id(base), q_len, kv_len)
        hit = self._built.get(key)
        if hit is None or hit[0] is not base:
            hit = self._built[key] = (base, build())
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


def _flex_attention(module, query, key, value, attention_mask, image_blocks=None, **kwargs):
    """Compiled FlexAttention with a block-sparse mask in masked layers; plain sdpa everywhere else."""
    from transformers.integrations.flex_attention import flex_attention_forward
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    q_len, kv_len = query.shape[2], key.shape[2]
    if image_blocks is None or not image_blocks.restricts(module, q_len):
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    blocks = image_blocks.mask_for(
        None, q_len, kv_len, lambda: rules.block_mask(image_blocks.ids, image_blocks.padding, q_len, kv_len))
    return flex_attention_forward(module, query, key, value, blocks, **kwargs)


ATTENTION = {"sdpa": _sdpa_attention, "eager": _eager_attention, "flex": _flex_attention}


def register(backend: str) -> str:
    """Register the backend's attention + mask function in transformers (idempotent); returns its name."""
    from transformers import AttentionInterface, AttentionMaskInterface
    from transformers.masking_utils import eager_mask, sdpa_mask

    name = f"mimic_image_block_{backend}"
    AttentionInterface.register(name, ATTENTION[backend])
    AttentionMaskInterface.register(name, eager_mask if backend == "eager" else sdpa_mask)
    return name


def unwrap(model: nn.Module) -> nn.Module:
    """The transformers model inside a PEFT wrapper (or the model itself)."""
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

    `layers`: "A-B" (inclusive), "A,B,C", "second-half", "all", or ints. `backend`: "sdpa" (default,
    training and inference), "eager" (additive float mask; returns attention weights), "flex" (compiled
    FlexAttention block-sparse mask; CPU: inference only, no backward).
    """

    def __init__(self, layers: str | Iterable[int] = "second-half", backend: str = "sdpa") -> None:
        if backend.startswith("flash"):
            raise MimicError(f"mask backend {backend!r}: flash-attention kernels ignore custom masks; "
                             "use sdpa, eager or flex")
        if backend not in BACKENDS:
            raise MimicError(f"mask backend {backend!r}: choose one of {', '.join(BACKENDS)}")
        self.layers = layers if isinstance(layers, str) else tuple(layers)
        self.backend = backend

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
        vlm.set_attn_implementation(_for_text(vlm, name))
        hook = _inject_image_blocks(vlm.config, text, name, layers)
        setattr(vlm, STATE_ATTR, _Attached(self, name, original,
                                           vlm.base_model.register_forward_pre_hook(hook, with_kwargs=True)))
        return model

    def detach(self, model: nn.Module) -> nn.Module:
        """Restore the original attention implementation exactly (outputs become bit-identical again)."""
        vlm = unwrap(model)
        state: _Attached | None = getattr(vlm, STATE_ATTR, None)
        if state is not None:
            state.handle.remove()
            vlm.set_attn_implementation(_for_text(vlm, state.original))
            delattr(vlm, STATE_ATTR)
        return model


def _for_text(vlm: nn.Module, name: str) -> str | dict[str, str]:
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


def mask_from_options(layers: str | None, backend: str = "sdpa") -> ImageBlockMask | None:
    """The mask asked for by `--mask-layers/--mask-backend` options (None when no layers are given)."""
    if layers is None or layers.strip().lower() in ("", "none", "off"):
        return None
    return ImageBlockMask(layers, backend)
