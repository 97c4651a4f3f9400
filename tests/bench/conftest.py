"""A small catalog backed by real PNG files, for writing benches."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from mimic_vlm.compose.synthetic import synthetic_catalog

NAMES = ["person", "dog", "cat", "horse", "car", "bus", "bicycle", "knife", "fork", "cup"]


@pytest.fixture
def png_catalog(tmp_path):
    """80 images (8x8 PNGs under tmp_path/src) x 10 categories with crowd cells."""
    src = tmp_path / "src"
    src.mkdir()
    catalog = synthetic_catalog(n_images=80, n_categories=len(NAMES), n_supercategories=4, seed=1, top=0.5,
                                tail=(0.45, 0.1), crowd=0.05, names=NAMES, images_dir=src)
    for i, name in enumerate(catalog.images):
        Image.fromarray(np.full((8, 8, 3), i, dtype=np.uint8)).save(src / name, format="PNG")
    return catalog
