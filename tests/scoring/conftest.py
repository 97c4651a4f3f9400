"""Fixtures of the scoring tests: a COCO-like vocabulary and a small bench written by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mimic_vlm.schema import Sample

VOCABULARY = {
    "dog": {"supercategory": "animal", "synonyms": ["puppy"]},
    "cat": {"supercategory": "animal", "synonyms": ["kitten"]},
    "sheep": {"supercategory": "animal", "synonyms": []},
    "mouse": {"supercategory": "electronic", "synonyms": []},
    "hot dog": {"supercategory": "food", "synonyms": []},
    "carrot": {"supercategory": "food", "synonyms": []},
    "car": {"supercategory": "vehicle", "synonyms": ["automobile"]},
    "bus": {"supercategory": "vehicle", "synonyms": []},
    "truck": {"supercategory": "vehicle", "synonyms": []},
    "bicycle": {"supercategory": "vehicle", "synonyms": ["bike"]},
    "motorcycle": {"supercategory": "vehicle", "synonyms": ["motorbike"]},
    "traffic light": {"supercategory": "outdoor", "synonyms": []},
    "person": {"supercategory": "person", "synonyms": ["man", "woman", "people"]},
    "knife": {"supercategory": "kitchen", "synonyms": []},
    "wine glass": {"supercategory": "kitchen", "synonyms": []},
    "skis": {"supercategory": "sports", "synonyms": []},
    "couch": {"supercategory": "furniture", "synonyms": ["sofa"]},
    "tv": {"supercategory": "electronic", "synonyms": ["television"]},
}


def _make_sample(task: str, answer, i: int = 0, targets=None, **controls) -> Sample:
    gt = str(answer) if not isinstance(answer, list) else ", ".join(answer)
    n = controls.pop("n_images", 2)
    return Sample(id=f"{task}-{i:03d}", task=task, images=[f"images/{j}.jpg" for j in range(n)],
                  question="How many dogs are there in total across all the images?", answer=answer, gt=gt,
                  targets=targets if targets is not None else (["dog"] if task == "counting" else []),
                  controls={"n_images": n, **controls}, source="toy")


@pytest.fixture
def vocab() -> dict:
    return VOCABULARY


@pytest.fixture
def make_sample():
    """make_sample(task, answer, i=0, targets=None, **controls) -> Sample (n_images defaults to 2)."""
    return _make_sample


@pytest.fixture
def write_bench(tmp_path: Path):
    """Write samples (+ the vocabulary) as a bench folder by hand; returns its path."""

    def write(samples: list[Sample], vocabulary: dict | None = None, name: str = "bench") -> Path:
        root = tmp_path / name
        root.mkdir()
        (root / "samples.jsonl").write_text("".join(json.dumps(s.to_dict()) + "\n" for s in samples))
        (root / "manifest.json").write_text(json.dumps({"vocabulary": VOCABULARY if vocabulary is None
                                                        else vocabulary}))
        return root

    return write
