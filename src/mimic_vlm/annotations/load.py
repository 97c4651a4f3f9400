"""One entry point for every annotation source.

`load_catalog` dispatches on the source name to the loader modules.
"""

from __future__ import annotations

from pathlib import Path

from mimic_vlm.annotations.catalog import Catalog
from mimic_vlm.annotations.coco import load_coco
from mimic_vlm.annotations.openimages import load_openimages
from mimic_vlm.errors import MimicError

SOURCES = ("toy", "coco", "openimages")


def load_catalog(source: str, annotations: Path | None, images_dir: Path | None, min_area: float = 0.0,
                 check_images: bool = True, **openimages_paths: Path | None) -> Catalog:
    """The catalog of `source` (toy | coco | openimages).

    toy and coco read a COCO instances JSON (`annotations`); openimages reads the box CSV
    (`annotations`) plus `class_descriptions=` and `hierarchy=` given as keyword paths (None = not given).
    `min_area` is in px² for COCO / toy and a fraction of the image for OpenImages.
    """
    given: dict[str, Path] = {k: Path(v) for k, v in openimages_paths.items() if v is not None}
    if source not in SOURCES:
        raise MimicError(f"--source: unknown source {source!r}; known: {', '.join(SOURCES)}")
    if annotations is None:
        raise MimicError(f"--annotations: the {source} source needs an annotations file")
    if source == "toy" and images_dir is None:  # a toy world keeps its images beside its annotations
        images_dir = Path(annotations).parent / "images"
    if source in ("toy", "coco"):
        if given:
            raise MimicError(f"{', '.join(sorted(given))}: only the openimages source takes these files")
        return _named(load_coco(annotations, images_dir, min_area=min_area, check_images=check_images,
                                source=source), annotations)
    missing = {"class_descriptions", "hierarchy"} - given.keys()
    if missing:
        raise MimicError(f"openimages: the source needs the {' and '.join(sorted(missing))} file(s) too")
    return _named(load_openimages(annotations, given["class_descriptions"], given["hierarchy"],
                                  images_dir, min_area=min_area, check_images=check_images),
                  given["class_descriptions"])


def _named(catalog: Catalog, names_from: Path) -> Catalog:
    """`catalog` once its names are fit for questions (`Catalog.name_problem`), else one line naming the file."""
    problem = catalog.name_problem()
    if problem:
        raise MimicError(f"{names_from}: {problem}")
    return catalog
