"""OpenImages loader on the real class descriptions and hierarchy, with small box CSVs using real label ids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mimic_vlm.annotations.catalog import Catalog
from mimic_vlm.annotations.load import load_catalog
from mimic_vlm.annotations.openimages import (
    BOX_COLUMNS,
    OTHER,
    build_taxonomy,
    load_openimages,
    read_class_names,
    read_hierarchy,
)
from mimic_vlm.errors import MimicError

DESCRIPTIONS = "oidv7-class-descriptions-boxable.csv"
HIERARCHY = "bbox_labels_600_hierarchy.json"


@pytest.fixture(scope="module")
def label(openimages_meta: Path) -> dict[str, str]:
    """Display name -> real label id."""
    return {name: lab for lab, name in read_class_names(openimages_meta / DESCRIPTIONS).items()}


def _box(image: str, label: str, x0: float = 0.1, x1: float = 0.5, y0: float = 0.1, y1: float = 0.5,
         group: int = 0) -> str:
    return f"{image},xclick,{label},1,{x0},{x1},{y0},{y1},0,0,{group},0,0"


def _csv(tmp_path: Path, rows: list[str], header: str = ",".join(BOX_COLUMNS)) -> Path:
    path = tmp_path / "boxes.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def _load(meta: Path, boxes: Path, min_area: float = 0.0) -> Catalog:
    return load_openimages(boxes, meta / DESCRIPTIONS, meta / HIERARCHY, None, min_area=min_area)


def test_counts_uncertain_cells_and_supercategories(openimages_meta: Path, label: dict[str, str],
                                                    tmp_path: Path) -> None:
    boxes = _csv(tmp_path, [
        _box("img_b", label["Dog"]), _box("img_b", label["Dog"]), _box("img_b", label["Cat"]),
        _box("img_a", label["Man"]), _box("img_a", label["Man"]), _box("img_a", label["Woman"]),
        _box("img_a", label["Person"]),  # parent class: man/woman/boy/girl all become uncertain
        _box("img_c", label["Dog"], group=1),  # group-of: present, count unknown
        _box("img_c", label["Cat"], 0.1, 0.11, 0.1, 0.11),  # area 1e-4: dropped by min_area
        _box("img_c", label["Animal"]),  # any animal leaf may be here
        _box("img_d", label["Teddy bear"]), _box("img_d", label["Bicycle"]), _box("img_d", label["Bicycle wheel"]),
    ])
    cat = _load(openimages_meta, boxes, min_area=0.001)
    assert cat.images == ["img_a.jpg", "img_b.jpg", "img_c.jpg", "img_d.jpg"]  # sorted by ImageID
    ix = cat.category_index
    assert len(cat.categories) == 525 and "animal" not in ix and "person" not in ix and "car" not in ix
    nonzero = {(cat.images[i], cat.categories[j]): int(cat.counts[i, j]) for i, j in np.argwhere(cat.counts)}
    assert nonzero == {("img_a.jpg", "man"): 2, ("img_a.jpg", "woman"): 1, ("img_b.jpg", "dog"): 2,
                       ("img_b.jpg", "cat"): 1, ("img_d.jpg", "teddy bear"): 1, ("img_d.jpg", "bicycle"): 1,
                       ("img_d.jpg", "bicycle wheel"): 1}
    unc = {(cat.images[i], cat.categories[j]) for i, j in np.argwhere(cat.uncertain)}
    animals = _leaves_below(read_hierarchy(openimages_meta / HIERARCHY), label["Animal"], label)
    assert len(animals) == 96 and {"dog", "cat", "teddy bear", "lobster"} <= animals  # lobster: seafood too
    assert unc == ({("img_a.jpg", c) for c in ("man", "woman", "boy", "girl")} | {("img_c.jpg", c) for c in animals})
    assert cat.present[0, ix["man"]] and not cat.absent[0, ix["boy"]] and cat.absent[1, ix["boy"]]
    assert cat.supercategories[ix["dog"]] == "animal" and cat.supercategories[ix["man"]] == "person"
    assert "tv" in cat.synonyms["television"] and "monitor" not in cat.synonyms["television"]  # computer monitor
    # the size filter alone: the tiny cat counts without it
    small_only = _csv(tmp_path, [_box("img_c", label["Cat"], 0.1, 0.11, 0.1, 0.11)])
    assert _load(openimages_meta, small_only).counts[0, ix["cat"]] == 1
    filtered = _load(openimages_meta, small_only, min_area=0.001)
    assert filtered.counts[0, ix["cat"]] == 0 and filtered.uncertain[0].nonzero()[0].tolist() == [ix["cat"]]


def _leaves_below(root: dict, target: str, label: dict[str, str]) -> set[str]:
    """Independent re-derivation: display names of the Subcategory-leaves under `target`, Parts ignored."""
    name = {lab: n.lower() for n, lab in label.items()}
    found: set[str] = set()

    def walk(node: dict, inside: bool) -> None:
        inside = inside or node["LabelName"] == target
        subs = node.get("Subcategory", [])
        if inside and not subs and node["LabelName"] != target:
            found.add(name[node["LabelName"]])
        for child in subs:
            walk(child, inside)

    walk(root, False)
    return found


def test_hierarchy_facts(openimages_meta: Path, label: dict[str, str]) -> None:
    names = read_class_names(openimages_meta / DESCRIPTIONS)
    tax = build_taxonomy(read_hierarchy(openimages_meta / HIERARCHY), names)
    col = {lab: i for i, lab in enumerate(tax.labels)}
    # several parents: Teddy bear is a Toy and a Bear; the first top-level ancestor (Toy) names it
    assert tax.supercategories[col[label["Teddy bear"]]] == "toy"
    assert col[label["Teddy bear"]] in tax.leaves_of[label["Bear"]]
    assert col[label["Teddy bear"]] in tax.leaves_of[label["Animal"]]
    # Part children are not subcategories: a bicycle wheel is not a kind of bicycle; the body's parts stay apart
    assert tax.leaves_of[label["Bicycle"]] == [col[label["Bicycle"]]]
    assert tax.leaves_of[label["Human body"]] == [col[label["Human body"]]]
    assert tax.supercategories[col[label["Human eye"]]] == OTHER  # only directly under the root
    assert sorted(tax.names[c] for c in tax.leaves_of[label["Person"]]) == ["boy", "girl", "man", "woman"]
    assert len(set(tax.names)) == len(tax.names) and all(n == n.lower() for n in tax.names)


def test_shared_display_names_are_made_unique_deterministically() -> None:
    root = {"LabelName": "/root", "Subcategory": [
        {"LabelName": "/animal", "Subcategory": [{"LabelName": "/m/mouse1"}]},
        {"LabelName": "/device", "Subcategory": [{"LabelName": "/m/mouse2"}, {"LabelName": "/m/mouse3"}]},
    ]}
    names = {"/animal": "Animal", "/device": "Device", "/m/mouse1": "Mouse", "/m/mouse2": "Mouse", "/m/mouse3": "Mouse"}
    tax = build_taxonomy(root, names)
    assert tax.names == ["mouse", "mouse (device)", "mouse (/m/mouse3)"]
    assert tax.supercategories == ["animal", "device", "device"]


@pytest.mark.parametrize(("rows", "message"), [
    (["i1,xclick,/m/nope,1,0.1,0.2,0.1,0.2,0,0,0,0,0"], r"row 2: LabelName '/m/nope' is not a boxable class"),
    (["{ok}", "i1,xclick,{dog},1,0.1,1.2,0.1,0.2,0,0,0,0,0"], r"row 3: box coordinates must lie in \[0, 1\]"),
    (["i1,xclick,{dog},1,0.5,0.2,0.1,0.2,0,0,0,0,0"], r"row 2: .*XMin=0.5, XMax=0.2"),
    (["i1,xclick,{dog},1,nan,0.2,0.1,0.2,0,0,0,0,0"], r"row 2: .*XMin=nan"),
    (["i1,xclick,{dog},1,,0.2,0.1,0.2,0,0,0,0,0"], r"row 2: .*XMin=nan"),
    (["{ok}", "{ok}", "i1,xclick,{dog},1,abc,0.2,0.1,0.2,0,0,0,0,0"], r"row 4: bad XMin 'abc'"),
    (["{ok}", "i1,xclick,{dog},1,0.1"], r"row 3: expected 13 fields, got 5"),
    ([], r"no boxes \(empty catalog\)"),
])
def test_bad_box_rows_are_named(openimages_meta: Path, label: dict[str, str], tmp_path: Path,
                                rows: list[str], message: str) -> None:
    ok = _box("i0", label["Dog"])
    boxes = _csv(tmp_path, [r.format(ok=ok, dog=label["Dog"]) for r in rows])
    with pytest.raises(MimicError, match=message) as e:
        _load(openimages_meta, boxes)
    assert str(e.value).startswith(f"{boxes}: ")


def test_bad_files(openimages_meta: Path, label: dict[str, str], tmp_path: Path) -> None:
    good = _csv(tmp_path, [_box("i0", label["Dog"])])
    bad_header = tmp_path / "header.csv"
    bad_header.write_text("ImageID,LabelName,XMin,XMax,YMin,YMax\ni0,/m/0bt9lr,0,1,0,1\n")
    with pytest.raises(MimicError, match=r"header.csv: bad header, missing column\(s\) IsGroupOf"):
        _load(openimages_meta, bad_header)
    with pytest.raises(MimicError, match="nope.csv: file not found"):
        _load(openimages_meta, tmp_path / "nope.csv")
    descriptions = tmp_path / "desc.csv"
    descriptions.write_text("LabelName,DisplayName\n/m/0bt9lr,Dog\n/m/x\n")
    with pytest.raises(MimicError, match=r"desc.csv: line 3: expected 'LabelName,DisplayName'"):
        load_openimages(good, descriptions, openimages_meta / HIERARCHY)
    hierarchy = tmp_path / "h.json"
    hierarchy.write_text('{"LabelName": "/m/0bl9f", "Subcategory": [')
    with pytest.raises(MimicError, match=r"h.json: invalid JSON"):
        load_openimages(good, openimages_meta / DESCRIPTIONS, hierarchy)
    hierarchy.write_text('{"LabelName": "/m/0bl9f", "Subcategory": [{"Label": "/m/0bt9lr"}]}')
    with pytest.raises(MimicError, match=r"Subcategory\[0\]: node without a 'LabelName'"):
        load_openimages(good, openimages_meta / DESCRIPTIONS, hierarchy)
    images = tmp_path / "images"
    images.mkdir()
    with pytest.raises(MimicError, match=r"1 of 1 images are missing, first: i0.jpg"):
        load_openimages(good, openimages_meta / DESCRIPTIONS, openimages_meta / HIERARCHY, images)
    (images / "i0.jpg").write_bytes(b"")
    cat = load_catalog("openimages", good, images, class_descriptions=openimages_meta / DESCRIPTIONS,
                       hierarchy=openimages_meta / HIERARCHY)
    assert cat.source == "openimages" and cat.counts.sum() == 1 and cat.images_dir == images
    with pytest.raises(MimicError, match="needs the class_descriptions and hierarchy file"):
        load_catalog("openimages", good, images, class_descriptions=None)
