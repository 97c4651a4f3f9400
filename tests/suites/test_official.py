"""`import-official`: the released MIMIC dataset (anurag4446/mimic) in its published schema, built offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from benchmark_files import S, png, write_parquet
from datasets import Dataset, DatasetDict, Features, Image, List, Value

from mimic_vlm.bench.official import config_of, import_official
from mimic_vlm.cli import main
from mimic_vlm.errors import MimicError
from mimic_vlm.store import check_images, load_bench


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four parquet configs with embedded images, and counting_unbalanced as a save_to_disk folder
    (split `train`) whose images are COCO train2017 file names."""
    root = tmp_path_factory.mktemp("mimic")
    write_parquet(root / "counting" / "test-00000-of-00001.parquet",
                  {"images": [[png(1), png(2)], [png(3)]], "question": ["How many dogs?", "How many cats?"],
                   "gt": [3, 0], "task": ["spread", "distractor"], "idx": [0, 1]},
                  Features({"images": List(Image()), "question": S, "gt": Value("int64"), "task": S,
                            "idx": Value("int64")}))
    for config, gts in (("common", ["Dog", "car"]), ("oddone", ["cat", "bus"]),
                        ("listing", ["truck, car", "dog, cat, bird"])):
        write_parquet(root / config / "test-00000-of-00001.parquet",
                      {"images": [[png(4), png(5)], [png(6), png(7), png(8)]],
                       "question": [f"{config} question {i}" for i in (0, 1)], "gt": gts,
                       "task": ["easy", "hard"], "id": ["a", "b"]},
                      Features({"images": List(Image()), "question": S, "gt": S, "task": S, "id": S}))
    coco = root / "train2017"
    coco.mkdir()
    for k in (9, 10):
        png(k).save(coco / f"0000000000{k:02d}.jpg", format="JPEG")
    unbalanced = Dataset.from_dict({"images": [["000000000009.jpg", "000000000010.jpg"]],
                                    "question": ["How many people?"], "gt": ["4"], "task": ["unbalanced"],
                                    "idx": [7]},
                                   features=Features({"images": List(S), "question": S, "gt": S, "task": S,
                                                      "idx": Value("int64")}))
    DatasetDict({"train": unbalanced}).save_to_disk(str(root / "data" / "counting_unbalanced"))
    return root


def test_import_official(release: Path, tmp_path: Path) -> None:
    ann = tmp_path / "instances.json"
    ann.write_text(json.dumps({"categories": [{"id": 1, "name": "dog", "supercategory": "animal"},
                                              {"id": 2, "name": "car", "supercategory": "vehicle"}]}))
    report = import_official(release, tmp_path / "b", images_dir=release / "train2017", coco_annotations=ann)
    bench = load_bench(tmp_path / "b")
    check_images(bench)
    assert report.by_task == {"common": 2, "counting": 3, "listing": 2, "odd_one": 2} and report.warnings == []
    by = bench.by_id()
    c = by["counting-0"]
    assert (c.task, c.answer, c.gt, c.source) == ("counting", 3, "3", "mimic-official")
    assert c.controls == {"n_images": 2, "config": "counting", "official_task": "spread"}
    assert (by["common-a"].answer, by["common-a"].gt) == ("dog", "Dog")
    assert by["oddone-b"].task == "odd_one"
    assert (by["listing-b"].answer, by["listing-b"].gt) == (["bird", "cat", "dog"], "dog, cat, bird")
    u = by["counting_unbalanced-7"]
    assert (u.task, u.answer, u.controls["config"]) == ("counting", 4, "counting_unbalanced")
    assert u.images[0].endswith("000000000009.jpg")
    assert bench.vocabulary["car"] == {"supercategory": "vehicle", "synonyms": ["automobile"]}
    assert bench.manifest["kind"] == "mimic-official"


def test_unbalanced_without_its_image_folder_is_reported(release: Path, tmp_path: Path) -> None:
    report = import_official(release, tmp_path / "b")
    assert report.samples == 8  # 9 released, the unbalanced one dropped
    assert len(report.warnings) == 1 and "000000000009.jpg' not found" in report.warnings[0]


def test_config_is_read_from_the_path(release: Path) -> None:
    assert config_of(release / "oddone" / "test-00000-of-00001.parquet", release) == "oddone"
    assert config_of(release / "data" / "counting_unbalanced", release) == "counting_unbalanced"
    with pytest.raises(MimicError, match="cannot tell which MIMIC config"):
        config_of(release / "x.parquet", release)


def test_bad_gt_names_file_and_row(tmp_path: Path) -> None:
    write_parquet(tmp_path / "counting" / "test.parquet",
                  {"images": [[png(1)]], "question": ["q"], "gt": ["many"], "task": ["t"], "idx": [0]},
                  Features({"images": List(Image()), "question": S, "gt": S, "task": S, "idx": Value("int64")}))
    with pytest.raises(MimicError, match=r"test.parquet: row 0: counting gt 'many' is not an integer"):
        import_official(tmp_path, tmp_path / "b")


def test_cli(release: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["import-official", str(release / "counting"), "--out", str(tmp_path / "b")])
    assert "samples" in capsys.readouterr().out
    assert [s.id for s in load_bench(tmp_path / "b").samples] == ["counting-0", "counting-1"]
