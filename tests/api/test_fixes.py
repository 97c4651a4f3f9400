"""Defects a new user met (issue 22): `--limit` took the first N samples (all counting), `mimic report runs/*`
failed on a training folder, `--no-progress` left transformers' "Loading weights" bar, adapter and masked runs
were titled and listed as their plain base model."""

from __future__ import annotations

from collections import Counter

import pytest

import mimic_vlm as mv
from mimic_vlm.cli import main
from mimic_vlm.evaluate.runner import select
from mimic_vlm.files import write_json_atomic
from mimic_vlm.report.runs import RunData, model_title, run_title


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    root = tmp_path_factory.mktemp("api")
    world = mv.toy_world(root / "w", images=60, seed=0, preset="tiny")
    return mv.generate(root / "b", annotations=world, count=3, n_images="2-3")


def code_of(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as e:
        main(argv)
        raise SystemExit(0)
    return int(e.value.code or 0)


def test_limit_is_balanced_over_the_tasks(bench):
    def counts(limit: int, **kw: object) -> dict[str, int]:
        return dict(Counter(s.task for s in select(bench.samples, limit=limit, **kw)))  # type: ignore[arg-type]

    assert counts(4) == {"counting": 1, "listing": 1, "common": 1, "odd_one": 1}
    assert counts(6) == {"counting": 2, "listing": 2, "common": 1, "odd_one": 1}
    assert counts(100) == {"counting": 3, "listing": 3, "common": 3, "odd_one": 3}
    assert counts(4, tasks=["listing", "common"]) == {"listing": 2, "common": 2}
    chosen = select(bench.samples, limit=5)
    order = [s.id for s in bench.samples]
    assert [s.id for s in chosen] == sorted((s.id for s in chosen), key=order.index)  # bench order
    assert [s.id for s in chosen][:2] == ["counting-000000", "counting-000001"]


def test_report_skips_a_training_folder_with_a_note(bench, tmp_path, capsys):
    run = mv.evaluate(bench, "oracle", tmp_path / "runs" / "oracle")
    trained = tmp_path / "runs" / "lora-mask"  # what `mimic train --out` leaves: its record, no scores
    write_json_atomic(trained / "mimic_train.json", {"base_model": "tiny:qwen2_vl", "method": "lora"})
    assert code_of(["report", str(run.path), str(trained), "--out", str(tmp_path / "rep")]) == 0
    err = capsys.readouterr().err
    assert f"{trained}: a training folder (mimic train --out)" in err and "skipped" in err
    assert "lora-mask" not in (tmp_path / "rep" / "report.md").read_text()
    assert code_of(["report", str(trained), "--out", str(tmp_path / "rep2")]) == 2
    assert "a training folder (mimic train --out), not an evaluation run; evaluate it with `mimic eval " \
           "--adapter" in capsys.readouterr().err
    assert not (tmp_path / "rep2").exists()
    with pytest.warns(UserWarning, match="a training folder"):
        mv.report([run, trained], tmp_path / "rep3")


def test_no_progress_silences_the_loading_bar(bench, tmp_path, capfd):
    argv = ["eval", str(bench.root), "--model", "toy:mimic-tiny", "--limit", "1"]
    assert code_of([*argv, "--out", str(tmp_path / "a")]) == 0
    assert "Loading weights" in capfd.readouterr().err  # the bar this test is about, shown by default
    assert code_of([*argv, "--out", str(tmp_path / "b"), "--no-progress"]) == 0
    assert "Loading weights" not in capfd.readouterr().err
    mv.evaluate(bench, "toy:mimic-tiny", tmp_path / "c", limit=1)  # the API shows no bars unless given progress
    assert "Loading weights" not in capfd.readouterr().err
    from transformers.utils import logging

    assert logging.is_progress_bar_enabled()  # put back afterwards


def test_titles_name_the_adapter_and_the_mask(tmp_path):
    plain = {"kind": "tiny", "model": "tiny:qwen2_vl", "adapter": None, "mask": None}
    tuned = {**plain, "adapter": str(tmp_path / "runs" / "lora")}
    masked = {**plain, "mask": {"layers": [2, 3, 4, 7], "backend": "auto"}}
    assert model_title(plain) == "tiny:qwen2_vl"
    assert model_title(tuned) == "tiny:qwen2_vl + adapter lora"
    assert model_title(masked) == "tiny:qwen2_vl + mask 2-4,7"
    run = RunData("r", tmp_path, {"tasks": {}}, {"settings": {"model": masked}})
    assert run_title(run) == "tiny:qwen2_vl + mask 2-4,7"
    assert run_title(RunData("folder", tmp_path, {"tasks": {}})) == "folder"


def test_compare_fits_80_columns_without_cutting_a_cell(bench, tmp_path):
    import os
    import subprocess
    import sys

    a = mv.evaluate(bench, "single-image", tmp_path / "single-image")
    b = mv.evaluate(bench, "prior", tmp_path / "a-run-with-a-rather-long-folder-name")
    done = subprocess.run([sys.executable, "-m", "mimic_vlm", "compare", str(a.path), str(b.path)],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "80"})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "…" not in done.stdout and max(map(len, lines)) <= 80
    comparison = mv.compare(a, b)
    for task, d in comparison.tasks.items():  # every task's row, whole: n, A, B, the difference and its interval
        assert d.diff is not None and d.ci is not None
        row = next(line for line in lines if line.startswith(f"{task} "))
        assert f"{d.diff:+.3f} [{d.ci[0]:+.3f}, {d.ci[1]:+.3f}]" in row and f" {d.fixed} " in row
    assert any(line.startswith("MIMIC score") for line in lines)


def test_pack_takes_the_packable_tasks_of_an_all_task_bench(bench, tmp_path, capsys):
    from mimic_vlm.store import load_bench

    assert code_of(["pack", str(bench.root), "--out", str(tmp_path / "p")]) == 0
    packed = load_bench(tmp_path / "p")
    assert [s.task for s in packed.samples] == ["counting"] * 3 + ["listing"] * 3
    assert all(s.controls["packed"] for s in packed.samples) and packed.manifest["tasks"] == ["counting", "listing"]
    assert packed.manifest["packed_from"]["left_out"] == 6
    assert "packed 6 samples" in capsys.readouterr().out
    assert code_of(["pack", str(bench.root), "--out", str(tmp_path / "q"), "--task", "listing"]) == 0
    assert [s.task for s in load_bench(tmp_path / "q").samples] == ["listing"] * 3
    assert code_of(["pack", str(bench.root), "--out", str(tmp_path / "r"), "--task", "common"]) == 2
    assert "--task common: only counting and listing samples can be packed" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
