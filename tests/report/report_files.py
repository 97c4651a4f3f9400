"""Helpers of the report tests: a small bench with real images and a scripted model (answers fixed per
sample id, so the expected counts are known by construction)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from mimic_vlm.files import write_json_atomic, write_jsonl_atomic
from mimic_vlm.models.base import Generation, Request
from mimic_vlm.schema import Sample

VOCABULARY = {"dog": {"supercategory": "animal"}, "cat": {"supercategory": "animal"},
              "car": {"supercategory": "vehicle"}, "bus": {"supercategory": "vehicle"}}
OBJECTS = [{"dog": 1}, {"cat": 2}, {"dog": 2}, {"car": 1}]


class Scripted:
    """A model answering each sample id with a fixed text ("0" for ids it was not given)."""

    max_batch_size = 4

    def __init__(self, name: str, answers: dict[str, str], adapter: str | None = None) -> None:
        self.name, self.answers, self.adapter = name, answers, adapter

    def generate(self, requests: list[Request]) -> list[Generation]:
        return [Generation(self.answers.get(r.id, "0"), 10 * len(r.images), 1) for r in requests]

    def describe(self) -> dict[str, Any]:
        return {"kind": "scripted", "model": self.name, **({"adapter": self.adapter} if self.adapter else {})}


def write_test_bench(root: Path, n_counting: int = 10, n_listing: int = 2, seed: int = 0,
                     balance: str | None = None) -> Path:
    """Counting samples (answer 3; n_images 2 for the first 6, 4 after) and listing samples (dog, car)."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    names = []
    for i, color in enumerate([(200, 40, 40), (40, 200, 40), (40, 40, 200), (200, 200, 40)]):
        img = np.full((64, 80, 3), color, dtype=np.uint8) + rng.integers(0, 30, (64, 80, 3), dtype=np.uint8)
        Image.fromarray(img).save(root / f"images/img_{i}.png")
        names.append(f"images/img_{i}.png")
    samples = []
    for k in range(n_counting):
        n = 2 if k < 6 else 4
        samples.append(Sample(id=f"counting-{k:03d}", task="counting", images=names[:n],
                              question="How many dogs are there in total across all the images?", answer=3, gt="3",
                              targets=["dog"], controls={"n_images": n, "spread": 1 if n == 2 else 2,
                                                         **({"balance": balance} if balance else {})},
                              source="toy", image_objects=[dict(o) for o in OBJECTS[:n]],
                              image_uncertain=[[] for _ in range(n)]))
    for k in range(n_listing):
        samples.append(Sample(id=f"listing-{k:03d}", task="listing", images=names[2:4],
                              question="Which objects appear in these images?", answer=["car", "dog"],
                              gt="car, dog", targets=["car", "dog"], controls={"n_images": 2}, source="toy",
                              image_objects=[dict(o) for o in OBJECTS[2:4]], image_uncertain=[[], []]))
    write_jsonl_atomic(root / "samples.jsonl", [s.to_dict() for s in samples])
    write_json_atomic(root / "manifest.json", {"vocabulary": VOCABULARY, "seed": seed})
    return root


def right(ids: range, answer: str = "3", prefix: str = "counting") -> dict[str, str]:
    return {f"{prefix}-{k:03d}": answer for k in ids}
