"""The toy world: determinism, taxonomy shape, exact COCO format, counts that match the annotations."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import numpy as np
import orjson
import pytest
from PIL import Image
from pycocotools.coco import COCO

from mimic_vlm.annotations.load import load_catalog
from mimic_vlm.annotations.toyworld import PRESETS, SIZE, TAXONOMY, ensure_toy_world, render_toy_world
from mimic_vlm.cli import main
from mimic_vlm.errors import MimicError

N = 300
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # pycocotools


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_toy_world(tmp_path_factory.mktemp("toy") / "world", n_images=N, seed=0)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_byte_identical_files_and_another_seed_differs(tmp_path: Path) -> None:
    a = _files(render_toy_world(tmp_path / "a", 25, seed=7).parent)
    b = _files(render_toy_world(tmp_path / "b", 25, seed=7).parent)
    c = _files(render_toy_world(tmp_path / "c", 25, seed=8).parent)
    assert len(a) == 26 and a == b
    assert a["annotations.json"] != c["annotations.json"]
    assert sum(a[k] != c[k] for k in a) >= 20


def test_taxonomy_is_shaped_like_coco() -> None:
    names = [c.name for c in TAXONOMY]
    per_super = Counter(c.supercategory for c in TAXONOMY)
    assert len(names) == len(set(names)) >= 16
    assert len(per_super) >= 5 and min(per_super.values()) >= 2
    assert all(n == n.lower().strip() for n in names)


def test_annotations_are_valid_coco_instances(world: Path) -> None:
    raw = orjson.loads(world.read_bytes())
    assert set(raw) == {"info", "licenses", "images", "annotations", "categories"}
    coco = COCO(str(world))
    assert len(coco.getImgIds()) == N and len(coco.getCatIds()) == len(TAXONOMY)
    assert [c["name"] for c in raw["categories"]] == [c.name for c in TAXONOMY]
    assert len({a["id"] for a in raw["annotations"]}) == len(raw["annotations"])
    for img in raw["images"]:
        assert img["width"] == img["height"] == SIZE
        assert (world.parent / "images" / img["file_name"]).is_file()
    crowds = 0
    for a in raw["annotations"]:
        x, y, w, h = a["bbox"]
        assert 0 <= x and 0 <= y and w > 0 and h > 0 and x + w <= SIZE and y + h <= SIZE
        mask = coco.annToMask(a)
        assert mask.sum() == a["area"]  # area is the segmentation's area, crowds (RLE) included
        crowds += a["iscrowd"]
    assert crowds >= 5


def test_catalog_counts_match_the_annotations(world: Path) -> None:
    raw = orjson.loads(world.read_bytes())
    cat = load_catalog("toy", world, world.parent / "images")
    assert cat.source == "toy" and cat.categories == [c.name for c in TAXONOMY]
    expected = np.zeros((N, len(TAXONOMY)), dtype=int)
    crowd = np.zeros_like(expected, dtype=bool)
    for a in raw["annotations"]:
        if a["iscrowd"]:
            crowd[a["image_id"] - 1, a["category_id"] - 1] = True
        else:
            expected[a["image_id"] - 1, a["category_id"] - 1] += 1
    np.testing.assert_array_equal(cat.counts, expected)
    np.testing.assert_array_equal(cat.uncertain, crowd)
    assert cat.synonyms["bicycle"] == ["bike", "cycle"]


def test_distribution_supports_every_task(world: Path) -> None:
    cat = load_catalog("toy", world, None)
    per_image = cat.present.sum(axis=1)
    assert cat.counts.max() == 10 and 1 <= (cat.counts == 10).sum()
    assert 2.5 <= per_image.mean() <= 4.5 and per_image.max() >= 6 and (per_image == 0).any()
    images_per_category = cat.present.sum(axis=0)
    assert images_per_category.min() >= 20  # each category is common enough for spread / common tasks
    assert images_per_category.max() >= 100  # a few 'background-ish' categories


def test_objects_overlap_partially_and_vary_in_size(world: Path) -> None:
    boxes: dict[int, list[list[float]]] = {}
    for a in orjson.loads(world.read_bytes())["annotations"]:
        if not a["iscrowd"]:
            boxes.setdefault(a["image_id"], []).append(a["bbox"])

    def overlap(a: list[float], b: list[float]) -> float:
        w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
        h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
        return max(w, 0) * max(h, 0) / min(a[2] * a[3], b[2] * b[3])

    fractions = [overlap(a, b) for bs in boxes.values() for i, a in enumerate(bs) for b in bs[:i]]
    with_overlap = sum(any(overlap(a, b) > 0 for i, a in enumerate(bs) for b in bs[:i]) for bs in boxes.values())
    assert with_overlap > 0.3 * len(boxes) and max(fractions) <= 0.2  # partial: never hidden more than 20%
    sides = [max(a[2], a[3]) for bs in boxes.values() for a in bs]
    assert min(sides) < 25 and max(sides) > 60


def test_ensure_renders_once(tmp_path: Path) -> None:
    ann = ensure_toy_world(tmp_path / "w", n_images=3, seed=1)
    stamp = ann.stat().st_mtime_ns
    assert ensure_toy_world(tmp_path / "w", n_images=3, seed=1) == ann and ann.stat().st_mtime_ns == stamp


def test_cli_renders_and_refuses_an_existing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["toy", "--out", str(tmp_path / "t"), "--toy-images", "4", "--seed", "2"])
    out = capsys.readouterr().out
    assert "images" in out and "crowd regions" in out
    assert len(list((tmp_path / "t" / "images").iterdir())) == 4
    with pytest.raises(SystemExit) as e:
        main(["toy", "--out", str(tmp_path / "t"), "--toy-images", "4"])
    assert e.value.code == 2 and "output folder exists" in capsys.readouterr().err
    with pytest.raises(MimicError, match="--toy-images"):
        render_toy_world(tmp_path / "none", n_images=0)
    assert not (tmp_path / "none").exists()


def test_tiny_preset_is_a_smaller_world_that_records_itself(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tiny = PRESETS["tiny"]
    ann = render_toy_world(tmp_path / "tiny", n_images=80, seed=3, preset="tiny")
    raw = orjson.loads(ann.read_bytes())
    assert raw["info"]["preset"] == "tiny" and "preset" not in orjson.loads(
        render_toy_world(tmp_path / "default", 2, seed=3).read_bytes())["info"]
    cats = raw["categories"]
    assert [c["name"] for c in cats] == list(tiny.categories) == ["apple", "banana", "car", "bus"]
    per_super = Counter(c["supercategory"] for c in cats)
    assert per_super == {"food": 2, "vehicle": 2}  # listing, common and odd_one all have what they need
    assert all(img["width"] == img["height"] == 112 for img in raw["images"])
    per_image = Counter((a["image_id"], a["category_id"]) for a in raw["annotations"])
    assert max(per_image.values()) == 3 and not any(a["iscrowd"] for a in raw["annotations"])
    sides = [max(a["bbox"][2], a["bbox"][3]) for a in raw["annotations"]]
    assert min(sides) >= 12 and max(sides) <= 40 and np.median(sides) > 20  # an icon spans >= 1 merged token
    for a in raw["annotations"]:
        x, y, w, h = a["bbox"]
        assert x >= 0 and y >= 0 and x + w <= 112 and y + h <= 112
    catalog = load_catalog("toy", ann, ann.parent / "images")
    assert catalog.n_categories == 4 and int(catalog.counts.sum()) == len(raw["annotations"])
    assert _files(ann.parent) == _files(render_toy_world(tmp_path / "again", 80, seed=3, preset=tiny).parent)
    main(["toy", "--out", str(tmp_path / "cli"), "--toy-images", "3", "--toy-preset", "tiny"])
    assert "tiny" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        main(["toy", "--out", str(tmp_path / "bad"), "--toy-preset", "huge"])
    assert e.value.code == 2 and "--toy-preset 'huge': unknown toy world preset; choose one of default, tiny, study" in (
        capsys.readouterr().err)
    assert not (tmp_path / "bad").exists()


def test_default_preset_is_the_original_world() -> None:
    d = PRESETS["default"]
    assert (d.size, d.taxonomy, d.crowd_rate, d.max_icon, d.icon_scale) == (SIZE, TAXONOMY, 0.05, 70.0, 190.0)


def test_study_preset_is_the_tiny_world_twice_as_large_with_few_blank_scenes(tmp_path: Path) -> None:
    study, tiny = PRESETS["study"], PRESETS["tiny"]
    assert study.categories == tiny.categories and study.count_p == tiny.count_p and study.backgrounds == 1
    ann = render_toy_world(tmp_path / "study", n_images=200, seed=3, preset="study")
    raw = orjson.loads(ann.read_bytes())
    assert raw["info"]["preset"] == "study"
    assert [c["name"] for c in raw["categories"]] == ["apple", "banana", "car", "bus"]
    assert all(img["width"] == img["height"] == 224 for img in raw["images"])  # 64 vision tokens at 14 / 2x2
    with Image.open(ann.parent / "images" / raw["images"][0]["file_name"]) as im:
        assert im.size == (224, 224)
    sides = [max(a["bbox"][2], a["bbox"][3]) for a in raw["annotations"]]
    assert min(sides) >= 24 and max(sides) <= 80 and np.median(sides) > 40  # tiny's icons, scaled with the scene
    for a in raw["annotations"]:
        x, y, w, h = a["bbox"]
        assert x >= 0 and y >= 0 and x + w <= 224 and y + h <= 224
    held = {a["image_id"] for a in raw["annotations"]}
    blank = sum(img["id"] not in held for img in raw["images"])
    assert blank <= 10  # P(blank) 0.02: 4 expected of 200 (tiny: 10% blank)
    # the tiny world's output is byte for byte what it was before this preset (the shipped model and demo
    # depend on it): a digest of every file of a 20-scene world
    digest = hashlib.sha256()
    for f in sorted((render_toy_world(tmp_path / "tiny", 20, seed=3, preset="tiny").parent).rglob("*")):
        if f.is_file():
            digest.update(f.name.encode())
            digest.update(f.read_bytes())
    assert digest.hexdigest() == "1473b25734f7ba74280372780cbb3a15dba380bdead56fcdd3aea8f8ed6b22cc"
