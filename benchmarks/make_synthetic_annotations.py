"""Write COCO-scale and OpenImages-scale synthetic annotation files for the catalog benchmarks.

Full scale (the default) matches the real files the loaders must handle: COCO train2017 (118k images,
80 categories, ~860k instances with polygons, ~450 MB) and OpenImages V7 train boxes (1.7M images,
600 classes, 14.6M boxes). `--scale 0.05` writes a proportionally smaller set for a quick run.

    .venv/bin/python benchmarks/make_synthetic_annotations.py [--scale 1.0] [--only coco|openimages]

Files go to benchmarks/_data/ (git-ignored); the layout is printed at the end.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
from rich.console import Console
from rich.progress import Progress

DATA = Path(__file__).resolve().parent / "_data"
COCO_IMAGES, COCO_CATEGORIES, COCO_INSTANCES = 118_287, 80, 860_001
OI_IMAGES, OI_GROUPS, OI_LEAVES_PER_GROUP, OI_BOXES = 1_743_042, 20, 29, 14_610_229  # 20 + 20*29 = 600 classes


def coco_dir(scale: float) -> Path:
    return DATA / f"coco_s{scale:g}"


def openimages_dir(scale: float) -> Path:
    return DATA / f"openimages_s{scale:g}"


def _zipf(n: int, rng: np.random.Generator) -> np.ndarray:
    """A long-tailed category distribution, shuffled so the frequent ones are not the first ids."""
    p = 1.0 / np.arange(1, n + 1) ** 0.9
    return rng.permutation(p / p.sum())


def write_coco(scale: float, seed: int = 0) -> Path:
    """COCO instances JSON with realistic fields, polygons (~24 points) and ~1% crowd RLEs."""
    rng = np.random.default_rng(seed)
    n_img = max(1, round(COCO_IMAGES * scale))
    n_ann = max(1, round(COCO_INSTANCES * scale))
    widths = rng.choice([640, 480, 500, 427, 612], size=n_img)
    heights = rng.choice([480, 427, 640, 375, 500], size=n_img)
    image_ids = np.sort(rng.choice(600_000, size=n_img, replace=False)) + 1
    images = [{"license": int(k % 8) + 1, "file_name": f"{i:012d}.jpg",
               "coco_url": f"http://images.cocodataset.org/train2017/{i:012d}.jpg", "height": int(h), "width": int(w),
               "date_captured": "2013-11-14 16:28:13", "flickr_url": f"http://farm4.staticflickr.com/{i}.jpg", "id": int(i)}
              for k, (i, w, h) in enumerate(zip(image_ids, widths, heights, strict=True))]
    rows = np.sort(rng.integers(0, n_img, size=n_ann))
    cats = rng.choice(COCO_CATEGORIES, size=n_ann, p=_zipf(COCO_CATEGORIES, rng)) + 1
    w = np.round(rng.uniform(2, 300, n_ann), 2)
    h = np.round(rng.uniform(2, 300, n_ann), 2)
    x = np.round(rng.uniform(0, 1, n_ann) * np.maximum(widths[rows] - w, 0), 2)
    y = np.round(rng.uniform(0, 1, n_ann) * np.maximum(heights[rows] - h, 0), 2)
    crowd = rng.random(n_ann) < 0.01
    n_pts = rng.integers(8, 45, size=n_ann)
    ends = np.cumsum(2 * n_pts)
    coords = np.round(rng.uniform(0, 1, int(ends[-1])) * 400, 2)
    polygons = np.split(coords, ends[:-1])
    boxes = np.stack([x, y, w, h], axis=1).tolist()
    annotations = []
    with Progress(transient=True) as progress:
        task = progress.add_task("COCO annotations", total=n_ann)
        for k in range(n_ann):
            seg = ({"counts": rng.integers(1, 400, size=60).tolist(), "size": [int(heights[rows[k]]), int(widths[rows[k]])]}
                   if crowd[k] else [polygons[k]])
            annotations.append({"segmentation": seg, "area": round(float(w[k] * h[k]) * 0.6, 4),
                                "iscrowd": int(crowd[k]), "image_id": int(image_ids[rows[k]]), "bbox": boxes[k],
                                "category_id": int(cats[k]), "id": k + 1})
            if k % 20_000 == 0:
                progress.update(task, completed=k)
    supers = ["person", "vehicle", "outdoor", "animal", "accessory", "sports", "kitchen", "food", "furniture",
              "electronic", "appliance", "indoor"]
    categories = [{"supercategory": supers[c % len(supers)], "id": c + 1, "name": f"category {c + 1:02d}"}
                  for c in range(COCO_CATEGORIES)]
    doc = {"info": {"description": "synthetic COCO-scale benchmark file", "year": 2026},
           "licenses": [{"id": k, "name": f"license {k}", "url": ""} for k in range(1, 9)],
           "images": images, "annotations": annotations, "categories": categories}
    out = coco_dir(scale) / "instances.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY))
    return out


def write_openimages(scale: float, seed: int = 0) -> Path:
    """Box CSV (sorted by ImageID, as released), class descriptions and a 2-level hierarchy of 600 classes.

    ~5% of the boxes use a group (non-leaf) label and ~6% are group-of boxes, like the real file's mix.
    """
    rng = np.random.default_rng(seed)
    out = openimages_dir(scale)
    out.mkdir(parents=True, exist_ok=True)
    groups = [f"/m/g{g:02d}" for g in range(OI_GROUPS)]
    leaves = [[f"/m/c{g:02d}{j:02d}" for j in range(OI_LEAVES_PER_GROUP)] for g in range(OI_GROUPS)]
    hierarchy = {"LabelName": "/m/0bl9f", "Subcategory": [
        {"LabelName": grp, "Subcategory": [{"LabelName": leaf} for leaf in kids]}
        for grp, kids in zip(groups, leaves, strict=True)]}
    (out / "hierarchy.json").write_bytes(orjson.dumps(hierarchy, option=orjson.OPT_INDENT_2))
    labels = groups + [leaf for kids in leaves for leaf in kids]
    names = [f"group {g}" for g in range(OI_GROUPS)] + [f"thing {g}-{j}" for g in range(OI_GROUPS)
                                                         for j in range(OI_LEAVES_PER_GROUP)]
    _write_csv(pa.table({"LabelName": labels, "DisplayName": names}), out / "class-descriptions.csv")

    n_img = max(1, round(OI_IMAGES * scale))
    n_box = max(1, round(OI_BOXES * scale))
    image_ids = np.array([f"{v:016x}" for v in np.sort(rng.choice(2**62, size=n_img, replace=False))])
    rows = np.sort(rng.integers(0, n_img, size=n_box))
    p = _zipf(len(labels), rng)
    p[:OI_GROUPS] *= 0.05 / p[:OI_GROUPS].sum()
    p[OI_GROUPS:] *= 0.95 / p[OI_GROUPS:].sum()
    label_idx = rng.choice(len(labels), size=n_box, p=p)
    x = np.sort(rng.uniform(0, 1, (n_box, 2)), axis=1).round(6)
    y = np.sort(rng.uniform(0, 1, (n_box, 2)), axis=1).round(6)
    flags = {k: (rng.random(n_box) < q).astype(np.int8)
             for k, q in (("IsOccluded", 0.6), ("IsTruncated", 0.3), ("IsGroupOf", 0.06), ("IsDepiction", 0.05),
                          ("IsInside", 0.01))}
    table = pa.table({
        "ImageID": pa.DictionaryArray.from_arrays(pa.array(rows.astype(np.int32)), pa.array(image_ids)),
        "Source": pa.DictionaryArray.from_arrays(pa.array(np.zeros(n_box, np.int32)), pa.array(["xclick"])),
        "LabelName": pa.DictionaryArray.from_arrays(pa.array(label_idx.astype(np.int32)), pa.array(labels)),
        "Confidence": np.ones(n_box, np.int8), "XMin": x[:, 0], "XMax": x[:, 1], "YMin": y[:, 0], "YMax": y[:, 1],
        **flags})
    _write_csv(table, out / "boxes.csv")
    return out / "boxes.csv"


def _write_csv(table: pa.Table, path: Path) -> None:
    """Unquoted, as the released files are."""
    with open(path, "wb") as fh:
        fh.write((",".join(table.column_names) + "\n").encode())
        pacsv.write_csv(table, fh, write_options=pacsv.WriteOptions(include_header=False, quoting_style="none"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the real sizes (default 1.0)")
    parser.add_argument("--only", choices=("coco", "openimages"), help="write only one of the two")
    args = parser.parse_args()
    console = Console()
    for name, write in (("coco", write_coco), ("openimages", write_openimages)):
        if args.only in (None, name):
            path = write(args.scale)
            console.print(f"{name}: {path} ({path.stat().st_size / 1e6:.0f} MB)")


if __name__ == "__main__":
    main()
