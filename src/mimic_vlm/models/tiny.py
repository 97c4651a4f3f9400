"""Tiny random-weight VLMs of six families, built in code: no files, no network, no torchvision.

Tests, the demo and the masking proofs need real transformers models that run in milliseconds on a CPU.
Each family gets an offline byte-level tokenizer with the family's special tokens and a chat template, the
PIL image processor (torchvision-free), and an image-only processor subclass (the stock processors declare a
video processor, which cannot be built without torchvision). Weights are random but deterministic by `seed`.
"""

from __future__ import annotations

import types
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, cast

import torch
import transformers as T
from huggingface_hub.errors import StrictDataclassError
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

from mimic_vlm.errors import MimicError, first_line
from mimic_vlm.models.processors import image_only_processor

FAMILIES = ("qwen2_vl", "qwen2_5_vl", "llava_onevision", "idefics3", "smolvlm", "internvl")

HIDDEN, HEADS, KV_HEADS = 64, 4, 2
PAD, IM_START, IM_END = "<|endoftext|>", "<|im_start|>", "<|im_end|>"


def _byte_symbols() -> list[str]:
    """GPT-2's printable stand-ins for the 256 bytes, so every UTF-8 text encodes without merges."""
    bs = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for _, c in sorted(zip(bs, cs, strict=True))]


def word_merges(words: Sequence[str]) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Byte-level BPE vocabulary and merges under which each of `words` (bare and after a space) is one token.

    Why: a byte-level model must spell every answer letter by letter ("appple"); whole-word tokens for a
    small known vocabulary make prompts several times shorter and answers one token per word. Plain BPE
    training on the words themselves (most frequent pair first, ties by the pair), run until every word is
    one symbol: encoding a training word replays its merges, so each word is exactly one token.
    """
    symbols = _byte_symbols()
    vocab = {s: i for i, s in enumerate(symbols)}
    texts = sorted({t for w in words if w for t in (w, " " + w)})
    pieces = [[symbols[b] for b in t.encode()] for t in texts]
    merges: list[tuple[str, str]] = []
    while True:
        pairs = Counter(pair for p in pieces for pair in zip(p, p[1:], strict=False))
        if not pairs:
            return vocab, merges
        best = min(pairs, key=lambda pair: (-pairs[pair], pair))
        merges.append(best)
        vocab.setdefault(best[0] + best[1], len(vocab))
        pieces = [_merge(p, best) for p in pieces]


def _merge(piece: list[str], pair: tuple[str, str]) -> list[str]:
    """`piece` with every non-overlapping occurrence of `pair`, left to right, joined into one symbol."""
    out, i = [], 0
    while i < len(piece):
        if i + 1 < len(piece) and (piece[i], piece[i + 1]) == pair:
            out.append(piece[i] + piece[i + 1])
            i += 2
        else:
            out.append(piece[i])
            i += 1
    return out


def build_tokenizer(specials: list[str], *, eos: str, bos: str | None = None, chat_template: str,
                    extra: dict[str, str] | None = None, words: Sequence[str] = ()) -> T.PreTrainedTokenizerFast:
    """A byte-level tokenizer (256 byte tokens; merges only for `words`) plus the family's special tokens."""
    vocab, merges = word_merges(words)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in [PAD, *specials]])
    kw: dict[str, Any] = {"tokenizer_object": tok, "eos_token": eos, "pad_token": PAD}
    if bos:
        kw["bos_token"] = bos
    if extra:
        kw["extra_special_tokens"] = extra
    hf = T.PreTrainedTokenizerFast(**kw)
    hf.chat_template = chat_template
    return hf


