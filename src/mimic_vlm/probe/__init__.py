"""Diagnostics of multi-image failure: attention by layer (`attention`), vision-token pooling (`pooling`),
controlled sweeps along one control (`sweep`), and the side-by-side packing control (`side_by_side`).

The one notion they share lives here: which images of a sample hold a target (the rest are distractors).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mimic_vlm.schema import Sample


def holds_target(objects: dict[str, int], targets: Sequence[str], vocabulary: dict[str, dict[str, Any]]) -> bool:
    """An image holds a target when it shows a target category, or a category of a target supercategory."""
    wanted = set(targets)
    return any(n > 0 and (c in wanted or vocabulary.get(c, {}).get("supercategory") in wanted)
               for c, n in objects.items())


def target_images(sample: Sample, vocabulary: dict[str, dict[str, Any]]) -> list[bool] | None:
    """Per image: does it hold a target? None when the sample carries no per-image objects."""
    if len(sample.image_objects) != len(sample.images):
        return None
    return [holds_target(o, sample.targets, vocabulary) for o in sample.image_objects]
