"""OpenImages V7 boxes -> Catalog.

Categories are the *leaf* classes of the box hierarchy (boxable classes without `Subcategory`
children): their counts are exact, while a box of a parent class such as "Animal" or "Car" could be
any of its leaves. Rules (documented in the catalog docstring's terms):

- a box of a leaf class counts one instance, unless it is a group-of box (`IsGroupOf` not 0) or its
  normalised area (XMax-XMin)*(YMax-YMin) is below `min_area` (a fraction of the image, e.g. 0.001):
  then its cell is uncertain;
- a box of a non-leaf class C makes every descendant leaf of C uncertain in that image;
- `Part` children (a wheel of a bicycle) are not subcategories and are ignored for both rules;
- supercategory of a leaf = the display name of its first top-level ancestor (a child of the root
  "Entity") that has subcategories, in hierarchy order; a leaf with no such ancestor (e.g. "Coin",
  which hangs directly under the root) gets "other";
- display names are lower-cased; if two classes share one, the later in category order (hierarchy
  order) becomes "name (supercategory)", or "name (label id)" if that is still taken;
- images (`<ImageID>.jpg`) are in ImageID order; only images with at least one box exist for the catalog.

The box CSV (14.6M rows in V7 train) is read columnar with pyarrow: only 7 columns, ids and labels
dictionary-encoded, so memory stays proportional to the boxes, not to Python objects.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from mimic_vlm.annotations.catalog import Catalog
from mimic_vlm.annotations.cells import count_cells
from mimic_vlm.annotations.synonyms import synonyms_for
from mimic_vlm.errors import MimicError, cannot_read
from mimic_vlm.images import check_listed
from mimic_vlm.schema import read_bytes

BOX_COLUMNS = ("ImageID", "Source", "LabelName", "Confidence", "XMin", "XMax", "YMin", "YMax", "IsOccluded",
               "IsTruncated", "IsGroupOf", "IsDepiction", "IsInside")
COORDS = ("XMin", "XMax", "YMin", "YMax")
_LABELS = pa.dictionary(pa.int32(), pa.string())
_TYPES = {"ImageID": _LABELS, "LabelName": _LABELS, **dict.fromkeys(COORDS, pa.float64()), "IsGroupOf": pa.int8()}
OTHER = "other"


@dataclass(frozen=True)
class Taxonomy:
    """The leaf classes that become catalog categories, and which leaves each box label stands for."""

    labels: list[str]
    """Label id of each category (column order)."""
    names: list[str]
    supercategories: list[str]
    leaves_of: dict[str, list[int]]
    """Every boxable label -> the category columns it may be: itself for a leaf, descendants otherwise."""


def load_openimages(boxes_csv: Path, class_descriptions: Path, hierarchy: Path, images_dir: Path | None = None,
                    min_area: float = 0.0, check_images: bool = True) -> Catalog:
    """Read the OpenImages box CSV with its class descriptions and hierarchy; images are `<ImageID>.jpg`."""
    taxonomy = build_taxonomy(read_hierarchy(hierarchy), read_class_names(class_descriptions))
    table = read_boxes(boxes_csv)
    images, rows = _image_rows(table["ImageID"])
    labels, label_codes = _dictionary(table["LabelName"])
    unknown = [i for i, lab in enumerate(labels) if lab not in taxonomy.leaves_of]
    if unknown:
        row = int(np.flatnonzero(np.isin(label_codes, unknown))[0])
        raise MimicError(f"{boxes_csv}: row {row + 2}: LabelName {labels[unknown[0]]!r} is not a boxable class "
                         f"of {class_descriptions.name}")
    coords = np.stack([table[c].to_numpy() for c in COORDS], axis=1)
    _check_coords(coords, boxes_csv)
    area = (coords[:, 1] - coords[:, 0]) * (coords[:, 3] - coords[:, 2])
    group = pc.fill_null(table["IsGroupOf"], 1).to_numpy() != 0  # an empty flag cannot vouch for one instance
    del table, coords

    leaves = set(taxonomy.labels)
    is_leaf = np.array([lab in leaves for lab in labels])
    certain = is_leaf[label_codes] & ~group & (area >= min_area)
    box, cols = _fan_out(label_codes, [taxonomy.leaves_of[lab] for lab in labels])
    counts, uncertain = count_cells(len(images), len(taxonomy.labels), rows[box], cols, certain[box])

    if check_images and images_dir is not None:
        check_listed(images_dir, images)
    return Catalog(source="openimages", images=images, categories=taxonomy.names,
                   supercategories=taxonomy.supercategories, counts=counts, uncertain=uncertain,
                   images_dir=Path(images_dir) if images_dir else None,
                   synonyms=synonyms_for("openimages", taxonomy.names),
                   source_files=[Path(boxes_csv), Path(class_descriptions), Path(hierarchy)])


# ---------------------------------------------------------------- taxonomy (pure)

def build_taxonomy(root: dict[str, Any], names: dict[str, str]) -> Taxonomy:
    """Leaf categories with supercategories, from the hierarchy JSON and label -> display name."""
    children: dict[str, list[str]] = {}
    order: list[str] = []
    for label, sub in _edges(root):
        if label not in children:
            children[label] = []
            order.append(label)
        if sub is not None and sub not in children[label]:
            children[label].append(sub)
    order += [lab for lab in names if lab not in children]  # boxable classes the hierarchy omits

    def leaves(label: str, seen: tuple[str, ...] = ()) -> list[str]:
        if label in seen:
            raise MimicError(f"hierarchy: cycle through {label!r}")
        subs = children.get(label, [])
        if not subs:
            return [label]
        return list(dict.fromkeys(leaf for s in subs for leaf in leaves(s, (*seen, label))))

    leaf_labels = [lab for lab in order if lab in names and not children.get(lab)]
    supers: dict[str, str] = {}
    for top in children.get(root["LabelName"], []):
        if children.get(top):
            for leaf in leaves(top):
                supers.setdefault(leaf, names.get(top, top).lower())
    column = {lab: i for i, lab in enumerate(leaf_labels)}
    supercategories = [supers.get(lab, OTHER) for lab in leaf_labels]
    leaves_of = {lab: [column[leaf] for leaf in leaves(lab) if leaf in column] for lab in names}
    return Taxonomy(labels=leaf_labels, names=_unique_names(leaf_labels, names, supercategories),
                    supercategories=supercategories, leaves_of=leaves_of)


def _edges(node: Any, path: str = "hierarchy") -> Iterator[tuple[str, str | None]]:
    """(parent, subcategory) edges in hierarchy order; (label, None) for every node. Parts are not edges,
    but their own subtrees are walked (a part can have subcategories of its own)."""
    if not isinstance(node, dict) or not isinstance(node.get("LabelName"), str):
        raise MimicError(f"{path}: node without a 'LabelName'")
    label = node["LabelName"]
    yield label, None
    for i, child in enumerate(node.get("Subcategory", [])):
        yield from _edges(child, f"{path} > {label} Subcategory[{i}]")
        yield label, child["LabelName"]
    for i, child in enumerate(node.get("Part", [])):
        yield from _edges(child, f"{path} > {label} Part[{i}]")


def _unique_names(labels: list[str], names: dict[str, str], supercategories: list[str]) -> list[str]:
    out: list[str] = []
    taken: set[str] = set()
    for label, sup in zip(labels, supercategories, strict=True):
        name = names[label].lower().strip()
        for candidate in (name, f"{name} ({sup})", f"{name} ({label})"):
            if candidate not in taken:
                break
        out.append(candidate)
        taken.add(candidate)
    return out


# ---------------------------------------------------------------- files

def read_class_names(path: Path) -> dict[str, str]:
    """LabelName -> DisplayName from the class descriptions CSV (with or without its header)."""
    text = read_bytes(path).decode("utf-8-sig", errors="replace")  # a BOM is no part of the first label
    out: dict[str, str] = {}
    for line, row in enumerate(csv.reader(text.splitlines()), 1):
        if line == 1 and row == ["LabelName", "DisplayName"] or not row:
            continue
        if len(row) != 2 or not row[0] or not row[1].strip():
            raise MimicError(f"{path}: line {line}: expected 'LabelName,DisplayName', got {','.join(row)!r}")
        out[row[0]] = row[1]
    if not out:
        raise MimicError(f"{path}: no classes (empty catalog)")
    return out


def read_hierarchy(path: Path) -> dict[str, Any]:
    try:
        root = orjson.loads(read_bytes(path))
    except orjson.JSONDecodeError as e:
        raise MimicError(f"{path}: invalid JSON ({e})") from None
    if not isinstance(root, dict) or "LabelName" not in root:
        raise MimicError(f"{path}: not a label hierarchy (no root 'LabelName')")
    return root


def read_boxes(path: Path) -> pa.Table:
    """The 7 needed columns of the box CSV; header and values are checked, bad rows named by line."""
    header = _header(path)
    missing = [c for c in _TYPES if c not in header]
    if missing:
        raise MimicError(f"{path}: bad header, missing column(s) {', '.join(missing)} "
                         f"(expected {','.join(BOX_COLUMNS)})")
    try:
        table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
            include_columns=list(_TYPES), column_types=_TYPES, strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowKeyError) as e:
        raise MimicError(f"{path}: {_locate(path, header) or f'invalid CSV ({e})'}") from None
    if table.num_rows == 0:
        raise MimicError(f"{path}: no boxes (empty catalog)")
    return table


def _header(path: Path) -> list[str]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            return next(csv.reader(fh), [])
    except FileNotFoundError:
        raise MimicError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise cannot_read(e, path) from None


def _locate(path: Path, header: list[str]) -> str | None:
    """The first row pyarrow rejected, found by a slow re-read (only on error)."""
    numeric = {header.index(c): c for c in (*COORDS, "IsGroupOf")}
    with open(path, newline="", encoding="utf-8-sig") as fh:
        for line, row in enumerate(csv.reader(fh), 1):
            if line == 1:
                continue
            if len(row) != len(header):
                return f"row {line}: expected {len(header)} fields, got {len(row)}"
            for i, name in numeric.items():
                try:
                    float(row[i]) if name != "IsGroupOf" else int(row[i])
                except ValueError:
                    return f"row {line}: bad {name} {row[i]!r}"
    return None


def _dictionary(column: pa.ChunkedArray) -> tuple[list[str], np.ndarray]:
    """(distinct values, code of each row) of a dictionary-encoded column split over chunks."""
    arr = column.unify_dictionaries().combine_chunks()
    return arr.dictionary.to_pylist(), arr.indices.to_numpy(zero_copy_only=False)


def _image_rows(column: pa.ChunkedArray) -> tuple[list[str], np.ndarray]:
    """Image file names sorted by ImageID, and each box's row in that order."""
    ids, codes = _dictionary(column)
    order = np.asarray(pc.sort_indices(pa.array(ids)))
    rank = np.empty(len(ids), dtype=np.int32)
    rank[order] = np.arange(len(ids), dtype=np.int32)
    return [f"{ids[i]}.jpg" for i in order], rank[codes]


def _fan_out(codes: np.ndarray, fans: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """(box, column) pairs: each box with every leaf column its label may stand for (vectorised CSR)."""
    width = np.array([len(f) for f in fans], dtype=np.int64)
    flat = np.array([c for f in fans for c in f], dtype=np.int64)
    start = np.cumsum(width) - width
    n = width[codes]
    box = np.repeat(np.arange(len(codes)), n)
    within = np.arange(len(box)) - np.repeat(np.cumsum(n) - n, n)
    return box, flat[start[codes[box]] + within]


def _check_coords(coords: np.ndarray, path: Path) -> None:
    ok = np.isfinite(coords).all(axis=1) & ((coords >= 0) & (coords <= 1)).all(axis=1)
    ok &= (coords[:, 0] <= coords[:, 1]) & (coords[:, 2] <= coords[:, 3])
    bad = np.flatnonzero(~ok)
    if bad.size:
        i = int(bad[0])
        values = ", ".join(f"{c}={v}" for c, v in zip(COORDS, coords[i].tolist(), strict=True))
        raise MimicError(f"{path}: row {i + 2}: box coordinates must lie in [0, 1] with min <= max, got {values} "
                         f"({bad.size} such row(s))")
