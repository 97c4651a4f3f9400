"""`mimic generate / validate / inspect` end to end on the toy world and the real COCO sample."""

from __future__ import annotations

import orjson
import pytest
from PIL import Image

from mimic_vlm.bench.store import load_bench
from mimic_vlm.cli import main


def run(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as e:
        return int(e.code or 0)
    return 0


@pytest.fixture(scope="module")
def toy_bench(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "toy"
    assert run(["generate", "--out", str(out), "--toy-images", "40", "--count", "4", "--seed", "3"]) == 0
    return out


def test_toy_default_world_end_to_end(toy_bench, tmp_path, capsys):
    bench = load_bench(toy_bench)
    assert sorted(p.name for p in toy_bench.iterdir()) == ["images", "manifest.json", "samples.jsonl",
                                                           "toy_annotations.json"]
    assert len(bench.samples) == 16 and bench.manifest["source"] == "toy"
    assert bench.manifest["command"].startswith("mimic generate --source toy --task all --count 4")
    assert all(p.is_file() and str(p).startswith(str(toy_bench / "images")) for s in bench.samples
               for p in bench.image_paths(s))
    assert run(["validate", str(toy_bench)]) == 0
    assert run(["validate", str(toy_bench), "--annotations", str(toy_bench / "toy_annotations.json")]) == 0
    sheet = tmp_path / "sheet.png"
    assert run(["inspect", str(toy_bench), "--sheet", str(sheet), "--n", "4"]) == 0
    assert "counting: 4 samples" in capsys.readouterr().out
    with Image.open(sheet) as im:
        assert im.width >= 640 and im.height > 4 * 160
    names = ("samples.jsonl", "manifest.json", "toy_annotations.json")
    before = [(toy_bench / n).read_bytes() for n in names]
    assert run(["generate", "--out", str(toy_bench), "--toy-images", "40", "--count", "4", "--seed", "3",
                "--overwrite"]) == 0
    assert [(toy_bench / n).read_bytes() for n in names] == before  # byte-identical rerun


def test_cli_refusals(toy_bench, tmp_path, capsys):
    assert run(["generate", "--out", str(toy_bench), "--toy-images", "40"]) == 2
    assert "output folder exists (use --overwrite to replace it)" in capsys.readouterr().err
    bad = tmp_path / "bad"
    assert run(["generate", "--out", str(bad), "--n-images", "3", "--spread", "5"]) == 2
    assert "error: spread=5 is larger than n_images=3" in capsys.readouterr().err
    assert not bad.exists() and list(tmp_path.iterdir()) == []
    tampered = tmp_path / "tampered"
    tampered.mkdir()
    rows = [orjson.loads(x) for x in (toy_bench / "samples.jsonl").read_bytes().splitlines()]
    rows[0]["gt"] = "99"
    (tampered / "samples.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    (tampered / "manifest.json").write_bytes((toy_bench / "manifest.json").read_bytes())
    capsys.readouterr()
    assert run(["validate", str(tampered)]) == 1
    assert f"{rows[0]['id']}: gt '99' but the images give" in capsys.readouterr().out


def test_training_set_from_toy(toy_bench, tmp_path):
    out = tmp_path / "train"
    assert run(["generate", "--source", "toy", "--annotations", str(toy_bench / "toy_annotations.json"),
                "--images-dir", str(toy_bench / "images"), "--for", "training", "--task", "counting",
                "--count", "5", "--n-images", "8-10", "--out", str(out)]) == 0
    llava = orjson.loads((out / "train_llava.json").read_bytes())
    assert len(llava) == 5 and all(8 <= len(r["image"]) <= 10 for r in llava)
    assert all((out / p).is_file() for r in llava for p in r["image"])


def test_real_coco_sample(coco_sample, tmp_path):
    ann = coco_sample / "annotations" / "instances_train2017.json"
    images = coco_sample / "images" / "train2017"
    out = tmp_path / "coco"
    assert run(["generate", "--source", "coco", "--annotations", str(ann), "--images-dir", str(images),
                "--count", "6", "--n-images", "2-4", "--copy-images", "--out", str(out)]) == 0
    bench = load_bench(out)
    assert len(bench.samples) == 24
    assert all(p.startswith("images/") and p.endswith(".jpg") for s in bench.samples for p in s.images)
    assert bench.manifest["source_files"]["instances_train2017.json"]
    assert run(["validate", str(out), "--annotations", str(ann)]) == 0
