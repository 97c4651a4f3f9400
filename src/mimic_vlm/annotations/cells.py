"""From instance lists to the Catalog's count and uncertain matrices (pure, vectorised).

Why a sort and not `np.bincount`: an OpenImages-scale matrix has 10^9 cells, and a dense int64
histogram of it would need 8 GB; sorting the instance keys needs memory proportional to the instances.
"""

from __future__ import annotations

import numpy as np

from mimic_vlm.annotations.catalog import MAX_COUNT


def count_cells(n_images: int, n_categories: int, rows: np.ndarray, cols: np.ndarray,
                certain: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(counts uint8, uncertain bool), each (n_images, n_categories), from one entry per instance.

    An instance with `certain` False (crowd, group-of, under the size filter, a parent-class box) is not
    counted and makes its cell uncertain; a cell with more than MAX_COUNT instances saturates and is
    marked uncertain too.
    """
    keys = rows.astype(np.int64) * n_categories + cols
    counts = np.zeros(n_images * n_categories, dtype=np.uint8)
    uncertain = np.zeros(n_images * n_categories, dtype=bool)
    cells, n = np.unique(keys[certain], return_counts=True)
    counts[cells] = np.minimum(n, MAX_COUNT)
    uncertain[cells[n > MAX_COUNT]] = True
    uncertain[keys[~certain]] = True
    return counts.reshape(n_images, n_categories), uncertain.reshape(n_images, n_categories)
