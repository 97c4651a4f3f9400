"""Tiny random-weight models built from the REAL configs of Qwen2-VL-2B-Instruct and SmolVLM-256M-Instruct,
saved beside the real tokenizer, chat template and processor files (../shared/data/checkpoints), so the
whole `hf:` path (loading, chat template, token layout, mask, collator, probe, training) runs on the files a
user's checkpoint folder holds. Only the sizes shrink: patch and merge sizes, image token ids and the full
vocabulary stay as released. Skipped where ../shared/data is absent.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import transformers as T
from PIL import Image

from mimic_vlm.files import write_json_atomic, write_jsonl_atomic
from mimic_vlm.schema import Sample

CHECKPOINTS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "checkpoints"
REAL = {"qwen2_vl": "Qwen__Qwen2-VL-2B-Instruct", "smolvlm": "HuggingFaceTB__SmolVLM-256M-Instruct"}
TEXT = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)


def shrink(cfg: T.PretrainedConfig) -> T.PretrainedConfig:
    """The real config with a 2-layer, 64-wide language model and a 1-layer, 32-wide vision tower."""
    text = cfg.text_config
    for k, v in TEXT.items():
        setattr(text, k, v)
    text.initializer_range = 0.5  # wide random weights: varied greedy outputs, not one token repeated
    if getattr(text, "layer_types", None):
        text.layer_types = text.layer_types[:TEXT["num_hidden_layers"]]
    if getattr(text, "max_window_layers", None):
        text.max_window_layers = TEXT["num_hidden_layers"]
    if getattr(text, "head_dim", None):
        text.head_dim = 16
    vision = cfg.vision_config
    if cfg.model_type == "qwen2_vl":  # M-RoPE sections sum to head_dim / 2 = 8
        text.rope_parameters = {**text.rope_parameters, "mrope_section": [2, 3, 3]}
        vision.depth, vision.embed_dim, vision.num_heads, vision.mlp_ratio = 1, 32, 2, 2
        vision.hidden_size = text.hidden_size  # the merger's output width
    else:
        vision.hidden_size, vision.intermediate_size = 32, 64
        vision.num_hidden_layers, vision.num_attention_heads = 1, 2
    return cfg


def build_from_real(name: str, dst: Path) -> Path:
    """Save a tiny random model of the real `name` folder at `dst`, with every real non-config file."""
    src = CHECKPOINTS / REAL[name]
    cfg = shrink(T.AutoConfig.from_pretrained(src))
    torch.manual_seed(0)
    model = T.AutoModelForImageTextToText.from_config(cfg)
    model.save_pretrained(dst)
    for f in src.iterdir():
        if f.name != "config.json":
            shutil.copy(f, dst / f.name)
    return dst


@pytest.fixture(scope="session", params=sorted(REAL))
def real_model(request, tmp_path_factory) -> Path:
    """A tiny model folder built from a real checkpoint's files (one per family)."""
    if not (CHECKPOINTS / REAL[request.param] / "config.json").is_file():
        pytest.skip(f"real checkpoint files not found at {CHECKPOINTS / REAL[request.param]}")
    return build_from_real(request.param, tmp_path_factory.mktemp(request.param) / "model")


def write_bench(root: Path, n: int = 3) -> Path:
    """Counting samples of 3, 2, 1 small PNGs (different sizes, so batching pads), with per-image objects."""
    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    names = []
    for i in range(3):
        names.append(f"images/{i}.png")
        Image.fromarray(rng.integers(0, 255, (56 + 28 * i, 84, 3), dtype=np.uint8)).save(root / names[-1])
    objects = [{"dog": 1}, {"cat": 2}, {"cat": 1}]
    samples = [Sample(id=f"counting-{k:03d}", task="counting", images=names[:3 - k % 3], question="How many dogs?",
                      answer=1, gt="1", targets=["dog"],
                      controls={"n_images": 3 - k % 3, "spread": 1, "distractors": 2 - k % 3, "concepts": 1},
                      source="toy", image_objects=objects[:3 - k % 3],
                      image_uncertain=[[] for _ in objects[:3 - k % 3]]).to_dict() for k in range(n)]
    write_jsonl_atomic(root / "samples.jsonl", samples)
    write_json_atomic(root / "manifest.json", {"vocabulary": {"dog": {"supercategory": "animal"}}})
    return root
