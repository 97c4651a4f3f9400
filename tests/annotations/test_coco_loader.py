"""COCO loader: exact agreement with pycocotools on real annotations, and one clear error per bad input."""

from __future__ import annotations

import hashlib
import shutil
from copy import deepcopy
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from pycocotools.coco import COCO

from mimic_vlm.annotations.coco import load_coco
from mimic_vlm.annotations.load import load_catalog
from mimic_vlm.errors import MimicError
from mimic_vlm.images import verify_image
from mimic_vlm.schema import file_sha256

SPLITS = ("train2017", "val2017")


def _expected(coco: COCO, min_area: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Counts and uncertain cells re-derived independently with pycocotools."""
    img_ids = [im["id"] for im in coco.dataset["images"]]
    cat_ids = [c["id"] for c in coco.dataset["categories"]]
    counts = np.zeros((len(img_ids), len(cat_ids)), dtype=int)
    uncertain = np.zeros(counts.shape, dtype=bool)
    for i, img in enumerate(img_ids):
        for j, cat in enumerate(cat_ids):
            anns = coco.loadAnns(coco.getAnnIds(imgIds=[img], catIds=[cat]))
            good = [a for a in anns if not a["iscrowd"] and a["area"] >= min_area]
            counts[i, j] = len(good)
            uncertain[i, j] = len(good) < len(anns)
    return counts, uncertain


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("min_area", [0.0, 1500.0])
def test_counts_match_pycocotools_on_real_coco(coco_sample: Path, split: str, min_area: float) -> None:
    ann = coco_sample / "annotations" / f"instances_{split}.json"
    coco = COCO(str(ann))
    cat = load_coco(ann, coco_sample / "images" / split, min_area=min_area)
    counts, uncertain = _expected(coco, min_area)
    np.testing.assert_array_equal(cat.counts, counts)
    np.testing.assert_array_equal(cat.uncertain, uncertain)
    assert cat.images == [im["file_name"] for im in coco.dataset["images"]]
    assert cat.categories == [c["name"] for c in coco.dataset["categories"]]
    assert cat.supercategories == [c["supercategory"] for c in coco.dataset["categories"]]
    assert cat.n_categories == 80 and cat.source == "coco" and cat.source_files == [ann]
    assert uncertain.any()  # real crowd regions (and, with the filter, small instances) are exercised
    if min_area:
        assert uncertain.sum() > _expected(coco)[1].sum()


def test_crowd_cells_follow_the_catalog_rules(coco_sample: Path) -> None:
    ann = coco_sample / "annotations" / "instances_train2017.json"
    raw = orjson.loads(ann.read_bytes())
    cat = load_coco(ann, None)
    rows = {im["id"]: i for i, im in enumerate(raw["images"])}
    cols = {c["id"]: j for j, c in enumerate(raw["categories"])}
    crowds = [(rows[a["image_id"]], cols[a["category_id"]]) for a in raw["annotations"] if a["iscrowd"]]
    assert crowds and all(cat.uncertain[i, j] and not cat.absent[i, j] for i, j in crowds)
    # a crowd of people next to single people: present for certain, count unknown
    assert any(cat.present[i, j] for i, j in crowds)


def test_synonyms_and_dispatch(coco_sample: Path) -> None:
    ann = coco_sample / "annotations" / "instances_val2017.json"
    cat = load_catalog("coco", ann, coco_sample / "images" / "val2017")
    assert "sofa" in cat.synonyms["couch"] and "television" in cat.synonyms["tv"]
    assert "motorbike" in cat.synonyms["motorcycle"] and "hair dryer" in cat.synonyms["hair drier"]
    owners: dict[str, str] = {}
    for c, syns in cat.synonyms.items():
        for s in syns:
            assert s not in cat.category_index and owners.setdefault(s, c) == c
    with pytest.raises(MimicError, match="unknown source 'lvis'"):
        load_catalog("lvis", ann, None)
    with pytest.raises(MimicError, match="needs an annotations file"):
        load_catalog("coco", None, None)
    with pytest.raises(MimicError, match="hierarchy: only the openimages source takes"):
        load_catalog("coco", ann, None, hierarchy=ann)
    assert load_catalog("coco", ann, None, hierarchy=None, class_descriptions=None).n_images == 6


# ---------------------------------------------------------------- bad input: one clear error, naming the place

def _doc() -> dict[str, Any]:
    return {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 10, "height": 10},
                   {"id": 2, "file_name": "b.jpg", "width": 10, "height": 10}],
        "annotations": [{"id": 10, "image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 2], "area": 4, "iscrowd": 0},
                        {"id": 11, "image_id": 2, "category_id": 2, "bbox": [1, 1, 3, 3], "area": 9, "iscrowd": 0}],
        "categories": [{"id": 1, "name": "Dog", "supercategory": "animal"},
                       {"id": 2, "name": "cat", "supercategory": "animal"}],
    }


def _write(tmp_path: Path, doc: Any) -> Path:
    path = tmp_path / "ann.json"
    path.write_bytes(doc if isinstance(doc, bytes) else orjson.dumps(doc))
    return path


DELETE = object()
A1 = ("annotations", 1)  # the second annotation (id 11)

# name -> (changes to the valid document: {path: new value or DELETE}, the error that must name the place)
BAD = {
    "no images key": ({("images",): DELETE}, "missing 'images' list"),
    "no images": ({("images",): []}, r"no images \(empty catalog\)"),
    "no categories": ({("categories",): []}, r"no categories \(empty catalog\)"),
    "no category_id": ({(*A1, "category_id"): DELETE}, r"annotations\[1\] \(id 11\) has no 'category_id'"),
    "unknown category": ({(*A1, "category_id"): 7},
                         r"annotations\[1\] \(id 11\) points at category 7, which no category defines"),
    "unknown image": ({(*A1, "image_id"): 99},
                      r"annotations\[1\] \(id 11\) points at image 99, which no image defines"),
    "negative bbox": ({(*A1, "bbox"): [1, -1, 3, 3]},
                      r"annotations\[1\] \(id 11\) has a negative or non-finite bbox \[1, -1, 3, 3\]"),
    "short bbox": ({(*A1, "bbox"): [1, 1, 3]}, r"annotations\[1\] \(id 11\) has a bad 'bbox': \[1, 1, 3\]"),
    "long and short bbox": ({(*A1, "bbox"): [1, 1, 3], ("annotations", 0, "bbox"): [0, 0, 2, 2, 5]},
                            r"annotations\[0\] \(id 10\) has a bad 'bbox': \[0, 0, 2, 2, 5\]"),
    "string bbox": ({(*A1, "bbox"): "1,1,3,3"}, r"annotations\[1\] \(id 11\) has a bad 'bbox'"),
    "negative area": ({(*A1, "area"): -2}, r"annotations\[1\] \(id 11\) has a negative or non-finite 'area'"),
    "duplicate image id": ({("images", 1, "id"): 1}, "duplicate image id 1"),
    "duplicate category id": ({("categories", 1, "id"): 1}, "duplicate category id 1"),
    "duplicate category name": ({("categories", 1, "name"): "dog"}, "duplicate category name 'dog'"),
    "no file name": ({("images", 1, "file_name"): DELETE}, r"images\[1\] \(id 2\) has no 'file_name' string"),
    "bad image id": ({("images", 1, "id"): None}, r"images\[1\] has a bad 'id': None"),
    "annotation not an object": ({A1: 5}, r"annotations\[1\] is not an object"),
    "not an object": ({(): [1, 2]}, "expected a COCO object"),
}


def _patched(changes: dict[tuple[Any, ...], Any]) -> Any:
    doc: Any = _doc()
    for path, value in changes.items():
        if not path:
            return value
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        if value is DELETE:
            del parent[path[-1]]
        else:
            parent[path[-1]] = value
    return doc


@pytest.mark.parametrize("case", BAD)
def test_bad_annotations_name_the_problem_and_place(tmp_path: Path, case: str) -> None:
    changes, message = BAD[case]
    path = _write(tmp_path, _patched(changes))
    with pytest.raises(MimicError, match=message) as e:
        load_coco(path, None)
    assert str(e.value).startswith(f"{path}: ") and "\n" not in str(e.value)


def test_invalid_json_missing_file_and_folder(tmp_path: Path) -> None:
    nan_box = orjson.dumps(_doc()).replace(b"[1,1,3,3]", b"[1,NaN,3,3]")
    with pytest.raises(MimicError, match=r"ann.json: invalid JSON \(.*line 1"):
        load_coco(_write(tmp_path, nan_box), None)
    with pytest.raises(MimicError, match="nope.json: file not found"):
        load_coco(tmp_path / "nope.json", None)
    with pytest.raises(MimicError, match="is a folder"):
        load_coco(tmp_path, None)


def test_valid_minimal_file_loads_with_lower_case_names_and_optional_fields(tmp_path: Path) -> None:
    d = _doc()
    for a in d["annotations"]:
        del a["iscrowd"], a["area"]  # optional: not crowd, area = box area
    cat = load_coco(_write(tmp_path, d), None, min_area=5)
    assert cat.categories == ["dog", "cat"]
    assert cat.counts.tolist() == [[0, 0], [0, 1]] and cat.uncertain.tolist() == [[True, False], [False, False]]


def test_images_without_annotations_are_certainly_empty(tmp_path: Path) -> None:
    d = _doc()
    d["annotations"] = []
    cat = load_coco(_write(tmp_path, d), None)
    assert cat.absent.all() and cat.counts.shape == (2, 2)


def test_saturated_counts_are_uncertain(tmp_path: Path) -> None:
    d = _doc()
    base = d["annotations"][0]
    d["annotations"] = [{**deepcopy(base), "id": k} for k in range(300)]
    d["annotations"] += [{**deepcopy(base), "id": 1000 + k, "image_id": 2} for k in range(255)]
    cat = load_coco(_write(tmp_path, d), None)
    assert cat.counts[:, 0].tolist() == [255, 255] and cat.uncertain[:, 0].tolist() == [True, False]


def test_missing_images_on_disk_are_counted_and_the_first_named(tmp_path: Path) -> None:
    path = _write(tmp_path, _doc())
    images = tmp_path / "images"
    images.mkdir()
    with pytest.raises(MimicError, match=r"images: 2 of 2 images are missing, first: a.jpg"):
        load_coco(path, images)
    (images / "a.jpg").write_bytes(b"x")
    with pytest.raises(MimicError, match=r"1 of 2 images are missing, first: b.jpg"):
        load_coco(path, images)
    assert load_coco(path, images, check_images=False).n_images == 2
    with pytest.raises(MimicError, match="images folder not found"):
        load_coco(path, tmp_path / "elsewhere")


def test_verify_image_and_file_hash(coco_sample: Path, tmp_path: Path) -> None:
    good = coco_sample / "images" / "val2017" / "000000444010.jpg"
    verify_image(good)
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(good.read_bytes()[:4000])
    for bad in (truncated, _write(tmp_path, _doc())):
        with pytest.raises(MimicError, match=f"{bad.name}: corrupt or unreadable image"):
            verify_image(bad)
    with pytest.raises(MimicError, match="image not found"):
        verify_image(tmp_path / "none.png")
    assert file_sha256(good) == hashlib.sha256(good.read_bytes()).hexdigest()
    shutil.copy(good, tmp_path / "copy.jpg")
    assert file_sha256(tmp_path / "copy.jpg") == file_sha256(good)
