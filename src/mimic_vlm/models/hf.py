"""Any transformers image-text-to-text model behind the `Model` protocol, batched without changing answers.

Batched greedy decoding with LEFT padding gives token-for-token the outputs of batch size 1 (tested on the
tiny models of several families, with different image counts per row): lmms-eval and VLMEvalKit default to
batch size 1 because their batching changed scores. Decoding is a clean `GenerationConfig` (greedy, no
repetition penalty or sampling settings inherited from the checkpoint), so a run is the official protocol.
"""

from __future__ import annotations

import inspect
import json
import os
import types
from pathlib import Path
from typing import Any

import torch
import transformers
from transformers import GenerationConfig, PreTrainedModel, ProcessorMixin

from mimic_vlm.errors import MimicError
from mimic_vlm.images import open_rgb
from mimic_vlm.models.base import Generation, Request, layout

TRAIN_SETTINGS = "mimic_train.json"
"""Written by `mimic train` into an adapter folder: the image-block mask the adapter was trained with."""
DTYPES = {"auto": "auto", "float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class HFModel:
    """A loaded transformers VLM + processor. `max_batch_size` is the user's `--batch-size`."""

    def __init__(self, model: PreTrainedModel, processor: ProcessorMixin, *, name: str, max_batch_size: int = 8,
                 max_pixels: int | None = None, settings: dict[str, Any] | None = None) -> None:
        self.model, self.processor, self.name = model.eval(), processor, name
        self.max_batch_size, self.max_pixels = max_batch_size, max_pixels
        self.settings = settings or {}
        self.tokenizer = processor.tokenizer
        self.tokenizer.padding_side = "left"  # right padding would put pads between the prompt and the answer
        if self.tokenizer.pad_token is None:  # some checkpoints ship none; batching needs one
            self.tokenizer.pad_token = self.tokenizer.eos_token
        gen = model.generation_config
        self.eos_ids = set(_as_list(gen.eos_token_id) or _as_list(self.tokenizer.eos_token_id))
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else gen.pad_token_id
        self.decoding = {"do_sample": False, "num_beams": 1, "eos_token_id": sorted(self.eos_ids),
                         "pad_token_id": pad, "bos_token_id": gen.bos_token_id}

    def describe(self) -> dict[str, Any]:
        """`runtime` (the device) does not change answers: a run may resume on another machine."""
        return {"kind": "hf", "model": self.name, "dtype": str(self.model.dtype).removeprefix("torch."),
                "max_pixels": self.max_pixels, "decoding": "greedy", **self.settings,
                "runtime": {"device": str(self.model.device)}}

    def conversation(self, request: Request) -> list[dict[str, Any]]:
        """Chat messages: images first then the text (the official protocol), or interleaved at `<image>`."""
        images = [open_rgb(p, self.max_pixels) for p in request.images]
        content = [{"type": "text", "text": part} if isinstance(part, str) else {"type": "image", "image": images[part]}
                   for part in layout(request.text, len(images), f"sample {request.id!r}")]
        messages = [{"role": "user", "content": content}]
        if request.system:
            messages.insert(0, {"role": "system", "content": [{"type": "text", "text": request.system}]})
        return messages

    @torch.inference_mode()
    def generate(self, requests: list[Request]) -> list[Generation]:
        inputs = self.processor.apply_chat_template(
            [self.conversation(r) for r in requests], add_generation_prompt=True, tokenize=True,
            return_dict=True, return_tensors="pt", processor_kwargs={"padding": True})
        inputs = inputs.to(self.model.device, self.model.dtype)
        longest = max(r.max_new_tokens for r in requests)  # shorter rows are cut: greedy prefixes agree
        config = GenerationConfig(**self.decoding, max_new_tokens=longest)
        out = self.model.generate(**inputs, generation_config=config)
        prompt_len = inputs["input_ids"].shape[1]
        results = []
        for row, request in enumerate(requests):
            tokens = self.cut(out[row, prompt_len:].tolist(), request.max_new_tokens)
            results.append(Generation(
                text=self.tokenizer.decode(tokens, skip_special_tokens=True).strip(),
                prompt_tokens=int(inputs["attention_mask"][row].sum()), output_tokens=len(tokens)))
        return results

    def cut(self, tokens: list[int], limit: int) -> list[int]:
        """The tokens batch size 1 would have produced: up to `limit`, through the first end-of-sequence."""
        tokens = tokens[:limit]
        end = next((i for i, t in enumerate(tokens) if t in self.eos_ids), None)
        return tokens if end is None else tokens[:end + 1]


def _as_list(ids: int | list[int] | None) -> list[int]:
    return [] if ids is None else [ids] if isinstance(ids, int) else list(ids)


def image_only_processor(base: type[ProcessorMixin]) -> type[ProcessorMixin]:
    """`base` without its video processor, which cannot be built without torchvision (stack.md §1a):
    transformers v5 derives a processor's parts from its `__init__` signature."""

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):  # noqa: N807
        base.__init__(self, image_processor=image_processor, tokenizer=tokenizer, video_processor=None,
                      chat_template=chat_template, **kwargs)

    signature = inspect.signature(base.__init__)  # keeps options such as image_seq_length in save_pretrained
    __init__.__signature__ = signature.replace(
        parameters=[p for name, p in signature.parameters.items() if name != "video_processor"])
    name = base.__name__.replace("Processor", "ImageOnlyProcessor")
    return type(name, (base,), {"__init__": __init__, "__module__": __name__, "__qualname__": name})