def chat_template(image: str, *, turn: str = "<|im_start|>{{ m['role'] }}\n", eot: str = "<|im_end|>\n",
                  assistant: str = "<|im_start|>assistant\n", bos: str = "") -> str:
    """A Jinja chat template: `turn` opens each message `m`, `image` stands for each image item."""
    return (
        bos + "{% for m in messages %}" + turn + "{% if m['content'] is string %}{{ m['content'] }}{% else %}"
        "{% for c in m['content'] %}{% if c['type'] == 'image' %}" + image + "{% elif c['type'] == 'text' %}"
        "{{ c['text'] }}{% endif %}{% endfor %}{% endif %}" + eot + "{% endfor %}"
        "{% if add_generation_prompt %}" + assistant + "{% endif %}"
    )


Qwen2VLImageOnlyProcessor = image_only_processor(T.Qwen2VLProcessor)
Qwen2_5_VLImageOnlyProcessor = image_only_processor(T.Qwen2_5_VLProcessor)
LlavaOnevisionImageOnlyProcessor = image_only_processor(T.LlavaOnevisionProcessor)
SmolVLMImageOnlyProcessor = image_only_processor(T.SmolVLMProcessor)
InternVLImageOnlyProcessor = image_only_processor(T.InternVLProcessor)


def _text_config(tok: T.PreTrainedTokenizerFast, num_layers: int, **overrides: Any) -> dict[str, Any]:
    cfg = dict(vocab_size=len(tok), hidden_size=HIDDEN, intermediate_size=2 * HIDDEN, num_hidden_layers=num_layers,
               num_attention_heads=HEADS, num_key_value_heads=KV_HEADS, max_position_embeddings=32768,
               bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    return cfg | overrides


SMALL_VISION = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                    image_size=56, patch_size=14)


