"""`benchmarks/remedies.py --smoke`: the remedies experiment end to end at toy sizes on the shipped base."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from mimic_vlm.evaluate.stats import mcnemar_exact

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "remedies.py"


@pytest.fixture(scope="module")
def remedies():
    spec = importlib.util.spec_from_file_location("remedies", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["remedies"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    del sys.modules["remedies"]


def test_smoke_runs_every_arm_and_writes_tables_plot_and_probes(remedies, tmp_path: Path) -> None:
    remedies.main(["--smoke", "--out", str(tmp_path)])
    result = json.loads((tmp_path / "results.json").read_text())
    assert set(result["arms"]) == {"prior", "base", "base+mask", "nomask-base", "mask-base", "nomask-extra",
                                   "mask-extra"}
    assert all(len(row["seed_accs"]) == 1 for row in result["arms"].values())
    assert [(p["a"], p["b"]) for p in result["paired"]] == list(remedies.COMPARISONS)
    for p in result["paired"]:
        assert p["p"] == mcnemar_exact(p["only_a"], p["only_b"]) and p["pairs"] == 1
    text = (tmp_path / "results.md").read_text()
    assert "| LoRA, mask 2-3, + extra 2-10 image data | 1 |" in text and "exact McNemar p" in text
    assert "| masked / unmasked, same data and seed |" in text and "| LoRA, mask 2-3, base data | 1 |" in text
    assert (tmp_path / "accuracy_by_images.png").stat().st_size > 10_000
    masked = json.loads((tmp_path / "probe" / "mask-extra-s0.json").read_text())["layers"]
    plain = json.loads((tmp_path / "probe" / "nomask-extra-s0.json").read_text())["layers"]
    assert [row["vision.other"]["value"] for row in masked][2:] == [0.0, 0.0]  # the mask holds after training
    assert all(row["vision.other"]["value"] > 0.05 for row in plain)
    train = json.loads((tmp_path / "runs" / "mask-extra-s0" / "mimic_train.json").read_text())
    assert train["mask_layers"] == "2-3" and train["method"] == "lora" and len(train["data"]) == 2


def test_statistics(remedies) -> None:
    """Wilson intervals are the script's own; every other statistic is the one module's (evaluate/stats)."""
    lo, hi = remedies.wilson(235, 300)
    assert (round(lo, 3), round(hi, 3)) == (0.733, 0.826)  # miniature.md's base seed 0
    assert not hasattr(remedies, "mcnemar") and not hasattr(remedies, "paired_bootstrap")
    a, b = {"x": True, "y": True, "z": True, "w": False}, {"x": False, "y": True, "z": True, "w": False}
    d, dlo, dhi, p, per_seed = remedies.seed_level_difference([(a, b)], list(a), 1, 0, 500, "t")
    assert d == 0.25 == per_seed[0] and dlo == 0.0 and 0.25 <= dhi <= 0.75 and p == mcnemar_exact(1, 0) == 1.0
    d, dlo, dhi, p, per_seed = remedies.seed_level_difference([(a, b), (a, a)], list(a), 1, 0, 500, "t")
    assert d == 0.125 and per_seed == [0.25, 0.0] and dlo <= 0.0 < dhi  # seeds as a level: the spread widens it


def test_another_base_world_and_pixel_cap_reach_every_step(remedies, tmp_path: Path) -> None:
    """The plan's world, pixel cap and mask reach data, training, evaluation and labels (what `--long` changes)."""
    remedies.main(["--smoke", "--out", str(tmp_path), "--set", "preset=study", "--set", "max_pixels=12544",
                   "--set", "extra_n=2-3"])
    world = json.loads((tmp_path / "world" / "train" / "annotations.json").read_text())
    assert {im["width"] for im in world["images"]} == {224}  # the `study` world
    train = json.loads((tmp_path / "runs" / "mask-extra-s0" / "mimic_train.json").read_text())
    assert train["max_pixels"] == 12544 and train["mask_layers"] == "2-3"
    rows = [json.loads(x) for x in (tmp_path / "evals" / "mask-extra-s0" / "predictions.jsonl").read_text().splitlines()]
    samples = {s["id"]: s for s in map(json.loads, (tmp_path / "data" / "eval-natural" / "samples.jsonl")
                                        .read_text().splitlines())}
    assert all(r["vision_tokens"] == 16 * len(samples[r["id"]]["images"]) for r in rows)  # 112 px: 16 tokens
    assert "LoRA, mask 2-3, + extra 2-3 image data" in (tmp_path / "results.md").read_text()
    assert remedies.labels(remedies.LONG)["mask-extra"] == "LoRA, mask 4-7, + extra 2-8 image data"
    with pytest.raises(SystemExit, match=r"nomask-base-s0: trained with .*'steps': 2.*this plan trains .*'steps': 3"):
        remedies.main(["--smoke", "--out", str(tmp_path), "--set", "steps=3"])  # another plan's run is refused
