"""Builders of small files in the benchmarks' published layouts (shared by the tests here)."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path
from types import ModuleType

from datasets import Dataset, Features, Value
from PIL import Image as PILImage

from mimic_vlm.files import write_json_atomic, write_jsonl_atomic
from mimic_vlm.schema import Sample

S = Value("string")


def png(k: int, size: int = 6) -> PILImage.Image:
    return PILImage.new("RGB", (size, size), ((37 * k) % 256, (91 * k) % 256, (53 * k) % 256))


def png_bytes(k: int) -> bytes:
    buf = io.BytesIO()
    png(k).save(buf, format="PNG")
    return buf.getvalue()


def write_parquet(path: Path, rows: dict[str, list], features: Features) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Dataset.from_dict(rows, features=features).to_parquet(str(path))
    return path



def mimic_bench(root: Path) -> Path:
    """A small MIMIC-format bench: eight counting samples and two listing samples, with a vocabulary."""
    (root / "images").mkdir(parents=True)
    rows = []
    for i in range(10):
        png(i).save(root / "images" / f"{i}.png")
        task = "counting" if i < 8 else "listing"
        answer: int | list[str] = i % 3 if task == "counting" else ["cat", "dog"]
        rows.append(Sample(id=f"{task}-{i}", task=task, images=[f"images/{i}.png"],
                           question="How many dogs?" if task == "counting" else "Which animals are there?",
                           answer=answer, gt=str(answer) if task == "counting" else "cat, dog",
                           targets=["dog"] if task == "counting" else ["animal"], controls={"n_images": 1},
                           source="toy").to_dict())
    write_jsonl_atomic(root / "samples.jsonl", rows)
    write_json_atomic(root / "manifest.json", {"kind": "mimic", "vocabulary": {
        "cat": {"supercategory": "animal", "synonyms": ["kitten"]},
        "dog": {"supercategory": "animal", "synonyms": ["puppy"]}}})
    return root


def load_exported_utils(folder: Path) -> ModuleType:
    """The `utils.py` of an exported lmms-eval task folder, imported as lmms-eval imports it (by path)."""
    spec = importlib.util.spec_from_file_location("exported_utils", folder / "utils.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
