"""A hand-made counting bench (real PNGs, real per-image objects): the probe tests do not depend on the
generator, so they pin down the diagnostics alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mimic_vlm.schema import Sample, write_json_atomic, write_jsonl_atomic

OBJECTS = [{"dog": 2, "cat": 1}, {"cat": 3}, {"dog": 1}, {"car": 2}]


def make_bench(root: Path, n_samples: int = 2, size: int = 112) -> Path:
    """Counting samples over 4 images (dogs in images 0 and 2): targets and distractors are known."""
    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    names = []
    for i in range(len(OBJECTS)):
        name = f"images/img_{i}.png"
        Image.fromarray(rng.integers(0, 255, (size, size + 14 * i, 3), dtype=np.uint8)).save(root / name)
        names.append(name)
    samples = [Sample(id=f"counting-{k:06d}", task="counting", images=names, question="How many dogs are there?",
                      answer=3, gt="3", targets=["dog"], controls={"n_images": 4, "spread": 2, "distractors": 2,
                                                                    "concepts": 1},
                      source="toy", image_objects=[dict(o) for o in OBJECTS],
                      image_uncertain=[[] for _ in OBJECTS]).to_dict() for k in range(n_samples)]
    write_jsonl_atomic(root / "samples.jsonl", samples)
    write_json_atomic(root / "manifest.json", {"vocabulary": {
        "dog": {"supercategory": "animal"}, "cat": {"supercategory": "animal"}, "car": {"supercategory": "vehicle"}}})
    return root


@pytest.fixture
def bench_dir(tmp_path: Path) -> Path:
    return make_bench(tmp_path / "bench")
