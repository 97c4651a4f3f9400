"""The Catalog: what the generator needs to know about a source, in compact arrays.

Every source (toy world, COCO, OpenImages) is reduced to one image x category count matrix plus a
matrix of uncertain cells. A cell (i, c) is *uncertain* when image i has an annotation of c whose
count cannot be trusted: a COCO crowd region, an OpenImages group-of box, or an instance that the
user's `--min-area` filter dropped. Rules the composers follow:

- count of c in i is known       iff not uncertain[i, c]
- c is certainly present in i     iff counts[i, c] > 0
- c is certainly absent from i    iff counts[i, c] == 0 and not uncertain[i, c]
- presence of c in i is unknown   iff counts[i, c] == 0 and uncertain[i, c]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from mimic_vlm.terminal import control_character

MAX_COUNT = 255  # counts are uint8; a saturated cell is marked uncertain by the loaders


@dataclass(eq=False)
class Catalog:
    source: str
    images: list[str]
    """File name (or path relative to `images_dir`) of each image, row order of `counts`."""
    categories: list[str]
    """Unique display names, lower-case, as a person would say them (column order of `counts`)."""
    supercategories: list[str]
    """Supercategory of each category (parallel to `categories`)."""
    counts: np.ndarray
    """(n_images, n_categories) uint8: number of instances whose count is certain."""
    uncertain: np.ndarray
    """(n_images, n_categories) bool: see the module docstring."""
    images_dir: Path | None = None
    synonyms: dict[str, list[str]] = field(default_factory=dict)
    """Other names of a category (e.g. couch -> sofa), used by the answer parser."""
    source_files: list[Path] = field(default_factory=list)
    """Files the catalog was read from (hashed into the bench manifest)."""

    def __post_init__(self) -> None:
        n_img, n_cat = len(self.images), len(self.categories)
        if self.counts.shape != (n_img, n_cat) or self.uncertain.shape != (n_img, n_cat):
            raise ValueError(f"catalog arrays must be {(n_img, n_cat)}, got {self.counts.shape} / {self.uncertain.shape}")
        if len(self.supercategories) != n_cat:
            raise ValueError("supercategories must be parallel to categories")
        if len(set(self.categories)) != n_cat:
            raise ValueError("category names must be unique")

    def name_problem(self) -> str | None:
        """What is wrong with a category or supercategory name, None when nothing: each is read aloud in
        questions ("How many {name}s") and answers (names joined by ", "), so an empty or blank name, a
        control character or an edge space would make a question about nothing."""
        for kind, names in (("category", self.categories), ("supercategory", self.supercategories)):
            for name in names:
                bad = control_character(name)
                if not name.strip():
                    return f"{kind} name {name!r} is empty"
                if bad:
                    return f"{kind} name {name!r} holds the control character {bad}"
                if name != name.strip():
                    return f"{kind} name {name!r} starts or ends with a space"
        return None

    @property
    def n_images(self) -> int:
        return len(self.images)

    @property
    def n_categories(self) -> int:
        return len(self.categories)

    @cached_property
    def category_index(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.categories)}

    @cached_property
    def present(self) -> np.ndarray:
        """(n_images, n_categories) bool: certainly present."""
        return self.counts > 0

    @cached_property
    def absent(self) -> np.ndarray:
        """(n_images, n_categories) bool: certainly absent."""
        return (self.counts == 0) & ~self.uncertain

    @cached_property
    def supercategory_members(self) -> dict[str, list[int]]:
        """Supercategory name -> category indices, in category order."""
        out: dict[str, list[int]] = {}
        for i, s in enumerate(self.supercategories):
            out.setdefault(s, []).append(i)
        return out

    def image_path(self, i: int) -> Path:
        name = self.images[i]
        return Path(name) if self.images_dir is None else self.images_dir / name

    def vocabulary(self) -> dict[str, dict[str, object]]:
        """What a bench needs to parse answers without the catalog: name -> supercategory, synonyms."""
        return {c: {"supercategory": s, "synonyms": sorted(self.synonyms.get(c, []))}
                for c, s in zip(self.categories, self.supercategories, strict=True)}
