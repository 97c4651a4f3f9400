"""`benchmarks/studyable.py --smoke`: the studyable model's whole recipe (data, growth, two stages, validation,
held-out scores, summary) at toy sizes, and the pieces it rests on."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "studyable.py"


@pytest.fixture(scope="module")
def studyable():
    spec = importlib.util.spec_from_file_location("studyable", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["studyable"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    del sys.modules["studyable"]


def test_budget_split_is_fixed_follows_the_weights_and_bounds_the_sample_length(studyable) -> None:
    ids = [f"counting-{i:06d}" for i in range(4000)]
    first = [studyable.budget_of(i, 1, (40, 20, 25, 15), 160) for i in ids]
    assert first == [studyable.budget_of(i, 1, (40, 20, 25, 15), 160) for i in ids]
    shares = {t: first.count(t) / len(ids) for t in studyable.BUDGETS}
    assert abs(shares[64] - 0.40) < 0.03 and abs(shares[9] - 0.15) < 0.03
    assert {studyable.budget_of(i, 2, (1, 0, 0, 0), 160) for i in ids} == {64}
    assert {studyable.budget_of(i, 4, (40, 20, 25, 15), 160) for i in ids} == {36, 16, 9}  # 4 x 64 > 160
    assert {studyable.budget_of(i, 8, (40, 20, 25, 15), 160) for i in ids} == {16, 9}
    assert {studyable.budget_of(i, 8, (1, 0, 0, 0), 100) for i in ids} == {9}  # nothing fits: the smallest


def test_smoke_runs_the_whole_recipe_and_resumes_without_redoing_anything(studyable, tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    studyable.main(["--smoke", "--out", str(tmp_path)])
    grown = json.loads((tmp_path / "init" / "grown-8" / "growth_check.json").read_text())
    assert grown["layers_before"] == 4 and grown["layers_after"] == 8
    assert grown["max_abs_logit_diff"] == 0.0 and grown["samples"] > 0  # growth keeps the function exactly
    config = json.loads((tmp_path / "init" / "grown-8" / "config.json").read_text())
    assert config["text_config"]["num_hidden_layers"] == 8
    mixture = next((tmp_path / "data").glob("mixture-w*.yaml")).read_text()
    assert all(f"max_pixels: {cap}" in mixture for cap in studyable.BUDGETS.values())
    common = (tmp_path / "data" / "common-2-8")
    kept = {r["id"] for f in common.glob("train_w*_b*.json") for r in json.loads(f.read_text())}
    assert kept and not kept & studyable.vacuous_ids(common)  # no common sample with a blank image is trained on
    vals = {p.stem: json.loads(p.read_text()) for p in (tmp_path / "val").glob("*.json")}
    cooled = [k for k in vals if k.startswith("B-A-")]  # the cool-down from the best stage-A checkpoint
    assert {"init-0", "A-1"} <= set(vals) and cooled and set(vals["A-1"]["probes"]) == set(studyable.PROBES)
    (held,) = [json.loads(p.read_text()) for p in (tmp_path / "heldout").glob("*.json")]
    assert held["world_seed"] == studyable.SMOKE.heldout_seed and set(held["probes"]) == set(studyable.PROBES)
    row = held["probes"]["count-2-36tok"]
    assert row["target"] == "prior+0.3" and row["met"] == (row["model"]["value"] >= row["prior"]["value"] + 0.3)
    assert held["probes"]["count-2"]["model"]["vision_tokens"] == 32  # 2 smoke scenes of 112 px: 16 tokens each
    assert held["probes"]["count-1"]["model"]["n"] == studyable.SMOKE.heldout_count
    assert (tmp_path / "final").exists() == held["all_targets_met"]
    capsys.readouterr()
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.json")}
    studyable.main(["--smoke", "--out", str(tmp_path)])  # everything exists: nothing is redone
    assert {p: p.stat().st_mtime_ns for p in before if p.name != "plan.json"} == {
        p: t for p, t in before.items() if p.name != "plan.json"}
    studyable.main(["--smoke", "--out", str(tmp_path), "--summary"])
    text = capsys.readouterr().out
    assert "| A-1 |" in text and "Held-out world (seed 23)" in text and "| count-2-packed |" in text
    assert f"stage {cooled[0].rsplit('-', 1)[0]}: step" in text
    # a second cool-down, from another validated stage-A checkpoint, beside the first (chosen on validation too)
    other = next(k for k in ("A-1", "A-2") if not cooled[0].startswith(f"B-{k}-"))
    studyable.main(["--smoke", "--out", str(tmp_path), "--cool-from", other])
    assert (tmp_path / "val" / f"B-{other}-1.json").exists()
    with pytest.raises(SystemExit, match="A-99: not a validated checkpoint"):
        studyable.main(["--smoke", "--out", str(tmp_path), "--cool-from", "A-99"])
    studyable.main(["--smoke", "--out", str(tmp_path), "--heldout"])  # the best validated so far, held out
    chosen = studyable.best(studyable.validated(tmp_path))
    assert (tmp_path / "heldout" / f"{chosen}.json").exists() and "init-0" not in studyable.validated(tmp_path)
    ship = tmp_path / "ship"
    if not held["all_targets_met"]:  # smoke sizes meet no target: ship refuses, then ships a stand-in
        with pytest.raises(SystemExit, match="no model met every target"):
            studyable.main(["--smoke", "--out", str(tmp_path), "--ship", str(ship)])
        shutil.copytree(tmp_path / "models" / held["model"], tmp_path / "final")
        (tmp_path / "final" / "heldout.json").write_text(json.dumps(held))
    studyable.main(["--smoke", "--out", str(tmp_path), "--ship", str(ship)])
    assert json.loads((ship / "toy_world.json").read_text()) == {"preset": studyable.SMOKE.preset}
    record = json.loads((ship / "training.json").read_text())
    assert record["chosen"] == held["model"] and record["plan"]["preset"] == studyable.SMOKE.preset
    assert {"model.safetensors", "config.json", "tokenizer.json", "processor_config.json"} <= {
        p.name for p in ship.iterdir()}
