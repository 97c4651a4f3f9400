"""Sweeps along one control on a small toy world: the oracle is flat at 100%, every value gets its own bench
with only that control changed, and `mimic report` shows the sweep."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from mimic_vlm.annotations.load import load_catalog
from mimic_vlm.annotations.toyworld import render_toy_world
from mimic_vlm.cli import main
from mimic_vlm.errors import MimicError
from mimic_vlm.probe.sections import sweep_section
from mimic_vlm.probe.sweep import parse_assignment, run_sweep, sweep_values
from mimic_vlm.report.render import render_markdown
from mimic_vlm.report.runs import load_run
from mimic_vlm.store import load_bench


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_toy_world(tmp_path_factory.mktemp("toy") / "world", n_images=40, seed=0)


def test_oracle_sweep_is_flat_at_100(toy: Path, tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    main(["sweep", "--model", "oracle", "--task", "counting", "--vary", "n_images=2,3,4", "--fix", "distractors=1",
          "--count", "3", "--out", str(out), "--source", "toy", "--annotations", str(toy),
          "--images-dir", str(toy.parent / "images"), "--baselines", "chance", "--no-progress"])
    result = orjson.loads((out / "sweep.json").read_bytes())
    assert [p["value"] for p in result["points"]] == [1.0, 1.0, 1.0]
    assert [p["n"] for p in result["points"]] == [3, 3, 3] and result["points"][0]["metric"] == "correct"
    assert list(result["baselines"]) == ["chance"] and len(result["baselines"]["chance"]) == 3
    for n in (2, 3, 4):
        samples = load_bench(out / "benches" / f"n_images={n}").samples
        assert {(s.controls["n_images"], s.controls["distractors"], s.controls["spread"]) for s in samples} == {
            (n, 1, n - 1)}
    assert (out / "sweep.png").stat().st_size > 1000
    run = load_run(out / "runs" / "oracle" / "n_images=2")  # a run of the sweep leads the report to it
    assert sweep_section([run, load_run(out / "runs" / "chance" / "n_images=3")]) is not None
    text = render_markdown([sweep_section([run])], "report")
    assert "## Sweeps" in text and "| n_images | oracle | chance |" in text and "figures/sweep-0.png" in text
    assert "| 3 | 1.000 [1.000, 1.000] | 0.000 [0.000, 0.000] |" in text


def test_packed_sweep_compares_a_bench_with_its_packed_copy(toy: Path, tmp_path: Path) -> None:
    catalog = load_catalog("toy", toy, toy.parent / "images")
    result = run_sweep(catalog, model="single-image", task="counting", vary="packed", values=["false", "true"],
                       fixed={"n_images": "4", "spread": "2"}, count=3, out=tmp_path / "s")
    plain, packed = (load_bench(tmp_path / "s" / "benches" / f"packed={v}").samples for v in ("false", "true"))
    assert [len(s.images) for s in plain] == [4] * 3 and [len(s.images) for s in packed] == [3] * 3
    assert [s.answer for s in plain] == [s.answer for s in packed]
    assert result["values"] == ["false", "true"] and len(result["points"]) == 2
    with pytest.raises(MimicError, match="packed takes the values false,true"):
        run_sweep(catalog, model="oracle", task="counting", vary="packed", values=["yes"], fixed={}, count=1,
                  out=tmp_path / "t")


def test_bad_sweeps_are_refused() -> None:
    assert parse_assignment("n-images=2,4", "--vary") == ("n_images", "2,4")
    assert sweep_values("2-4") == ["2", "3", "4"]
    with pytest.raises(MimicError, match="unknown control 'colour'"):
        parse_assignment("colour=red", "--vary")
    with pytest.raises(MimicError, match="expected CONTROL=VALUES"):
        parse_assignment("n_images", "--vary")
    with pytest.raises(MimicError, match="repeated"):
        sweep_values("2,2")


def test_max_pixels_sweep_records_vision_tokens(toy: Path, tmp_path: Path) -> None:
    """Tokens per image as a control (issue 14): one bench, the model capped at each pixel budget; a tiny
    Qwen2-VL gives (sqrt(max_pixels) / 28)^2 tokens per image (14 px patches, 2x2 merge)."""
    catalog = load_catalog("toy", toy, toy.parent / "images")
    out = tmp_path / "tok"
    result = run_sweep(catalog, model="tiny:qwen2_vl", task="counting", vary="max_pixels", values=["3136", "12544"],
                       fixed={"n_images": "3"}, count=2, out=out, baselines=["chance"])
    assert [p["vision_tokens"] for p in result["points"]] == [3 * 4, 3 * 16]
    assert result["baselines"]["chance"][0]["vision_tokens"] is None  # baselines read no images
    assert [p.name for p in (out / "benches").iterdir()] == ["base"]  # a model control: one bench
    rows = [orjson.loads(x) for x in (out / "runs" / "tiny_qwen2_vl" / "max_pixels=12544" / "predictions.jsonl")
            .read_bytes().splitlines()]
    assert [r["vision_tokens"] for r in rows] == [48, 48] and all(r["prompt_tokens"] > 48 for r in rows)
    assert (out / "sweep_tokens.png").stat().st_size > 1000
    text = render_markdown([sweep_section([load_run(out / "runs" / "chance" / "max_pixels=3136")])], "report")
    assert "| 3136 | 12 |" in text and "figures/sweep-tokens-0.png" in text
    with pytest.raises(MimicError, match="'lots' is not a positive pixel count"):
        run_sweep(catalog, model="oracle", task="counting", vary="max_pixels", values=["lots"], fixed={}, count=1,
                  out=tmp_path / "bad")


def test_pooling_sweep_divides_the_vision_tokens(toy: Path, tmp_path: Path) -> None:
    """The pooling factor as a sweep control: the same bench, the model's image tokens pooled by k."""
    from mimic_vlm.probe.pooling import pooled_count

    catalog = load_catalog("toy", toy, toy.parent / "images")
    out = tmp_path / "pool"
    result = run_sweep(catalog, model="tiny:qwen2_vl", task="counting", vary="pooling", values=["1", "4"],
                       fixed={"n_images": "2", "max_pixels": "12544"}, count=2, out=out)
    assert [p["vision_tokens"] for p in result["points"]] == [2 * 16, 2 * pooled_count("qwen2_vl", 16, 4)]
    assert [p.name for p in (out / "benches").iterdir()] == ["base"]
    with pytest.raises(MimicError, match="--vary pooling: --model oracle is not a transformers model"):
        run_sweep(catalog, model="oracle", task="counting", vary="pooling", values=["2"], fixed={}, count=1,
                  out=tmp_path / "bad")
