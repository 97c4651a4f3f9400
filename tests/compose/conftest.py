"""Small synthetic catalogs with everyday names and many crowd cells, so every uncertainty rule is hit."""

from __future__ import annotations

import pytest

from mimic_vlm.compose.synthetic import synthetic_catalog

NAMES = ["person", "dog", "cat", "horse", "car", "bus", "bicycle", "knife", "fork", "cup", "chair", "couch"]


def dense_catalog(seed: int = 0, n_images: int = 400, crowd: float = 0.06):
    """400 images x 12 categories in 4 supercategories; frequent categories, 6% uncertain cells."""
    return synthetic_catalog(n_images=n_images, n_categories=len(NAMES), n_supercategories=5, seed=seed,
                             top=0.5, tail=(0.45, 0.08), mean_counts=(3.0, 1.8), crowd=crowd, names=NAMES)


@pytest.fixture(scope="session")
def catalog():
    return dense_catalog()
