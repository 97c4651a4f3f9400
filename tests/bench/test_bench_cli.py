"""`mimic generate / validate / inspect` end to end on the toy world and the real COCO sample."""

from __future__ import annotations

import numpy as np
import orjson
import pytest
from PIL import Image

from cli_exit import exit_code
from mimic_vlm.store import load_bench


@pytest.fixture(scope="module")
def toy_bench(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "toy"
    assert exit_code(["generate", "--out", str(out), "--toy-images", "40", "--count", "4", "--seed", "3"]) == 0
    return out


def test_toy_default_world_end_to_end(toy_bench, tmp_path, capsys):
    bench = load_bench(toy_bench)
    assert sorted(p.name for p in toy_bench.iterdir()) == ["images", "manifest.json", "samples.jsonl",
                                                           "toy_annotations.json"]
    assert len(bench.samples) == 16 and bench.manifest["source"] == "toy"
    assert bench.manifest["command"].startswith("mimic generate --source toy --task all --count 4")
    assert all(p.is_file() and str(p).startswith(str(toy_bench / "images")) for s in bench.samples
               for p in bench.image_paths(s))
    assert exit_code(["validate", str(toy_bench)]) == 0
    assert exit_code(["validate", str(toy_bench), "--annotations", str(toy_bench / "toy_annotations.json")]) == 0
    sheet = tmp_path / "sheet.png"
    assert exit_code(["inspect", str(toy_bench), "--sheet", str(sheet), "--limit", "4"]) == 0
    assert "counting: 4 samples" in capsys.readouterr().out
    with Image.open(sheet) as im:
        assert im.width >= 640 and im.height > 4 * 160
    names = ("samples.jsonl", "manifest.json", "toy_annotations.json")
    before = [(toy_bench / n).read_bytes() for n in names]
    assert exit_code(["generate", "--out", str(toy_bench), "--toy-images", "40", "--count", "4", "--seed", "3",
                "--overwrite"]) == 0
    assert [(toy_bench / n).read_bytes() for n in names] == before  # byte-identical rerun


def test_cli_refusals(toy_bench, tmp_path, capsys):
    assert exit_code(["generate", "--out", str(toy_bench), "--toy-images", "40"]) == 2
    assert "output folder exists (use --overwrite to replace it)" in capsys.readouterr().err
    bad = tmp_path / "bad"
    assert exit_code(["generate", "--out", str(bad), "--n-images", "3", "--spread", "5"]) == 2
    assert "error: spread=5 is larger than n_images=3" in capsys.readouterr().err
    assert not bad.exists() and list(tmp_path.iterdir()) == []
    tampered = tmp_path / "tampered"
    tampered.mkdir()
    rows = [orjson.loads(x) for x in (toy_bench / "samples.jsonl").read_bytes().splitlines()]
    rows[0]["gt"] = "99"
    (tampered / "samples.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    (tampered / "manifest.json").write_bytes((toy_bench / "manifest.json").read_bytes())
    capsys.readouterr()
    assert exit_code(["validate", str(tampered)]) == 1
    assert f"{rows[0]['id']}: gt '99' but the images give" in capsys.readouterr().out


def test_training_set_from_toy(toy_bench, tmp_path):
    out = tmp_path / "train"
    assert exit_code(["generate", "--source", "toy", "--annotations", str(toy_bench / "toy_annotations.json"),
                "--images-dir", str(toy_bench / "images"), "--for", "training", "--task", "counting",
                "--count", "5", "--n-images", "8-10", "--out", str(out)]) == 0
    llava = orjson.loads((out / "train_llava.json").read_bytes())
    assert len(llava) == 5 and all(8 <= len(r["image"]) <= 10 for r in llava)
    assert all((out / p).is_file() for r in llava for p in r["image"])


def test_real_coco_sample(coco_sample, tmp_path):
    ann = coco_sample / "annotations" / "instances_train2017.json"
    images = coco_sample / "images" / "train2017"
    out = tmp_path / "coco"
    assert exit_code(["generate", "--source", "coco", "--annotations", str(ann), "--images-dir", str(images),
                "--count", "6", "--n-images", "2-4", "--copy-images", "--out", str(out)]) == 0
    bench = load_bench(out)
    assert len(bench.samples) == 24
    assert all(p.startswith("images/") and p.endswith(".jpg") for s in bench.samples for p in s.images)
    assert bench.manifest["source_files"]["instances_train2017.json"]
    assert exit_code(["validate", str(out), "--annotations", str(ann)]) == 0


def test_openimages_boxes_end_to_end(openimages_meta, tmp_path):
    """A small box CSV over real OpenImages classes: generate, then validate against the same files."""
    from mimic_vlm.annotations.openimages import build_taxonomy, read_class_names, read_hierarchy

    classes = openimages_meta / "oidv7-class-descriptions-boxable.csv"
    hierarchy = openimages_meta / "bbox_labels_600_hierarchy.json"
    tax = build_taxonomy(read_hierarchy(hierarchy), read_class_names(classes))
    by_super: dict[str, list[str]] = {}
    for label, sup in zip(tax.labels, tax.supercategories, strict=True):
        by_super.setdefault(sup, []).append(label)
    labels = [lab for sup in sorted(by_super, key=lambda g: -len(by_super[g]))[:2] for lab in by_super[sup][:4]]
    rng = np.random.default_rng(0)
    images = tmp_path / "images"
    images.mkdir()
    rows = [",".join(BOX_HEADER)]
    for i in range(40):
        image_id = f"{i:016x}"
        Image.new("RGB", (8, 8), (i, 0, 0)).save(images / f"{image_id}.jpg")
        for label in rng.choice(labels, size=int(rng.integers(1, 5))):
            group = int(rng.random() < 0.05)
            rows.append(f"{image_id},xclick,{label},1,0.1,0.5,0.2,0.6,0,0,{group},0,0")
    boxes = tmp_path / "boxes.csv"
    boxes.write_text("\n".join(rows) + "\n")
    oi = ["--oi-classes", str(classes), "--oi-hierarchy", str(hierarchy)]
    out = tmp_path / "oi"
    assert exit_code(["generate", "--source", "openimages", "--annotations", str(boxes), "--images-dir", str(images),
                *oi, "--count", "5", "--n-images", "2-3", "--out", str(out)]) == 0
    bench = load_bench(out)
    assert len(bench.samples) == 20 and {s.source for s in bench.samples} == {"openimages"}
    assert all(p.endswith(".jpg") and p.startswith(str(images.resolve())) for s in bench.samples for p in s.images)
    assert exit_code(["validate", str(out), "--annotations", str(boxes), *oi]) == 0


BOX_HEADER = ("ImageID", "Source", "LabelName", "Confidence", "XMin", "XMax", "YMin", "YMax", "IsOccluded",
              "IsTruncated", "IsGroupOf", "IsDepiction", "IsInside")


def test_generate_pack_targets_keeps_truth_and_refuses_boundary_tasks(tmp_path, capsys):
    out = tmp_path / "packed"
    assert exit_code(["generate", "--out", str(out), "--toy-images", "40", "--count", "4", "--task", "counting",
                "--n-images", "3-4", "--pack-targets"]) == 0
    for s in load_bench(out).samples:
        c = s.controls
        assert c["packed"] is True and c["n_images"] == 1 + c["distractors"] == len(s.images)
        assert c["n_images_original"] == c["spread_original"] + c["distractors"]
        assert s.answer == sum(n for objs in s.image_objects for k, n in objs.items() if k in s.targets)
    assert exit_code(["generate", "--out", str(tmp_path / "no"), "--toy-images", "40", "--count", "4",
                "--task", "common", "--pack-targets"]) == 2
    assert "--pack-targets: only counting and listing" in capsys.readouterr().err
    assert not (tmp_path / "no").exists()


def test_training_set_in_eval_phrasing_from_the_tiny_world(tmp_path, capsys):
    """`--training-phrasing eval`: the runner's own prompt and the bare gold answer, per task."""
    from mimic_vlm.evaluate.tasks import get_task

    out = tmp_path / "train"
    assert exit_code(["generate", "--toy-preset", "tiny", "--toy-images", "60", "--for", "training",
                "--training-phrasing", "eval", "--count", "3", "--n-images", "2", "--seed", "5",
                "--out", str(out)]) == 0
    bench = load_bench(out)
    world = orjson.loads((out / "toy_annotations.json").read_bytes())
    assert world["info"]["preset"] == "tiny" and len(world["categories"]) == 4
    assert bench.manifest["training_phrasing"] == "eval" and "--toy-preset tiny" in bench.manifest["command"]
    assert "--training-phrasing eval" in bench.manifest["command"]
    llava = orjson.loads((out / "train_llava.json").read_bytes())
    messages = [orjson.loads(x) for x in (out / "train_messages.jsonl").read_bytes().splitlines()]
    assert len(llava) == len(messages) == len(bench.samples) == 12
    for s, r, m in zip(bench.samples, llava, messages, strict=True):
        prompt = get_task(s.task).prompt(s)
        assert prompt.startswith("Question: ") and prompt.endswith("\nAnswer:")
        assert r["conversations"] == [{"from": "human", "value": "<image>\n<image>\n" + prompt},
                                      {"from": "gpt", "value": s.gt}]
        assert m["messages"][1]["content"][0]["text"] == s.gt
    paraphrased = tmp_path / "para"
    assert exit_code(["generate", "--toy-preset", "tiny", "--toy-images", "60", "--for", "training", "--count", "3",
                "--n-images", "2", "--seed", "5", "--out", str(paraphrased)]) == 0
    assert load_bench(paraphrased).manifest["training_phrasing"] == "paraphrased"
    first = orjson.loads((paraphrased / "train_llava.json").read_bytes())[0]["conversations"]
    assert not first[0]["value"].endswith("\nAnswer:") and first[1]["value"] != bench.samples[0].gt
    capsys.readouterr()
    assert exit_code(["generate", "--for", "training", "--training-phrasing", "terse", "--out", str(tmp_path / "x")]) == 2
    assert "--training-phrasing 'terse': expected one of paraphrased, eval" in capsys.readouterr().err
    assert exit_code(["generate", "--toy-preset", "huge", "--out", str(tmp_path / "y")]) == 2
    assert "--toy-preset 'huge': unknown toy world preset" in capsys.readouterr().err
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
