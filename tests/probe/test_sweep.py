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
    assert [p["score"]["value"] for p in result["points"]] == [1.0, 1.0, 1.0]  # the score
    assert [p["value"] for p in result["points"]] == ["2", "3", "4"]  # the control value
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


# ---- sweeps that cannot lie (issue 25)

def _sweep_cli(toy: Path, out: Path, *extra: str) -> list[str]:
    return ["sweep", "--model", "oracle", "--task", "counting", "--out", str(out), "--source", "toy",
            "--annotations", str(toy), "--images-dir", str(toy.parent / "images"), "--no-progress", *extra]


def test_a_second_sweep_with_other_settings_is_refused_or_scores_new_benches(toy: Path, tmp_path: Path) -> None:
    out = tmp_path / "s"
    main(_sweep_cli(toy, out, "--vary", "spread=1,2", "--fix", "n_images=2", "--count", "3", "--seed", "7"))
    first = load_bench(out / "benches" / "spread=1").manifest_hash
    with pytest.raises(MimicError, match=r"benches/spread=1: a bench made with other settings \(.*count_per_task: 3 "
                                         r"-> 4.*use --overwrite"):
        run_sweep(load_catalog("toy", toy, toy.parent / "images"), model="oracle", task="counting", vary="spread",
                  values=["1", "2"], fixed={"n_images": "3"}, count=4, seed=99, out=out)
    assert load_bench(out / "benches" / "spread=1").manifest_hash == first  # nothing rebuilt by the refusal
    main(_sweep_cli(toy, out, "--vary", "spread=1,2", "--fix", "n_images=3", "--count", "4", "--seed", "99",
                    "--overwrite"))
    result = orjson.loads((out / "sweep.json").read_bytes())
    assert [p["n"] for p in result["points"]] == [4, 4] and result["seed"] == 99
    for v in ("1", "2"):
        bench = load_bench(out / "benches" / f"spread={v}")
        assert bench.manifest["seed"] == 99 and len(bench.samples) == 4
        assert {s.controls["n_images"] for s in bench.samples} == {3}
        run = orjson.loads((out / "runs" / "oracle" / f"spread={v}" / "run.json").read_bytes())
        assert run["settings"]["bench_manifest_hash"] == bench.manifest_hash  # scored on the new bench
    main(_sweep_cli(toy, out, "--vary", "spread=1,2", "--fix", "n_images=3", "--count", "4", "--seed", "99"))  # resumes


def test_spread_with_distractors_derives_n_images_and_runs_every_value(toy: Path, tmp_path: Path) -> None:
    out = tmp_path / "d"
    main(_sweep_cli(toy, out, "--vary", "distractors=0-4", "--fix", "spread=2", "--count", "2"))
    result = orjson.loads((out / "sweep.json").read_bytes())
    assert [p["value"] for p in result["points"]] == ["0", "1", "2", "3", "4"]
    assert result["derived"] == {"n_images": "2"}  # of the first value; each value's own below
    for d in range(5):
        assert {s.controls["n_images"] for s in load_bench(out / "benches" / f"distractors={d}").samples} == {2 + d}


def test_an_impossible_value_is_refused_before_anything_runs_naming_the_cause(toy: Path, tmp_path: Path) -> None:
    out = tmp_path / "bad"
    code = None
    try:
        main(_sweep_cli(toy, out, "--vary", "distractors=1,2,3", "--fix", "spread=2", "--fix", "n_images=4"))
    except SystemExit as e:
        code = e.code
    assert code == 2 and not out.exists()  # no partial folder, no runs of the values that were possible
    with pytest.raises(MimicError, match=r"--vary distractors=1 \(n_images=4 spread=2 distractors=1\): spread=2 \+ "
                                         r"distractors=1 never equals n_images=4"):
        run_sweep(load_catalog("toy", toy, toy.parent / "images"), model="oracle", task="counting",
                  vary="distractors", values=["1", "2", "3"], fixed={"spread": "2", "n_images": "4"}, count=1,
                  out=out)
    assert not out.exists()


def test_points_record_the_model_options_and_toy_models_pool(toy: Path, tmp_path: Path) -> None:
    from mimic_vlm.masking import mask_from_options
    from mimic_vlm.models.registry import ModelOptions

    catalog = load_catalog("toy", toy, toy.parent / "images")
    result = run_sweep(catalog, model="tiny:qwen2_vl", task="counting", vary="n_images", values=["2"], fixed={},
                       count=1, out=tmp_path / "m", model_options=ModelOptions(mask=mask_from_options("1", "sdpa"),
                                                                               max_pixels=3136))
    options = result["points"][0]["model_options"]
    assert options["max_pixels"] == 3136 and options["mask"]["layers"] == "1" and options["pooling"] is None
    pooled = run_sweep(catalog, model="toy:mimic-tiny", task="counting", vary="pooling", values=["2"], fixed={},
                       count=1, out=tmp_path / "p")
    assert pooled["points"][0]["model_options"]["pooling"] == 2


def test_served_models_plot_against_input_tokens(tmp_path: Path) -> None:
    """A served model reports no image tokens (vLLM's usage), only the whole input: the token plot falls back
    to input tokens per sample, and draws nothing without either."""
    from mimic_vlm.probe.sweep import plot_tokens

    def point(value: str, inputs: float | None) -> dict:
        return {"value": value, "score": {"value": 0.5, "ci": [0.4, 0.6]}, "metric": "accuracy", "n": 10,
                "vision_tokens": None, "input_tokens": inputs}

    result = {"model": "openai:m@http://127.0.0.1:1/v1", "task": "counting", "vary": "n_images",
              "points": [point("2", 310.0), point("4", 610.0)]}
    path = plot_tokens(result, tmp_path / "tokens.png")
    assert path is not None and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result["points"] = [point("2", None), point("4", None)]
    assert plot_tokens(result, tmp_path / "tokens.png") is None and not (tmp_path / "tokens.png").exists()
