"""Long image stacks: every task composes and validates at 48-64 images; 64 is the limit and says so."""

from __future__ import annotations

import pytest

from mimic_vlm.bench.validate import check_sample
from mimic_vlm.compose.controls import MAX_IMAGES, Controls
from mimic_vlm.compose.generate import compose_bench
from mimic_vlm.errors import MimicError
from mimic_vlm.schema import TASKS


def test_every_task_composes_and_validates_at_64_images(catalog) -> None:
    members: dict[str, list[str]] = {}
    for c, info in catalog.vocabulary().items():
        members.setdefault(str(info["supercategory"]), []).append(c)
    samples = compose_bench(catalog, list(TASKS), 3, Controls.parse(n_images="48,64"), seed=3)
    assert {s.task for s in samples} == set(TASKS) and len(samples) == 12
    assert {len(s.images) for s in samples} <= {48, 64} and any(len(s.images) == 64 for s in samples)
    for s in samples:
        assert s.controls["n_images"] == len(s.images) == len(set(s.images))
        assert s.controls["spread"] + s.controls["distractors"] == len(s.images)
        assert check_sample(s, s.image_objects, s.image_uncertain, members) == []


def test_n_images_limit_is_64() -> None:
    assert MAX_IMAGES == 64
    assert Controls.parse(n_images="2-64").n_images[-1] == 64
    with pytest.raises(MimicError, match="--n-images 8-65: must lie within 1-64"):
        Controls.parse(n_images="8-65")