def load_processor(path: str) -> ProcessorMixin:
    """The stock processor with torchvision; without it, the model's processor class minus its video part,
    which then loads the PIL image processor."""
    if transformers.is_torchvision_available():
        return transformers.AutoProcessor.from_pretrained(path)
    from transformers.models.auto.processing_auto import PROCESSOR_MAPPING_NAMES

    model_type = transformers.AutoConfig.from_pretrained(path).model_type
    cls = getattr(transformers, PROCESSOR_MAPPING_NAMES.get(model_type) or "", None)
    if cls is None:
        raise MimicError(f"hf:{path}: no processor known for model type {model_type!r}")
    if "video_processor" in inspect.signature(cls.__init__).parameters:
        cls = image_only_processor(cls)
    processor = cls.from_pretrained(path)
    saved, _ = cls.get_processor_dict(path)
    options = {k: v for k, v in saved.items() if k in inspect.signature(cls.__init__).parameters
               and k not in ("image_processor", "tokenizer", "chat_template")}
    if options:  # from_pretrained passes only the options the __init__ code names: ours hides the base's
        processor = cls(processor.image_processor, processor.tokenizer, chat_template=processor.chat_template,
                        **options)
    if isinstance(processor, transformers.SmolVLMProcessor):  # its chat template reads these two fields
        processor.video_processor = types.SimpleNamespace(num_frames=None, fps=None)
    return processor


def torch_dtype(name: str) -> Any:
    """`--dtype` -> what transformers takes ("auto" keeps the checkpoint's dtype)."""
    if name not in DTYPES:
        raise MimicError(f"--dtype {name}: choose one of {', '.join(DTYPES)}")
    return DTYPES[name]


def default_device() -> str:
    """This process's GPU under `accelerate launch` / torchrun (LOCAL_RANK), else the first GPU or the CPU."""
    return f"cuda:{os.environ.get('LOCAL_RANK', '0')}" if torch.cuda.is_available() else "cpu"


def load_hf(path: str, *, dtype: str = "auto", device: str | None = None, device_map: str | None = None,
            attn_implementation: str | None = None, max_pixels: int | None = None, adapter: str | None = None,
            mask: Any = None, batch_size: int = 8) -> HFModel:
    """Load `path` (a local folder, or a hub id already in the local cache) with an optional PEFT adapter.

    An adapter folder (or a full fine-tune at `path`) holding `mimic_train.json` gets the image-block mask it
    was trained with, unless `mask` is given explicitly.
    """
    kwargs: dict[str, Any] = {"dtype": torch_dtype(dtype)}
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    if device_map:
        kwargs["device_map"] = device_map
    try:
        processor = load_processor(path)
        model = transformers.AutoModelForImageTextToText.from_pretrained(path, **kwargs)
    except OSError as e:
        offline = " (offline mode is on: HF_HUB_OFFLINE=1)" if os.environ.get("HF_HUB_OFFLINE") == "1" else ""
        raise MimicError(f"hf:{path}: cannot load the model{offline}: {str(e).splitlines()[0]}") from None
    if not device_map:
        model = model.to(device or default_device())
    model, mask = adapt(model, adapter=adapter, mask=mask, folder=Path(path))
    settings = {"attn_implementation": model.config._attn_implementation, "adapter": adapter,
                "mask": describe_mask(mask)}
    return HFModel(model, processor, name=path, max_batch_size=batch_size, max_pixels=max_pixels,
                   settings=settings)


def adapt(model: PreTrainedModel, *, adapter: str | None = None, mask: Any = None,
          folder: Path | None = None) -> tuple[PreTrainedModel, Any]:
    """Merge a PEFT adapter and attach the image-block mask: `mask` if given, else the one `mimic train`
    recorded in the adapter folder (or in `folder`, a full fine-tune), so a model is evaluated as trained."""
    trained_in = folder
    if adapter:
        from peft import PeftModel

        trained_in = Path(adapter)
        if not (trained_in / "adapter_config.json").is_file():
            raise MimicError(f"--adapter {adapter}: not a PEFT adapter folder (no adapter_config.json)")
        model = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    if mask is None and trained_in is not None and (trained_in / TRAIN_SETTINGS).is_file():
        mask = training_mask(trained_in / TRAIN_SETTINGS)
    if mask is not None:
        mask.attach(model)
    return model, mask


def training_mask(path: Path) -> Any:
    try:
        trained = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise MimicError(f"{path}: invalid JSON ({e})") from None
    from mimic_vlm.masking import mask_from_options

    return mask_from_options(trained.get("mask_layers"), trained.get("mask_backend") or "sdpa")


def describe_mask(mask: Any) -> dict[str, Any] | None:
    """The mask's settings for run.json (None without a mask)."""
    if mask is None:
        return None
    layers = getattr(mask, "layers", None)
    return {"layers": list(layers) if isinstance(layers, tuple) else layers, "backend": getattr(mask, "backend", None)}
