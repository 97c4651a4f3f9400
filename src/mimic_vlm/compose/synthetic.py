"""Synthetic catalogs shaped like real ones, for the composing benchmark and tests (no files needed).

COCO train2017 in numbers: 118,287 images, 80 categories in 12 supercategories, 'person' in ~54% of
images, the other categories on a long tail (~10% down to ~0.2%), ~7 instances per image, ~1% crowd
regions. `synthetic_catalog` draws independent presences with such frequencies, geometric counts and
crowd cells (a third of them crowd-only, i.e. presence unknown).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mimic_vlm.annotations.catalog import Catalog


def synthetic_catalog(n_images: int = 118_287, n_categories: int = 80, n_supercategories: int = 12,
                      seed: int = 0, top: float = 0.54, tail: tuple[float, float] = (0.10, 0.002),
                      mean_counts: tuple[float, float] = (4.0, 1.8), crowd: float = 0.01,
                      names: list[str] | None = None, images_dir: Path | None = None) -> Catalog:
    """A COCO-shaped catalog: category 0 at frequency `top`, the rest log-spaced over `tail`."""
    rng = np.random.default_rng(seed)
    freq = np.concatenate([[top], np.geomspace(tail[0], tail[1], n_categories - 1)])
    present = rng.random((n_images, n_categories)) < freq
    mean = np.concatenate([[mean_counts[0]], np.full(n_categories - 1, mean_counts[1])])
    counts = np.where(present, rng.geometric(1 / mean, (n_images, n_categories)), 0).clip(0, 60).astype(np.uint8)
    uncertain = present & (rng.random((n_images, n_categories)) < crowd)
    counts[uncertain & (rng.random((n_images, n_categories)) < 1 / 3)] = 0
    names = names or ["person"] + [f"thing {c}" for c in range(1, n_categories)]
    supers = [names[0]] + [f"group {c % (n_supercategories - 1)}" for c in range(1, n_categories)]
    return Catalog("coco", [f"{i:012d}.jpg" for i in range(n_images)], names, supers, counts, uncertain,
                   images_dir=images_dir)
