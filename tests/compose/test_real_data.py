"""`mimic generate` on real annotations never ends in a traceback (issue 11 §1).

Regressions: odd_one raised IndexError in `_next_image` on the real COCO sample with `--min-area 5000` and
on an OpenImages box CSV with real label ids (a category of unknown presence only has no holder to pair
it). Every task must now exit 0 with a bench that `mimic validate` re-derives from the annotations, or
exit 2 with one `error:` line.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cli_exit import exit_code
from mimic_vlm.annotations.load import load_catalog
from mimic_vlm.annotations.openimages import BOX_COLUMNS, read_class_names
from mimic_vlm.store import load_bench

TASKS = ["counting", "listing", "common", "odd_one"]
DESCRIPTIONS = "oidv7-class-descriptions-boxable.csv"
HIERARCHY = "bbox_labels_600_hierarchy.json"


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def _coco(coco_sample: Path, split: str) -> list[str]:
    return ["--source", "coco", "--annotations", str(coco_sample / f"annotations/instances_{split}2017.json"),
            "--images-dir", str(coco_sample / f"images/{split}2017"), "--min-area", "5000"]


@pytest.mark.parametrize("task", TASKS)
def test_coco_sample_min_area_every_task_succeeds_and_validates(coco_sample, tmp_path, capsys, task):
    source = _coco(coco_sample, "train")
    out = tmp_path / "bench"
    # 2 of the 32 images hold no annotation; 12 odd_one sets of 2-4 images need them (13 without, most of 4)
    blank = ["--blank-images"] if task == "odd_one" else []
    assert exit_code(["generate", *source, "--task", task, "--count", "12", "--n-images", "2-4", *blank,
                      "--out", str(out)]) == 0
    assert len(load_bench(out).samples) == 12
    capsys.readouterr()
    assert exit_code(["validate", str(out), *[a for a in source if a != "--images-dir" and "images/" not in a]]) == 0
    assert "ok: 12 samples agree with the annotations" in capsys.readouterr().out


def _odd_sets(catalog, n: int, blank_ok: bool = False) -> int:
    """Exhaustive count of n-image odd_one sets with one answer, straight from the catalog arrays (without an
    image that holds no annotation, unless `blank_ok`)."""
    present = catalog.counts > 0
    maybe = present | catalog.uncertain
    found = 0
    for rows in itertools.combinations(range(catalog.n_images), n):
        certain, possible = present[list(rows)].sum(0), maybe[list(rows)].sum(0)
        odd = (certain == 1) & (possible == 1)
        if not blank_ok and not maybe[list(rows)].any(1).all():
            continue
        if odd.sum() == 1 and (certain[(possible > 0) & ~odd] >= 2).all():
            found += 1
    return found


@pytest.mark.parametrize(("blank", "expected"), [(False, 5), (True, 13)])
def test_coco_odd_one_finds_every_valid_set_then_says_how_many(coco_sample, tmp_path, capsys, blank, expected):
    """32 real train2017 images, three-image odd_one sets: all are found (an exhaustive count agrees); 8 of the
    13 use one of the 2 images without annotation, only with --blank-images."""
    source = [*_coco(coco_sample, "train"), *(["--blank-images"] if blank else [])]
    catalog = load_catalog("coco", Path(source[3]), None, min_area=5000, check_images=False)
    exist = _odd_sets(catalog, 3, blank)
    assert exist == expected
    out = tmp_path / "all"
    assert exit_code(["generate", *source, "--task", "odd_one", "--n-images", "3", "--count", str(exist),
                "--out", str(out)]) == 0
    assert len({frozenset(s.images) for s in load_bench(out).samples}) == exist
    capsys.readouterr()
    assert exit_code(["generate", *source, "--task", "odd_one", "--n-images", "3", "--count", str(exist + 1),
                "--out", str(tmp_path / "more")]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert line.endswith(f"only {exist} distinct samples were found (with n_images=3 spread=1 distractors=2 "
                         f"concepts=1 answers=1: found {exist} valid sets (exhaustive search of 32 images), all used)")
    assert not (tmp_path / "more").exists()


def test_coco_val_odd_one_refuses_with_what_the_data_allows(coco_sample, tmp_path, capsys):
    """The 6 val2017 images hold no odd_one set at all (checked exhaustively): exit 2, one line, no bench."""
    source = _coco(coco_sample, "val")
    catalog = load_catalog("coco", Path(source[3]), None, min_area=5000, check_images=False)
    assert [_odd_sets(catalog, n, blank_ok=True) for n in range(2, 7)] == [0] * 5
    out = tmp_path / "bench"
    assert exit_code(["generate", *source, "--task", "odd_one", "--count", "5", "--out", str(out)]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "error: odd_one: no image set satisfies n_images=" in line
    assert "found no valid set (exhaustive search of 6 images); no lower n_images or answers helps" in line
    assert not out.exists()
    assert exit_code(["generate", *_coco(coco_sample, "train"), "--task", "odd_one", "--n-images", "9", "--count", "2",
                "--out", str(out)]) == 2
    assert _one_error_line(capsys.readouterr().err) == (
        "error: odd_one: no image set satisfies n_images=9 spread=1 distractors=8 concepts=1 answers=1: found no "
        "valid set (exhaustive search of 32 images); the data allows n_images=5: 3 valid sets (exhaustive search "
        "of 32 images); lower --n-images; blank images were left out (--blank-images lets them in)")


LEAVES = ["Man", "Woman", "Dog", "Cat", "Car", "Chair", "Table", "Bicycle", "Horse", "Bird", "Bus", "Tree", "Mug",
          "Bottle"]
PARENTS = ["Person", "Animal", "Vehicle", "Furniture"]


def write_openimages(root: Path, meta: Path, n_images: int = 120, seed: int = 0) -> Path:
    """A box CSV with real label ids: a long tail of leaf classes, parent-class boxes (every leaf below them
    uncertain), group-of boxes and tiny boxes; plus an 8x8 JPEG per image. Seed 0 crashed odd_one on main."""
    label = {name: lab for lab, name in read_class_names(meta / DESCRIPTIONS).items()}
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    rows = []
    for i in range(n_images):
        image = f"{i:016x}"
        Image.new("RGB", (8, 8)).save(root / "images" / f"{image}.jpg")
        for _ in range(rng.integers(0, 5)):
            parent = rng.random() < 0.1
            name = PARENTS[rng.integers(len(PARENTS))] if parent else LEAVES[min(int(rng.exponential(3)), 13)]
            group = int(rng.random() < 0.1)
            x1 = 0.1 + (0.005 if rng.random() < 0.1 else 0.4)
            rows.append(f"{image},xclick,{label[name]},1,0.1,{x1},0.1,{x1},0,0,{group},0,0")
    (root / "boxes.csv").write_text("\n".join([",".join(BOX_COLUMNS), *rows]) + "\n")
    return root / "boxes.csv"


@pytest.mark.parametrize("task", TASKS)
def test_openimages_real_labels_every_task_succeeds_and_validates(openimages_meta, tmp_path, capsys, task):
    boxes = write_openimages(tmp_path / "oi", openimages_meta)
    source = ["--source", "openimages", "--annotations", str(boxes), "--oi-classes",
              str(openimages_meta / DESCRIPTIONS), "--oi-hierarchy", str(openimages_meta / HIERARCHY),
              "--min-area", "0.01"]
    out = tmp_path / "bench"
    assert exit_code(["generate", *source, "--images-dir", str(boxes.parent / "images"), "--task", task,
                "--count", "20", "--out", str(out)]) == 0
    capsys.readouterr()
    assert exit_code(["validate", str(out), *source]) == 0
    assert "ok: 20 samples agree with the annotations" in capsys.readouterr().out
