"""Building and loading processors without torchvision (stack.md §1a): transformers v5 derives a processor's
parts from its `__init__` signature, and the stock multimodal processors declare a video processor that cannot be
built without torchvision. With torchvision installed, the stock `AutoProcessor` is used."""

from __future__ import annotations

import inspect
import types

import transformers
from transformers import ProcessorMixin

from mimic_vlm.errors import MimicError


def image_only_processor(base: type[ProcessorMixin]) -> type[ProcessorMixin]:
    """`base` without its video processor, which cannot be built without torchvision (stack.md §1a):
    transformers v5 derives a processor's parts from its `__init__` signature."""

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):  # noqa: N807
        base.__init__(self, image_processor=image_processor, tokenizer=tokenizer, video_processor=None,
                      chat_template=chat_template, **kwargs)

    signature = inspect.signature(base.__init__)  # keeps options such as image_seq_length in save_pretrained
    __init__.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[p for name, p in signature.parameters.items() if name != "video_processor"])
    name = base.__name__.replace("Processor", "ImageOnlyProcessor")
    return type(name, (base,), {"__init__": __init__, "__module__": __name__, "__qualname__": name})


def _longest_edge(size: object) -> int | None:
    return size.get("longest_edge") if isinstance(size, dict) else getattr(size, "longest_edge", None)


def set_image_size(processor: ProcessorMixin, longest_edge: int | None) -> None:
    """`--image-size`: the fixed size a family resizes every image to, where it has one (Idefics3 / SmolVLM:
    `size.longest_edge`, 2048 as released: up to 4x4 crops of 512 px plus a global view, 64 tokens each; 512
    keeps the global view only). Qwen-style models have no fixed size: `--max-pixels` caps each image."""
    if longest_edge is None:
        return
    ip = getattr(processor, "image_processor", None)
    # Qwen's `size.longest_edge` is its max_pixels, not an edge: only the crop-based families qualify
    if ip is None or _longest_edge(getattr(ip, "size", None)) is None or not hasattr(ip, "max_image_size"):
        raise MimicError(f"--image-size {longest_edge}: {type(ip).__name__} has no fixed longest-edge size "
                         "(use --max-pixels)")
    if longest_edge <= 0:
        raise MimicError(f"--image-size {longest_edge}: must be a positive number of pixels")
    ip.size = {"longest_edge": longest_edge}


def load_processor(path: str) -> ProcessorMixin:
    """The stock processor with torchvision; without it, the model's processor class minus its video part,
    which then loads the PIL image processor."""
    if transformers.is_torchvision_available():
        return transformers.AutoProcessor.from_pretrained(path, trust_remote_code=False)
    from transformers.models.auto.processing_auto import PROCESSOR_MAPPING_NAMES

    model_type = transformers.AutoConfig.from_pretrained(path, trust_remote_code=False).model_type
    cls = getattr(transformers, PROCESSOR_MAPPING_NAMES.get(model_type) or "", None)
    if cls is None:
        raise MimicError(f"hf:{path}: no processor known for model type {model_type!r}")
    if "video_processor" in inspect.signature(cls.__init__).parameters:
        cls = image_only_processor(cls)
    processor = cls.from_pretrained(path, trust_remote_code=False)
    saved, _ = cls.get_processor_dict(path, trust_remote_code=False)
    options = {k: v for k, v in saved.items() if k in inspect.signature(cls.__init__).parameters
               and k not in ("image_processor", "tokenizer", "chat_template")}
    if options:  # from_pretrained passes only the options the __init__ code names: ours hides the base's
        processor = cls(processor.image_processor, processor.tokenizer, chat_template=processor.chat_template,
                        **options)
    if isinstance(processor, transformers.SmolVLMProcessor):  # its chat template reads these two fields
        processor.video_processor = types.SimpleNamespace(num_frames=None, fps=None)
    return processor
