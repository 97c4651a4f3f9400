"""One entry point for every annotation source, plus the file checks the loaders share.

`load_catalog` dispatches on the source name; the loaders stay independent modules that import the
helpers below (hence the late imports in `load_catalog`).
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from mimic_vlm.annotations.catalog import Catalog
from mimic_vlm.errors import MimicError

SOURCES = ("toy", "coco", "openimages")


def load_catalog(source: str, annotations: Path | None, images_dir: Path | None, min_area: float = 0.0,
                 check_images: bool = True, **openimages_paths: Path | None) -> Catalog:
    """The catalog of `source` (toy | coco | openimages).

    toy and coco read a COCO instances JSON (`annotations`); openimages reads the box CSV
    (`annotations`) plus `class_descriptions=` and `hierarchy=` given as keyword paths (None = not given).
    `min_area` is in px² for COCO / toy and a fraction of the image for OpenImages.
    """
    openimages_paths = {k: v for k, v in openimages_paths.items() if v is not None}
    if source not in SOURCES:
        raise MimicError(f"--source: unknown source {source!r}; known: {', '.join(SOURCES)}")
    if annotations is None:
        raise MimicError(f"--annotations: the {source} source needs an annotations file")
    if source in ("toy", "coco"):
        from mimic_vlm.annotations.coco import load_coco

        if openimages_paths:
            raise MimicError(f"{', '.join(sorted(openimages_paths))}: only the openimages source takes these files")
        return load_coco(annotations, images_dir, min_area=min_area, check_images=check_images, source=source)
    from mimic_vlm.annotations.openimages import load_openimages

    missing = {"class_descriptions", "hierarchy"} - openimages_paths.keys()
    if missing:
        raise MimicError(f"openimages: the source needs the {' and '.join(sorted(missing))} file(s) too")
    return load_openimages(annotations, openimages_paths["class_descriptions"], openimages_paths["hierarchy"],
                           images_dir, min_area=min_area, check_images=check_images)


def read_bytes(path: Path) -> bytes:
    """The file's bytes, or a MimicError naming the file."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise MimicError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise MimicError(f"{path}: is a folder, expected a file") from None
    except OSError as e:
        raise MimicError(f"{path}: cannot read ({e.strerror})") from None


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of parsed containers are built.

    Parsed JSON holds no reference cycles, yet every few hundred new dicts/lists trigger a collection
    that walks all of them again; pausing halves the parse time of a 450 MB COCO file.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def check_image_files(images_dir: Path, names: Sequence[str]) -> None:
    """Fail if any image is missing under `images_dir`; one directory listing instead of a stat per image."""
    if not Path(images_dir).is_dir():
        raise MimicError(f"{images_dir}: images folder not found")
    listed = set(os.listdir(images_dir))
    missing = [n for n in names if n not in listed and not (Path(images_dir) / n).is_file()]
    if missing:
        raise MimicError(f"{images_dir}: {len(missing)} of {len(names)} images are missing, "
                         f"first: {missing[0]}")


def verify_image(path: Path) -> None:
    """Open and decode an image fully; a missing, truncated or non-image file raises MimicError."""
    try:
        with Image.open(path) as im:
            im.load()
    except FileNotFoundError:
        raise MimicError(f"{path}: image not found") from None
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as e:
        raise MimicError(f"{path}: corrupt or unreadable image ({e})") from None


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, streamed (annotation files reach gigabytes); recorded in bench manifests."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
    except OSError as e:
        raise MimicError(f"{path}: cannot read ({e.strerror})") from None
    return h.hexdigest()
