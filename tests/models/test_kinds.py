"""The capability record of each model kind: one answer to "can this model do X", the same in every command;
the packaged `toy:` model does all that a transformers model does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mimic_vlm.annotations.load import load_catalog
from mimic_vlm.annotations.toyworld import render_toy_world
from mimic_vlm.bench.generate import generate_bench
from mimic_vlm.cli import main
from mimic_vlm.compose.controls import Controls
from mimic_vlm.errors import MimicError
from mimic_vlm.models.kinds import KINDS, check_spec, require, with_kinds
from mimic_vlm.models.registry import load_model


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_toy_world(tmp_path_factory.mktemp("kinds") / "world", n_images=30, seed=3, preset="tiny")


def test_each_kind_says_what_it_can_do() -> None:
    local = {name for name, k in KINDS.items() if k.transformers}
    assert local == {"hf", "tiny", "toy"}
    for capability in ("mask", "pooling", "adapter", "vision_tokens"):
        assert {name for name, k in KINDS.items() if getattr(k, capability)} == local
    assert {name for name, k in KINDS.items() if k.needs_bench} == {"chance", "prior", "single-image", "oracle"}
    assert with_kinds("adapter") == "hf:, tiny:, toy:"
    assert check_spec("toy:mimic-tiny")[0] is KINDS["toy"] and check_spec("oracle") == (KINDS["oracle"], "")
    with pytest.raises(MimicError, match=r"^--mask-layers: only hf:, tiny:, toy: models take an attention mask, "
                                         r"not --model openai:m@http://x/v1$"):
        require("openai:m@http://x/v1", "mask", "--mask-layers")
    with pytest.raises(MimicError, match=r"^diagnostics: --model chance is not a transformers model \(hf:, tiny:, "
                                         r"toy:\)$"):
        require("chance", "transformers", "diagnostics")


def test_a_model_gets_the_bench_only_when_its_kind_needs_it(world: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from mimic_vlm.models.baselines import Baseline
    from mimic_vlm.models.kinds import ModelKind
    from mimic_vlm.models.registry import BUILDERS, ModelOptions
    from mimic_vlm.store import load_bench

    seen: dict[str, ModelOptions] = {}

    def builder(arg: str, options: ModelOptions) -> Baseline:
        seen[arg] = options
        return Baseline(arg, lambda s: s["answer"], {})

    for name, needs in (("reader", True), ("blind", False)):
        monkeypatch.setitem(KINDS, name, ModelKind(name, f"{name}:X", needs_bench=needs))
        monkeypatch.setitem(BUILDERS, name, builder)
    bench = load_bench(generate_bench(load_catalog("toy", world, world.parent / "images"), ["counting"], 2,
                                      Controls.parse(n_images=2), 0, tmp_path / "b"))
    load_model("reader:a", bench=bench, seed=3)
    load_model("blind:b", bench=bench, seed=3)
    assert seen["a"].bench is bench and seen["b"].bench is None and seen["b"].seed == 3
    with pytest.raises(MimicError, match="chance: this baseline needs the bench"):
        load_model("chance")


def test_toy_model_takes_the_mask_in_eval(world: Path, tmp_path: Path) -> None:
    """`eval --mask-layers` asks the kind, so the packaged model takes the mask like hf: and tiny: do."""
    bench = generate_bench(load_catalog("toy", world, world.parent / "images"), ["counting"], 2,
                           Controls.parse(n_images=2), 0, tmp_path / "bench", copy_images=True)
    out = tmp_path / "run"
    main(["eval", "--model", "toy:mimic-tiny", str(bench), "--out", str(out), "--device", "cpu",
          "--mask-layers", "all", "--mask-backend", "blocks", "--no-progress"])
    model = json.loads((out / "run.json").read_text())["settings"]["model"]
    assert model["model"] == "toy:mimic-tiny" and model["mask"]["layers"] == "all"
    assert model["mask"]["backend"] == "blocks"
    assert len((out / "predictions.jsonl").read_text().splitlines()) == 2


def test_toy_model_pools_in_a_sweep(world: Path, tmp_path: Path) -> None:
    """`sweep --vary pooling` asks the kind, so it takes toy: (a Qwen2-VL: 16 tokens per image at 12544
    pixels, pooled by 4 to 4)."""
    from mimic_vlm.probe.pooling import pooled_count
    from mimic_vlm.probe.sweep import run_sweep

    catalog = load_catalog("toy", world, world.parent / "images")
    result = run_sweep(catalog, model="toy:mimic-tiny", task="counting", vary="pooling", values=["1", "4"],
                       fixed={"n_images": "2", "max_pixels": "12544"}, count=2, out=tmp_path / "pool")
    assert [p["vision_tokens"] for p in result["points"]] == [2 * 16, 2 * pooled_count("qwen2_vl", 16, 4)]
