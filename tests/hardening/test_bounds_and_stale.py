"""issue 23 §4-5: no silent wrong result (a prediction line without output, a bench regenerated under a run,
infinite learning rates) and every numeric option bounded (NaN and infinity included)."""

from __future__ import annotations

import json

import pytest
from hardening_helpers import rows, write_rows

from mimic_vlm import limits


def test_a_prediction_line_without_output_is_predicted_again(bench_dir, tmp_path, cli):
    out = tmp_path / "run"
    argv = ("eval", bench_dir, "--model", "oracle", "--out", out, "--no-progress")
    assert cli(*argv).code == 0
    data = rows(out / "predictions.jsonl")
    write_rows(out / "predictions.jsonl", [data[0], {"id": data[1]["id"]}])  # the output cut off
    (out / "scores.json").unlink()
    assert cli(*argv).code == 0
    again = rows(out / "predictions.jsonl")
    assert [r["id"] for r in again] == [d["id"] for d in data] and all(isinstance(r["output"], str) for r in again)
    scores = json.loads((out / "scores.json").read_text())
    assert scores["overall"]["n"] == 2 and scores["tasks"]["counting"]["n"] == 2


def test_report_does_not_pair_outputs_with_a_regenerated_bench(bench_dir, tmp_path, cli):
    run = tmp_path / "run"
    assert cli("eval", bench_dir, "--model", "oracle", "--out", run, "--no-progress").code == 0
    data = rows(bench_dir / "samples.jsonl")
    write_rows(bench_dir / "samples.jsonl", [{**d, "question": "How many cats are there?", "targets": ["cat"]}
                                             for d in data])  # regenerated: same ids, other questions
    assert cli("report", run, "--out", tmp_path / "r").code == 0
    html = (tmp_path / "r" / "report.html").read_text()
    assert "How many cats" not in html and "changed after run run was scored" in html
    # score refuses the run's predictions against the changed bench (the recorded hash differs)
    cli("score", bench_dir, "--predictions", run / "predictions.jsonl", "--bootstrap", "10"
        ).one_error_line("manifest hash")


TRAIN_BOUNDS = [("--lr", "inf"), ("--lr", "nan"), ("--lr", "1e6"), ("--weight-decay", "inf"),
                ("--weight-decay", "nan"), ("--epochs", "inf"), ("--warmup-ratio", "nan")]


@pytest.mark.parametrize(("option", "value"), TRAIN_BOUNDS)
def test_train_numbers_are_finite_and_bounded(tmp_path, cli, option, value):
    data = tmp_path / "d.json"
    data.write_text("[]")
    r = cli("train", "--model", "tiny:qwen2_vl", "--data", data, "--out", tmp_path / "t", option, value)
    line = r.one_error_line(f"'{option}'")
    assert "Input should be" in line or "is not in the range" in line
    assert not (tmp_path / "t").exists()


@pytest.mark.parametrize("argv", [
    ["generate", "--count", str(10**9)], ["demo", "--count", str(10**9)],
    ["eval", "--model", "oracle", "--permutations", "1000"], ["eval", "--model", "oracle", "--timeout", "inf"],
    ["eval", "--model", "oracle", "--timeout", "nan"], ["score", "--bootstrap", str(10**9)],
    ["compare", "--bootstrap", str(10**9)], ["cost", "--layers", str(10**9), "--heads", "2", "--hidden", "8",
                                             "--intermediate", "8"],
], ids=lambda a: " ".join(a[:1] + a[-2:]))
def test_numeric_options_have_upper_bounds(bench_dir, tmp_path, cli, argv):
    extra = {"generate": ["--out", tmp_path / "o"], "demo": ["--out", tmp_path / "o"],
             "eval": [bench_dir, "--out", tmp_path / "o"],
             "score": [bench_dir, "--predictions", tmp_path / "p.jsonl"],
             "compare": [tmp_path / "a", tmp_path / "b"], "cost": []}[argv[0]]
    line = cli(*argv, *extra).one_error_line()
    assert "Input should be less than or equal to" in line, line
    assert not (tmp_path / "o").exists()


def test_cost_with_more_heads_than_hidden_size(tmp_path, cli):
    cli("cost", "--layers", "2", "--heads", "16", "--hidden", "8", "--intermediate", "8").one_error_line(
        "--heads 16: more heads than --hidden 8")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"num_hidden_layers": 2, "num_attention_heads": 16, "hidden_size": 8,
                                  "intermediate_size": 8}))
    cli("cost", config).one_error_line(f"{config}: num_attention_heads 16 exceeds hidden_size 8")
    config.write_text(json.dumps({"num_hidden_layers": 10**9, "num_attention_heads": 2, "hidden_size": 8,
                                  "intermediate_size": 8}))
    cli("cost", config).one_error_line(f"{config}: 1000000000 layers; mimic cost takes up to {limits.MAX_LAYERS}")
    config.write_bytes(b'{"num_hidden_layers": "\xff\xfe"}')
    cli("cost", config).one_error_line(f"{config}: cannot read a model config")


def test_the_next_run_removes_what_a_killed_run_left(tmp_path, cli):
    """`kill -9` skips every clean-up: the hidden build folder stayed for good (up to 3.2 MB each)."""
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "world"
    proc = subprocess.Popen([sys.executable, "-m", "mimic_vlm", "toy", "--out", str(out), "--toy-images", "100000"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not any(p.name.startswith(".world.tmp-") for p in tmp_path.iterdir()):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].startswith(f".world.tmp-{proc.pid}-")
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / f".world.tmp-{alive.pid}-busy").mkdir()  # a live process's build is left alone
        assert cli("toy", "--out", out, "--toy-images", "3").code == 0
        assert sorted(p.name for p in tmp_path.iterdir()) == [f".world.tmp-{alive.pid}-busy", "world"]
    finally:
        alive.kill()
        alive.wait()


@pytest.mark.parametrize("vary", ["max_pixels=3136,12544"])
def test_a_model_control_sweep_of_a_baseline_is_refused(tmp_path, cli, vary):
    """A baseline never sees pixels: the sweep was flat, a chart of nothing."""
    r = cli("sweep", "--model", "chance", "--task", "counting", "--vary", vary, "--out", tmp_path / "s",
            "--count", "2")
    name = vary.split("=")[0]
    r.one_error_line(f"--vary {name}: --model chance is a baseline, which no {name} changes")
    assert not (tmp_path / "s").exists()


def test_a_full_disk_names_the_folder_asked_for_not_a_temp_file(tmp_path):
    """A real failed write (the file-size limit, EFBIG, as a full disk gives ENOSPC): one line naming --out."""
    import resource
    import signal
    import subprocess
    import sys

    def small_files() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead of killing us
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    out = tmp_path / "world"
    r = subprocess.run([sys.executable, "-m", "mimic_vlm", "toy", "--out", str(out), "--toy-images", "40"],
                       capture_output=True, text=True, timeout=300, preexec_fn=small_files)
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [f"error: {out / 'annotations.json'}: File too large (EFBIG)"], r.stderr
    assert list(tmp_path.iterdir()) == []
