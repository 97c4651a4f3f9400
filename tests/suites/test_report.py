"""The combined table: MIMIC and the benchmarks per model, base and fine-tuned side by side."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from benchmark_files import mimic_bench

from mimic_vlm.evaluate.runner import run_eval
from mimic_vlm.evaluate.stats import Estimate
from mimic_vlm.models.base import Generation, Request
from mimic_vlm.plugins import REPORT_SECTIONS
from mimic_vlm.report.benchmarks import benchmarks_section, cell
from mimic_vlm.report.blocks import Table
from mimic_vlm.report.render import render_markdown
from mimic_vlm.report.runs import load_runs
from mimic_vlm.store import load_bench
from mimic_vlm.suites.importer import import_benchmark


@dataclass
class ScriptedModel:
    """A real `Model`: the answer key (a fine-tuned stand-in) or always "A" (the base stand-in)."""

    name: str
    knows: bool
    settings: dict[str, Any] = field(default_factory=dict)
    max_batch_size: int = 4

    def generate(self, requests: list[Request]) -> list[Generation]:
        return [Generation("A" if not self.knows else f"The answer is ({r.sample['answer']})"
                           if r.sample.get("options") else r.sample["gt"]) for r in requests]

    def describe(self) -> dict[str, Any]:
        return {"kind": "scripted", "model": "tiny-vlm", **self.settings}


BASE = ScriptedModel("base", knows=False)
TUNED = ScriptedModel("tuned", knows=True, settings={"adapter": "/ckpt/lora-mimic"})


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, nlvr2_release: Path, muirbench_release: Path) -> list[Path]:
    root = tmp_path_factory.mktemp("runs")
    benches = {"mimic": load_bench(mimic_bench(root / "mimic"))}
    import_benchmark("nlvr2", nlvr2_release, root / "nlvr2")
    import_benchmark("muirbench", muirbench_release, root / "muir", circular_eval=True)
    benches.update(nlvr2=load_bench(root / "nlvr2"), muir=load_bench(root / "muir"))
    out = []
    for model in (BASE, TUNED):
        for name, bench in benches.items():
            run_eval(bench, model, root / f"{model.name}-{name}")
            out.append(root / f"{model.name}-{name}")
    return out


def test_one_table_per_model_base_and_fine_tuned_side_by_side(runs: list[Path]) -> None:
    section = benchmarks_section(load_runs(runs))
    assert section is not None
    tables = [b for b in section.blocks if isinstance(b, Table)]
    assert len(tables) == 1  # one model: tiny-vlm
    table = tables[0]
    assert table.headers == ["metric", "n", "base", "fine-tuned: lora-mimic", "Δ [95% paired CI]", "McNemar p"]
    rows = {r[0]: r for r in table.rows}
    assert list(rows) == ["MIMIC score", "MIMIC counting (accuracy)", "MIMIC listing (micro F1)", "MuirBench accuracy",
                          "MuirBench circular accuracy", "NLVR2 accuracy", "NLVR2 consistency"]
    assert rows["NLVR2 accuracy"][1] == "4" and rows["NLVR2 accuracy"][2].startswith("0.500 [")
    # NLVR2: "A" is right on 2 of 4 pairs, the key on all: 2 fixed, 0 broken -> p = 2 / 2^2
    assert rows["NLVR2 accuracy"][3].startswith("1.000") and rows["NLVR2 accuracy"][4].startswith("+0.500 [")
    assert rows["NLVR2 accuracy"][5] == "0.500"
    assert rows["NLVR2 consistency"][2].startswith("0.000") and rows["NLVR2 consistency"][4].startswith("+1.000")
    assert rows["MuirBench circular accuracy"][1] == "4"  # four items, twelve rotations
    assert rows["MuirBench circular accuracy"][2].startswith("0.000")
    assert rows["MuirBench circular accuracy"][4] == "+1.000 [+1.000, +1.000]"
    # always "A" on counting answers nothing right; the key gets every one: every sample is fixed
    n = int(rows["MIMIC counting (accuracy)"][1])
    assert rows["MIMIC counting (accuracy)"][2:] == ["0.000 [0.000, 0.000]", "1.000 [1.000, 1.000]",
                                                     "+1.000 [+1.000, +1.000]", f"{2 / 2**n:.3f}"]
    assert rows["MIMIC listing (micro F1)"][3] == "1.000 [1.000, 1.000]"
    assert rows["MIMIC score"][4].startswith("+") and rows["MIMIC score"][5] == ""


def test_the_section_is_registered_and_renders(runs: list[Path]) -> None:
    assert benchmarks_section in REPORT_SECTIONS
    md = render_markdown([benchmarks_section(load_runs(runs))], "report")  # type: ignore[list-item]
    assert "## MIMIC and multi-image benchmarks: base vs fine-tuned" in md
    assert "| NLVR2 consistency |" in md


def test_a_single_mimic_run_gets_no_section(runs: list[Path]) -> None:
    assert benchmarks_section(load_runs(runs[:1])) is None


def test_cells() -> None:
    a = Estimate(0.5, (0.4, 0.6), 10)
    assert (cell(a), cell(None), cell(Estimate(None, None, 0))) == ("0.500 [0.400, 0.600]", "–", "–")


def test_a_moved_benchmark_bench_falls_back_to_scores_json(runs: list[Path], tmp_path: Path) -> None:
    import shutil

    from mimic_vlm.report.benchmarks import run_entries

    run = load_runs([runs[4]])[0]  # the fine-tuned model on NLVR2
    bench = Path(run.settings["bench"])
    assert list(run_entries(run)) == ["NLVR2 accuracy", "NLVR2 consistency"]
    moved = tmp_path / "moved"
    shutil.copytree(bench, moved)
    (moved / "samples.jsonl").unlink()
    run.settings = {**run.settings, "bench": str(moved)}
    assert list(run_entries(run)) == ["NLVR2 mcq (accuracy)"]  # manifest still says NLVR2; no consistency
    run.settings = {**run.settings, "bench": str(tmp_path / "gone")}
    assert list(run_entries(run)) == ["gone mcq (accuracy)"]
