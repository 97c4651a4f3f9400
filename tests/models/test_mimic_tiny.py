"""The shipped trained model `toy:mimic-tiny`: loads offline from the package and really counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mimic_vlm.annotations.load import load_catalog
from mimic_vlm.annotations.toyworld import render_toy_world
from mimic_vlm.bench.generate import generate_bench
from mimic_vlm.cli import main
from mimic_vlm.compose.controls import Controls
from mimic_vlm.models.registry import WEIGHTS, load_model

FOLDER = WEIGHTS / "mimic-tiny"
COUNT_FLOOR, COMMON_FLOOR = 0.5, 0.8  # measured: 0.575 and 0.925 (deterministic on a CPU)


@pytest.fixture(scope="module")
def held_out(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Single-image counting and 2-image `common` benches of a `tiny` world whose seed (99) no training used."""
    root = tmp_path_factory.mktemp("mimic-tiny")
    ann = render_toy_world(root / "world", n_images=80, seed=99, preset="tiny")
    catalog = load_catalog("toy", ann, ann.parent / "images")
    return (generate_bench(catalog, ["counting"], 40, Controls.parse(n_images="1"), 7, root / "count",
                           copy_images=True),
            generate_bench(catalog, ["common"], 40, Controls.parse(n_images="2"), 7, root / "common",
                           copy_images=True))


def _accuracy(bench: Path, out: Path) -> tuple[float, float]:
    """(the model's accuracy, the majority answer's share) on `bench`."""
    main(["eval", "--model", "toy:mimic-tiny", "--bench", str(bench), "--out", str(out), "--device", "cpu",
          "--no-progress"])
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    gold = [json.loads(line)["gt"] for line in (bench / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == len(gold) == 40
    return sum(bool(r["correct"]) for r in rows) / len(rows), max(gold.count(g) for g in set(gold)) / len(gold)


def test_weights_are_packaged_small_and_described() -> None:
    files = {p.name for p in FOLDER.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "processor_config.json", "MODEL_CARD.md"} <= files
    assert FOLDER.joinpath("model.safetensors").stat().st_size < 8 * 2**20
    config = json.loads((FOLDER / "config.json").read_text())
    assert config["model_type"] == "qwen2_vl" and config["vision_config"]["embed_dim"] == 64


def test_eval_sees_objects_well_above_chance(held_out: tuple[Path, Path], tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Random weights answer no digit or category (0 right); guessing the most frequent answer scores the
    majority share. The shipped model must beat both clearly (its held-out scores: MODEL_CARD.md)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    count, common = held_out
    count_acc, count_majority = _accuracy(count, tmp_path / "count")
    common_acc, common_majority = _accuracy(common, tmp_path / "common")
    assert count_majority <= 0.5 and common_majority <= 0.4
    assert count_acc >= COUNT_FLOOR and common_acc >= COMMON_FLOOR, (count_acc, common_acc)
    run = json.loads((tmp_path / "count" / "run.json").read_text())
    assert run["settings"]["model"]["model"] == "toy:mimic-tiny"


def test_loads_as_an_hf_model() -> None:
    model = load_model("toy:mimic-tiny", device="cpu")
    assert model.name == "toy:mimic-tiny" and model.describe()["model"] == "toy:mimic-tiny"
    assert 0.5e6 < sum(p.numel() for p in model.model.parameters()) < 3e6
