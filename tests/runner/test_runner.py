"""The runner: scores, resume after a kill or a torn line, settings guard, selection, sharding, faults."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mimic_vlm.cli import main
from mimic_vlm.errors import MimicError
from mimic_vlm.evaluate import predictions as P
from mimic_vlm.evaluate.runner import Prompting, run_eval, select
from mimic_vlm.models.registry import load_model
from mimic_vlm.store import load_bench


def lines(run: Path) -> list[dict]:
    """Prediction lines without `latency_s`, the one field that differs between identical runs."""
    rows = [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "latency_s"} for r in rows]


def evaluate(bench_dir: Path, spec: str, out: Path, **kw) -> dict:
    bench = load_bench(bench_dir)
    return run_eval(bench, load_model(spec, bench=bench, device="cpu"), out, **kw)


def test_oracle_scores_100_percent_on_every_task(bench_dir: Path, tmp_path: Path) -> None:
    scores = evaluate(bench_dir, "oracle", tmp_path / "run", batch_size=5)
    assert set(scores["tasks"]) == {"counting", "listing", "common", "odd_one"}
    for task in scores["tasks"].values():
        assert task["metrics"][task["headline"]]["value"] == 1.0
    assert scores["mimic_score"]["value"] == 1.0 and scores["overall"]["n_unparsed"] == 0
    rows = lines(tmp_path / "run")
    assert [r["id"] for r in rows] == [s.id for s in load_bench(bench_dir).samples]  # bench order
    assert set(rows[0]) >= {"id", "task", "output", "parsed", "unparsed", "correct", "prompt_tokens",
                            "output_tokens"}
    assert json.loads((tmp_path / "run" / "scores.json").read_text())["mimic_score"]["value"] == 1.0


@pytest.mark.parametrize("spec", ["chance", "prior", "single-image"])
def test_baselines_are_deterministic_and_below_oracle(bench_dir: Path, tmp_path: Path, spec: str) -> None:
    first = evaluate(bench_dir, spec, tmp_path / "a", batch_size=3)
    evaluate(bench_dir, spec, tmp_path / "b", batch_size=100)
    assert lines(tmp_path / "a") == lines(tmp_path / "b")
    assert first["mimic_score"]["value"] < 1.0


def test_torn_last_line_is_cut_and_redone(bench_dir: Path, tmp_path: Path) -> None:
    evaluate(bench_dir, "chance", tmp_path / "ref")
    run = tmp_path / "run"
    evaluate(bench_dir, "chance", run, limit=7, batch_size=2)
    data = (run / "predictions.jsonl").read_bytes()
    (run / "predictions.jsonl").write_bytes(data[: len(data) - 30])  # a kill in the middle of line 7
    evaluate(bench_dir, "chance", run, batch_size=4)
    assert lines(run) == lines(tmp_path / "ref")


def test_other_settings_are_refused_unless_overwrite(bench_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    evaluate(bench_dir, "oracle", run, limit=3)
    with pytest.raises(MimicError, match=r"holds a run with other settings \(official: False -> True\).*--overwrite"):
        evaluate(bench_dir, "oracle", run, official=True)
    with pytest.raises(MimicError, match=r"model.model: 'oracle' -> 'chance'"):
        evaluate(bench_dir, "chance", run)
    with pytest.raises(MimicError, match=r"prompting.max_new_tokens: None -> 8"):
        evaluate(bench_dir, "oracle", run, prompting=Prompting(max_new_tokens=8))
    evaluate(bench_dir, "oracle", run, batch_size=7, limit=5)  # batch size and selection are no settings
    assert len(lines(run)) == 5
    scores = evaluate(bench_dir, "oracle", run, official=True, overwrite=True)
    assert json.loads((run / "run.json").read_text())["settings"]["official"] is True
    assert scores["official"] is True and len(lines(run)) == 12


def test_selection_by_task_ids_and_limit(bench_dir: Path, tmp_path: Path) -> None:
    samples = load_bench(bench_dir).samples
    assert [s.id for s in select(samples, tasks=["listing"], limit=2)] == ["listing-0000", "listing-0001"]
    assert [s.id for s in select(samples, ids=["odd_one-0001", "counting-0002"])] == ["counting-0002",
                                                                                     "odd_one-0001"]
    with pytest.raises(MimicError, match=r"--ids: 1 id\(s\) not in the bench, e.g. .nope."):
        select(samples, ids=["nope"])
    with pytest.raises(MimicError, match="unknown task 'dance'"):
        select(samples, tasks=["dance"])


def test_prompt_template_system_and_tokens_are_recorded(bench_dir: Path, tmp_path: Path) -> None:
    prompting = Prompting(template="{question} ({n_images} images)", system="Be terse.", max_new_tokens=4)
    evaluate(bench_dir, "oracle", tmp_path / "run", prompting=prompting, limit=1)
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["settings"]["prompting"] == {"template": "{question} ({n_images} images)", "system": "Be terse.",
                                            "max_new_tokens": 4}
    assert run["prompt_examples"]["counting"] == "Question counting 0 about dog? (4 images)"
    with pytest.raises(MimicError, match="--prompt-template .*bad placeholder"):
        Prompting(template="{nope}").text(load_bench(bench_dir).samples[0])


def test_shard_and_merge() -> None:
    ids = [f"s{i}" for i in range(7)]
    shards = [P.shard(ids, r, 3) for r in range(3)]
    assert sorted(sum(shards, [])) == sorted(ids) and [len(s) for s in shards] == [3, 2, 2]


def test_merge_dedups_rank_files_in_bench_order(tmp_path: Path) -> None:
    with P.Appender(P.rank_file(tmp_path, 1)) as log:
        log.write([{"id": "b", "output": "1"}, {"id": "a", "output": "2"}])
    with P.Appender(P.rank_file(tmp_path, 0)) as log:
        log.write([{"id": "c", "output": "3"}, {"id": "a", "output": "9"}])
    assert [(r["id"], r["output"]) for r in P.merge(tmp_path, ["a", "b", "c"])] == [("a", "9"), ("b", "1"),
                                                                                    ("c", "3")]
    assert [p.name for p in tmp_path.iterdir()] == ["predictions.jsonl"]


def test_cli_faults_exit_2_before_any_output(bench_dir: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture) -> None:
    (bench_dir / "images" / "000003.png").unlink()
    for spec, extra, message in [("oracle", [], "refers to missing image"),
                                 ("gpt9", [], "unknown model kind 'gpt9'"),
                                 ("chance", ["--mask-layers", "2-3"], "only hf:, tiny:, toy: models take"),
                                 ("oracle", ["--prompt-template", "{oops}"], "bad placeholder")]:
        with pytest.raises(SystemExit) as exc:
            main(["eval", str(bench_dir), "--model", spec, "--out", str(tmp_path / "run"), *extra])
        assert exc.value.code == 2 and message in capsys.readouterr().err
        assert not (tmp_path / "run").exists()


def test_resume_after_sigkill_loses_and_duplicates_nothing(tmp_path: Path, bench_factory) -> None:
    bench_dir = bench_factory("bench12", per_task=3)
    run = tmp_path / "run"
    argv = ["eval", str(bench_dir), "--model", "tiny:qwen2_vl", "--out", str(run), "--no-progress",
            "--device", "cpu"]
    proc = subprocess.Popen([sys.executable, "-m", "mimic_vlm", *argv, "--batch-size", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if (run / "predictions.jsonl").is_file() and (run / "predictions.jsonl").read_bytes().count(b"\n") >= 2:
            break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = (run / "predictions.jsonl").read_bytes().count(b"\n")
    assert 2 <= done < 12 and not (run / "scores.json").exists()
    main([*argv, "--batch-size", "3"])  # resume, another batch size
    main([*argv[:5], str(tmp_path / "ref"), *argv[6:], "--batch-size", "8"])  # uninterrupted reference
    assert lines(run) == lines(tmp_path / "ref")
    assert len(lines(run)) == 12 and len({r["id"] for r in lines(run)}) == 12


def test_oracle_is_perfect_on_a_generated_toy_bench(tmp_path: Path) -> None:
    main(["generate", "--count", "6", "--toy-images", "40", "--out", str(tmp_path / "toy")])
    for spec in ("oracle", "single-image", "chance", "prior"):
        scores = evaluate(tmp_path / "toy", spec, tmp_path / spec)
        assert set(scores["tasks"]) == {"counting", "listing", "common", "odd_one"}
        if spec == "oracle":
            assert all(t["metrics"][t["headline"]]["value"] == 1.0 for t in scores["tasks"].values())
        else:
            assert scores["mimic_score"]["value"] < 1.0


def test_cli_selection_options_and_summary_table(bench_dir: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "ids.txt").write_text("common-0002\nlisting-0001\n\ncounting-0000\n")
    main(["eval", str(bench_dir), "--model", "oracle", "--out", str(tmp_path / "a"), "--ids",
          f"@{tmp_path / 'ids.txt'}", "--task", "listing,common", "--no-progress"])
    assert [r["id"] for r in lines(tmp_path / "a")] == ["listing-0001", "common-0002"]
    printed = capsys.readouterr().out
    assert "MIMIC score" in printed and "unparsed answers: 0 of 2" in printed
    main(["eval", str(bench_dir), "--model", "prior", "--out", str(tmp_path / "b"), "--limit", "5",
          "--no-progress"])
    assert len(lines(tmp_path / "b")) == 5
