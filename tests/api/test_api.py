"""The Python API (`import mimic_vlm as mv`): the issue's snippet as written, its docstring example, the README's
"Python" section, and that it reads and writes the same files as the commands."""

from __future__ import annotations

import doctest
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import mimic_vlm as mv
from mimic_vlm import api
from mimic_vlm.cli import main
from mimic_vlm.errors import MimicError

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*argv: str) -> None:
    with pytest.raises(SystemExit) as e:
        main(list(argv))
        raise SystemExit(0)
    assert e.value.code == 0


def readme_python() -> str:
    readme = (ROOT / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", readme[readme.index("\n## Python\n"):], re.S)
    assert code is not None
    return code.group(1)


def test_the_readme_python_section_is_the_issue_snippet_and_runs(tmp_path, monkeypatch):
    """The README's "Python" section holds the issue's snippet line by line and runs as written in an empty
    folder; what it returns is what the files say."""
    code = readme_python()
    for line in ('mv.toy_world("w", images=200, seed=3, preset="tiny")', 'run = mv.evaluate(bench, "toy:mimic-tiny", out="r")',
                 'task="all", count=8, n_images="2-3", seed=1)',
                 'assert mv.score(bench, "r/predictions.jsonl").mimic_score == run.scores.mimic_score',
                 'assert mv.load_run("r").scores.mimic_score == run.scores.mimic_score'):
        assert line in code
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), namespace)
    run, diff = namespace["run"], namespace["diff"]
    assert isinstance(run, mv.Run) and isinstance(diff, mv.Comparison)
    scores = json.loads(Path("r/scores.json").read_text())
    assert isinstance(run.scores.mimic_score, float) and run.scores.mimic_score == scores["mimic_score"]["value"]
    assert run.scores.tasks["counting"].metrics["correct"].value == scores["tasks"]["counting"]["metrics"][
        "correct"]["value"]
    assert run.scores.tasks["counting"].value == run.scores.tasks["counting"].metrics["correct"].value
    assert list(run.scores.tasks) == ["counting", "listing", "common", "odd_one"]
    baseline = json.loads(Path("p/scores.json").read_text())
    assert (diff.a, diff.b, diff.n_shared) == ("p", "r", 32)
    assert diff.mimic_diff == pytest.approx(run.scores.mimic_score - baseline["mimic_score"]["value"])
    for task, d in diff.tasks.items():
        assert d.n == 8 and d.fixed + d.broken + d.both_right + d.both_wrong == 8, task
    assert Path("report/report.html").is_file()


def test_all_is_all_tasks_and_the_manifest_says_so(tmp_path):
    world = mv.toy_world(tmp_path / "w", images=60, seed=0, preset="tiny")
    for i, task in enumerate(("all", ["all"])):
        bench = mv.generate(tmp_path / f"b{i}", annotations=world, task=task, count=2, n_images=[2, 3])
        assert [s.task for s in bench.samples] == ["counting"] * 2 + ["listing"] * 2 + ["common"] * 2 + ["odd_one"] * 2
        command = bench.manifest["command"]
        assert " --task all " in command and " --n-images 2,3 " in command
    bench = mv.generate(tmp_path / "two", annotations=str(world), task=["listing", "counting"], count=1)
    assert [s.task for s in bench.samples] == ["listing", "counting"]
    assert " --task listing,counting " in bench.manifest["command"]
    for bad, message in ((["all", "counting"], "'all' stands alone"), ("dance", "--task 'dance'"),
                         (["counting", "counting"], "named twice"), ([], "name at least one")):
        with pytest.raises(MimicError, match=message):
            mv.generate(tmp_path / "bad", annotations=world, task=bad, count=1)
    assert not (tmp_path / "bad").exists()