def _qwen(variant: str, num_layers: int, max_pixels: int = 224 * 224, words: Sequence[str] = (), **text: Any):
    """Qwen2-VL / Qwen2.5-VL: 64 image tokens for a 224 px image (patch 14, merge 2)."""
    tpl = chat_template("<|vision_start|><|image_pad|><|vision_end|>")
    tok = build_tokenizer([IM_START, IM_END, "<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"],
                          eos=IM_END, chat_template=tpl,
                          extra={"image_token": "<|image_pad|>", "video_token": "<|video_pad|>"}, words=words)
    ip = T.Qwen2VLImageProcessorPil(min_pixels=56 * 56, max_pixels=max_pixels, patch_size=14, merge_size=2,
                                    temporal_patch_size=2)
    tc = _text_config(tok, num_layers, **text)
    hd = tc["hidden_size"] // tc["num_attention_heads"]
    a = hd // 8
    b = (hd // 2 - a) // 2  # the M-RoPE sections must sum to head_dim / 2
    tc["rope_parameters"] = {"rope_type": "default", "mrope_section": [a, b, hd // 2 - a - b], "rope_theta": 10000.0}
    ids = cast(list[int], tok.convert_tokens_to_ids(["<|image_pad|>", "<|video_pad|>", "<|vision_start|>",
                                                     "<|vision_end|>"]))
    common: dict[str, Any] = dict(text_config=tc, image_token_id=ids[0], video_token_id=ids[1], vision_start_token_id=ids[2],
                  vision_end_token_id=ids[3])
    if variant == "qwen2_vl":
        cfg: T.PreTrainedConfig = T.Qwen2VLConfig(vision_config=dict(depth=2, embed_dim=32, hidden_size=tc["hidden_size"], num_heads=2,
                                                 mlp_ratio=2, patch_size=14, spatial_merge_size=2,
                                                 temporal_patch_size=2), **common)
        return T.Qwen2VLForConditionalGeneration, cfg, Qwen2VLImageOnlyProcessor(ip, tok, chat_template=tpl)
    cfg = T.Qwen2_5_VLConfig(vision_config=dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2,
                                                out_hidden_size=tc["hidden_size"], patch_size=14, spatial_merge_size=2,
                                                temporal_patch_size=2, window_size=56, fullatt_block_indexes=[1]),
                             **common)
    return T.Qwen2_5_VLForConditionalGeneration, cfg, Qwen2_5_VLImageOnlyProcessor(ip, tok, chat_template=tpl)


def _llava_onevision(num_layers: int, words: Sequence[str] = (), **text: Any):
    """LLaVA-OneVision: SigLIP 56 px / 14 -> 16 tokens + 1 newline per image in multi-image prompts."""
    tpl = chat_template("<image>\n")
    tok = build_tokenizer([IM_START, IM_END, "<image>", "<video>"], eos=IM_END, chat_template=tpl,
                          extra={"image_token": "<image>", "video_token": "<video>"}, words=words)
    pins = [[56, 56], [56, 112], [112, 56], [112, 112]]
    ip = T.LlavaOnevisionImageProcessorPil(size={"height": 56, "width": 56}, image_grid_pinpoints=pins)
    proc = LlavaOnevisionImageOnlyProcessor(ip, tok, chat_template=tpl, num_image_tokens=16,
                                            vision_feature_select_strategy="full",
                                            vision_aspect_ratio="anyres_max_9")
    cfg = T.LlavaOnevisionConfig(vision_config=dict(model_type="siglip_vision_model", **SMALL_VISION),
                                 text_config=dict(model_type="qwen2", **_text_config(tok, num_layers, **text)),
                                 image_token_index=tok.image_token_id, video_token_index=tok.video_token_id,
                                 vision_feature_select_strategy="full", vision_feature_layer=-1,
                                 image_grid_pinpoints=pins)
    return T.LlavaOnevisionForConditionalGeneration, cfg, proc


def _idefics(variant: str, num_layers: int, words: Sequence[str] = (), **text: Any):
    """Idefics3 / SmolVLM: each image = 2x2 crops + a global view, 4 tokens each (image_seq_len)."""
    tpl = chat_template("<image>", turn="{{ m['role'] | capitalize }}:", eot="<end_of_utterance>\n", assistant="Assistant:",
                        bos="<|im_start|>")
    rowcol = [f"<row_{i + 1}_col_{j + 1}>" for i in range(6) for j in range(6)]
    tok = build_tokenizer([IM_START, "<fake_token_around_image>", "<image>", "<end_of_utterance>", "<global-img>",
                           *rowcol], eos="<end_of_utterance>", bos=IM_START, chat_template=tpl,
                          extra={"image_token": "<image>", "fake_image_token": "<fake_token_around_image>",
                                 "global_image_token": "<global-img>", "end_of_utterance_token": "<end_of_utterance>"},
                          words=words)
    ip_cls, cfg_cls, model_cls = (
        (T.Idefics3ImageProcessorPil, T.Idefics3Config, T.Idefics3ForConditionalGeneration) if variant == "idefics3"
        else (T.SmolVLMImageProcessorPil, T.SmolVLMConfig, T.SmolVLMForConditionalGeneration))
    ip = ip_cls(size={"longest_edge": 112}, max_image_size={"longest_edge": 56}, do_image_splitting=True)
    if variant == "idefics3":
        proc: T.ProcessorMixin = T.Idefics3Processor(image_processor=ip, tokenizer=tok, image_seq_len=4, chat_template=tpl)
    else:
        proc = SmolVLMImageOnlyProcessor(ip, tok, chat_template=tpl, image_seq_len=4)
        proc.video_processor = types.SimpleNamespace(num_frames=None, fps=None)  # read by apply_chat_template
    cfg = cfg_cls(vision_config=dict(model_type=f"{variant}_vision", **SMALL_VISION),
                  text_config=dict(model_type="llama", **_text_config(tok, num_layers, **text)),
                  image_token_id=tok.image_token_id, scale_factor=2)  # 16 patches / 2^2 = 4 tokens per view
    return model_cls, cfg, proc


def _internvl(num_layers: int, words: Sequence[str] = (), **text: Any):
    """InternVL (transformers-native): `<img><IMG_CONTEXT>x4</img>` per tile, at most 2 tiles + thumbnail."""
    tpl = chat_template("<IMG_CONTEXT>\n")
    tok = build_tokenizer([IM_START, IM_END, "<img>", "</img>", "<IMG_CONTEXT>", "<video>"], eos=IM_END,
                          chat_template=tpl,
                          extra={"start_image_token": "<img>", "end_image_token": "</img>",
                                 "context_image_token": "<IMG_CONTEXT>", "video_token": "<video>"},
                          words=words)
    ip = T.GotOcr2ImageProcessorPil(size={"height": 56, "width": 56}, crop_to_patches=True, max_patches=2)
    proc = InternVLImageOnlyProcessor(ip, tok, chat_template=tpl, image_seq_length=4)
    cfg = T.InternVLConfig(vision_config=dict(model_type="internvl_vision", hidden_size=32, intermediate_size=64,
                                              num_hidden_layers=2, num_attention_heads=2, image_size=[56, 56],
                                              patch_size=[14, 14]),
                           text_config=dict(model_type="qwen2", **_text_config(tok, num_layers, **text)),
                           image_token_id=tok.context_image_token_id, image_seq_length=4, downsample_ratio=0.5)
    return T.InternVLForConditionalGeneration, cfg, proc


BUILDERS: dict[str, Callable[..., tuple]] = {
    "qwen2_vl": lambda n, **kw: _qwen("qwen2_vl", n, **kw),
    "qwen2_5_vl": lambda n, **kw: _qwen("qwen2_5_vl", n, **kw),
    "llava_onevision": _llava_onevision,
    "idefics3": lambda n, **kw: _idefics("idefics3", n, **kw),
    "smolvlm": lambda n, **kw: _idefics("smolvlm", n, **kw),
    "internvl": _internvl,
}


TEXT_OPTIONS = ("hidden_size", "intermediate_size", "num_attention_heads", "num_key_value_heads",
                "max_position_embeddings")
"""The text-config sizes `build` takes as keyword overrides (Qwen families also take `max_pixels`)."""


def known_options(family: str) -> tuple[str, ...]:
    """Every option `build(family, ...)` takes besides `attn_implementation` (what `--base-config` may hold)."""
    return ("num_layers", "seed", "vision", "words", *TEXT_OPTIONS,
            *(("max_pixels",) if family in ("qwen2_vl", "qwen2_5_vl") else ()))


def _whole(value: Any, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def options_problem(family: str, options: dict[str, Any]) -> str | None:
    """What is wrong with `build` options (None when nothing), checked before anything is built: a wrong size
    otherwise surfaces as a RuntimeError, ValueError or TypeError deep inside transformers or torch."""
    unknown = sorted(set(options) - set(known_options(family)))
    if unknown:
        return f"unknown option(s) {', '.join(map(repr, unknown))}; known: {', '.join(known_options(family))}"
    for key, value in options.items():
        if key in ("vision", "words"):
            continue
        least = 0 if key == "seed" else 1
        if not _whole(value, least):
            return f"{key!r} must be a whole number >= {least}, not {value!r}"
    hidden, heads = options.get("hidden_size", HIDDEN), options.get("num_attention_heads", HEADS)
    kv_heads = options.get("num_key_value_heads", KV_HEADS)
    if hidden % heads:
        return f"'hidden_size' {hidden} must be a multiple of 'num_attention_heads' {heads}"
    if heads % kv_heads:
        return f"'num_attention_heads' {heads} must be a multiple of 'num_key_value_heads' {kv_heads}"
    if "vision" in options and not isinstance(options["vision"], dict):
        return f"'vision' must be an object of vision-config fields, not {options['vision']!r}"
    words = options.get("words", ())
    if isinstance(words, str) or not isinstance(words, list | tuple) or not all(isinstance(w, str) for w in words):
        return f"words must be a list of strings, got {words!r}"
    return None


def _vision_problem(vc: T.PretrainedConfig, vision: dict[str, Any]) -> str | None:
    """A vision field the config lacks, or a value of another type than the field's default (sizes >= 1)."""
    for key, value in vision.items():
        if not hasattr(vc, key):
            return f"vision option {key!r} unknown to {type(vc).__name__}"
        default = getattr(vc, key)
        if isinstance(default, bool) or not isinstance(default, int | float):
            continue
        if isinstance(default, int) and not _whole(value, 1):
            return f"vision option {key!r} must be a whole number >= 1, not {value!r}"
        if isinstance(default, float) and (isinstance(value, bool) or not isinstance(value, int | float)):
            return f"vision option {key!r} must be a number, not {value!r}"
    return None


def build(family: str, *, attn_implementation: str | dict[str, str] = "sdpa", seed: int = 0, num_layers: int = 4,
          vision: dict[str, Any] | None = None, words: Sequence[str] = (),
          **overrides: Any) -> tuple[T.PreTrainedModel, T.ProcessorMixin]:
    """A tiny random-weight `(model, processor)` of `family`, in eval mode, identical for equal `seed`.

    `overrides` go to the text config (e.g. `hidden_size=128`, `num_attention_heads=8`); Qwen families also
    take `max_pixels` (per image, default 224*224 = 64 image tokens). `vision` overrides fields of the
    family's vision config (e.g. `{"depth": 3, "embed_dim": 64, "num_heads": 4}` for Qwen2-VL): a model
    trained from scratch may need a wider vision tower than the default one. `attn_implementation` may be
    a dict such as `{"text_config": "sdpa", "vision_config": "eager"}`. `words` become single tokens
    (`word_merges`); without them the tokenizer is purely byte-level. Bad options are a MimicError.
    """
    options = {"seed": seed, "num_layers": num_layers, "words": list(words) if isinstance(words, tuple) else words,
               **({"vision": vision} if vision is not None else {}), **overrides}
    model_cls, cfg, proc = configure(family, options)
    torch.manual_seed(seed)
    try:
        model = model_cls._from_config(cfg, attn_implementation=attn_implementation)
    except (ValueError, RuntimeError, TypeError) as e:  # sizes that fit no architecture (checked where we can)
        raise MimicError(f"tiny:{family}: cannot build a model of these sizes: {first_line(e)}") from None
    return model.eval(), proc


def configure(family: str, options: dict[str, Any], where: str | None = None) -> tuple[Any, Any, Any]:
    """`(model class, config, processor)` of `family` under `build` options, without any weights: cheap, so
    options are checked in full before a command writes anything. Problems name `where` (default tiny:FAMILY)."""
    where = where or f"tiny:{family}"
    if family not in BUILDERS:
        raise MimicError(f"tiny:{family}: unknown tiny model family; choose one of {', '.join(FAMILIES)}")
    problem = options_problem(family, options)
    if problem:
        raise MimicError(f"{where}: {problem}")
    text = {k: v for k, v in options.items() if k not in ("seed", "num_layers", "vision")}
    model_cls, cfg, proc = BUILDERS[family](options.get("num_layers", 4), **text)
    _override_vision(cfg, options.get("vision") or {}, where)
    return model_cls, cfg, proc


def _override_vision(cfg: T.PretrainedConfig, vision: dict[str, Any], where: str) -> None:
    """Set fields of `cfg.vision_config`; a field the family's vision config lacks, or a wrong value, is a
    MimicError naming `where`."""
    vc = cfg.vision_config
    problem = _vision_problem(vc, vision)
    if problem:
        raise MimicError(f"{where}: {problem}")
    for key, value in vision.items():
        try:
            setattr(vc, key, value)
        except (TypeError, ValueError, StrictDataclassError) as e:  # typed config fields check on assignment
            raise MimicError(f"{where}: vision option {key!r}: {first_line(e.__cause__ or e)}") from None


def tiny_spec_to_model(spec: str, **kwargs: Any) -> tuple[T.PreTrainedModel, T.ProcessorMixin]:
    """`tiny:FAMILY` (or just `FAMILY`) -> `build(FAMILY, **kwargs)`."""
    return build(spec.removeprefix("tiny:"), **kwargs)