def test_api_and_cli_write_the_same_files(tmp_path):
    """One implementation: the command and the function give byte-identical benches, runs and scores."""
    world = mv.toy_world(tmp_path / "w", images=60, seed=0, preset="tiny")
    run_cli("toy", "--out", str(tmp_path / "w2"), "--toy-images", "60", "--toy-preset", "tiny")
    assert (tmp_path / "w2" / "annotations.json").read_bytes() == world.read_bytes()
    mv.generate(tmp_path / "b", annotations=world, count=3, n_images="2-4", seed=2)
    run_cli("generate", "--annotations", str(world), "--count", "3", "--n-images", "2-4", "--seed", "2",
            "--out", str(tmp_path / "b2"))
    for name in ("samples.jsonl",):
        assert (tmp_path / "b" / name).read_bytes() == (tmp_path / "b2" / name).read_bytes()
    run = mv.evaluate(tmp_path / "b", "chance", tmp_path / "r")
    run_cli("eval", str(tmp_path / "b"), "--model", "chance", "--out", str(tmp_path / "r2"),
            "--no-progress")
    assert (tmp_path / "r" / "scores.json").read_bytes() == (tmp_path / "r2" / "scores.json").read_bytes()
    assert run.model == "chance" and run.bench == (tmp_path / "b").resolve()
    scores = mv.score(tmp_path / "b", tmp_path / "r" / "predictions.jsonl", out=tmp_path / "s.json",
                      scored=tmp_path / "rows.jsonl")
    assert json.loads((tmp_path / "s.json").read_text()) == scores.raw
    assert len((tmp_path / "rows.jsonl").read_text().splitlines()) == 12
    assert mv.Scores.load(tmp_path / "s.json") == scores
    with pytest.raises(MimicError, match="file exists"):
        mv.score(tmp_path / "b", tmp_path / "r" / "predictions.jsonl", out=tmp_path / "s.json")
    report = mv.report([run, tmp_path / "r2"], tmp_path / "rep", title="two chance runs")
    assert (report / "report.html").is_file() and "# two chance runs" in (report / "report.md").read_text()


def test_the_module_docstring_example_runs(tmp_path):
    """api.py's example, run as a doctest (with `tmp` a fresh folder)."""
    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    tests = [t for t in finder.find(api, "mimic_vlm.api", globs={"tmp": tmp_path}) if t.examples]
    assert tests, "api.py lost its example"
    for t in tests:
        runner.run(t)
    assert runner.summarize(verbose=False).failed == 0


def test_light_import_and_callable_subpackages():
    """`import mimic_vlm` loads nothing heavy; `mv.evaluate` / `mv.report` are callable whichever was imported first
    (they are also subpackages), and their submodules stay reachable."""
    code = ("import sys, mimic_vlm as mv; heavy = [m for m in ('torch', 'transformers', 'matplotlib', 'mimic_vlm.api')"
            " if m in sys.modules]; assert not heavy, heavy; import mimic_vlm.evaluate.runner, mimic_vlm.report.runs;"
            " assert callable(mv.evaluate) and callable(mv.report); assert mv.evaluate.runner.select;"
            " import inspect; assert 'model_options' in str(inspect.signature(mv.evaluate))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert set(mv.__all__) <= set(dir(mv))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        mv.nope  # noqa: B018


def test_bad_input_is_one_mimic_error(tmp_path):
    with pytest.raises(MimicError, match="not a bench"):
        mv.load_bench(tmp_path)
    with pytest.raises(MimicError, match="not a run folder"):
        mv.load_run(tmp_path)
    with pytest.raises(MimicError, match="--count 0: must be at least 1"):
        mv.generate(tmp_path / "b", count=0)
    assert not (tmp_path / "b").exists()


def test_mv_study_runs_the_study_and_the_package_stays_reachable(tmp_path) -> None:
    """`mv.study` is the `mimic study` of Python (issue 22: "and mv.study once it exists"); the `study`
    subpackage it shares its name with stays importable."""
    import mimic_vlm as mv
    from mimic_vlm.study.run import PROFILES

    world = mv.toy_world(tmp_path / "w", images=80, seed=2, preset="tiny")
    record = mv.study("oracle", str(tmp_path / "s"), findings="F1,F5", count=3, annotations=world,
                      images_dir=world.parent / "images")
    assert record["model"] == "oracle" and [f["id"] for f in record["findings"]] == ["F1", "F5"]
    assert all(lv["metric"] == 1.0 for f in record["findings"] for lv in f["levels"])
    assert (tmp_path / "s" / "study.json").is_file() and "quick" in PROFILES
