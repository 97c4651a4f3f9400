"""issue 11 §2 runs: no half-made run folder, Ctrl-C says how to resume, one process per run folder, one bench
per report; an OSError is one line."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from hardening_helpers import ChatServer, grow_bench, rows, write_rows

from mimic_vlm.errors import MimicError

N = 12


@pytest.fixture
def slow_server():
    server = ChatServer(delay_s=0.25)
    yield server
    server.close()


def _lines(path) -> int:
    return path.read_bytes().count(b"\n") if path.is_file() else 0


def _wait_for(predicate, proc, seconds=60.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _eval_argv(bench, url, out):
    return ["eval", str(bench), "--model", f"openai:m@{url}", "--out", str(out), "--concurrency", "1",
            "--no-progress"]


def test_a_run_that_fails_before_any_prediction_leaves_no_folder(bench_dir, tmp_path, cli):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "runs" / "dead"
    r = cli(*_eval_argv(bench_dir, f"http://127.0.0.1:{port}/v1", out), "--retries", "0")
    r.one_error_line(f"openai:m@http://127.0.0.1:{port}/v1: sample")
    assert not out.exists()
    assert cli("eval", bench_dir, "--model", "oracle", "--out", tmp_path / "runs" / "ok").code == 0
    assert cli("report", *sorted((tmp_path / "runs").iterdir()), "--out", tmp_path / "report").code == 0


def test_sigint_says_how_far_it_got_and_the_rerun_resumes(bench_dir, tmp_path, slow_server, cli):
    grow_bench(bench_dir, N)
    out = tmp_path / "run"
    argv = _eval_argv(bench_dir, slow_server.url, out)
    proc = subprocess.Popen([sys.executable, "-m", "mimic_vlm", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    _wait_for(lambda: _lines(out / "predictions.jsonl") >= 2, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    done = _lines(out / "predictions.jsonl")
    assert proc.returncode == 130 and "Traceback" not in err
    assert err.strip().splitlines() == [f"error: {out}: interrupted after {done} of {N} samples; rerun the same "
                                        "command to resume"]
    assert 2 <= done < N and not (out / "scores.json").exists()
    cli("report", out, "--out", tmp_path / "r").one_error_line(f"{out}: an unfinished run", "rerun its mimic eval")
    assert cli(*argv).code == 0  # the rerun resumes: every sample once
    assert sorted(r["id"] for r in rows(out / "predictions.jsonl")) == [f"counting-{k:06d}" for k in range(N)]


def test_a_second_eval_into_the_same_folder_is_refused_and_a_crash_leaves_no_lock(bench_dir, tmp_path,
                                                                                  slow_server, cli):
    grow_bench(bench_dir, N)
    out = tmp_path / "run"
    argv = _eval_argv(bench_dir, slow_server.url, out)
    slow_server.hold_after = 1  # the first run stays busy until released, however slow the second's start
    first = subprocess.Popen([sys.executable, "-m", "mimic_vlm", *argv], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    _wait_for(lambda: _lines(out / "predictions.jsonl") >= 1, first)
    second = subprocess.run([sys.executable, "-m", "mimic_vlm", *argv], capture_output=True, text=True, timeout=60)
    assert second.returncode == 2 and second.stderr.strip().splitlines() == [
        f"error: {out}: another mimic eval is writing to this folder right now; wait for it to finish or choose "
        "another --out"]
    assert first.poll() is None  # the refusal did not disturb the first run
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []  # no lock file left behind
    slow_server.released.set()
    assert cli(*argv).code == 0  # the kernel dropped the crashed holder's lock: the rerun takes the folder
    assert len(rows(out / "predictions.jsonl")) == N


def test_the_folder_stays_held_while_the_run_is_scored(bench_dir, tmp_path, cli, monkeypatch):
    """A run let in between the last prediction and the scores would have its predictions scored, and printed,
    as this run's (an `--overwrite` run of another model did exactly that)."""
    from mimic_vlm.evaluate import runner
    from mimic_vlm.locks import hold_folder

    out, refusals = tmp_path / "run", []
    real_finish = runner.finish

    def finish_while_another_tries(*args, **kwargs):
        try:
            with hold_folder(out, "another mimic eval"):  # a second open file: flock refuses it while held
                pass
        except MimicError as e:
            refusals.append(str(e))
        return real_finish(*args, **kwargs)

    monkeypatch.setattr(runner, "finish", finish_while_another_tries)
    assert cli("eval", bench_dir, "--model", "oracle", "--out", out, "--no-progress").code == 0
    assert refusals == [f"{out}: another mimic eval is writing to this folder right now; wait for it to finish "
                        "or choose another --out"]


def test_report_refuses_runs_of_two_benches_unless_asked(bench_dir, tmp_path, cli):
    other = tmp_path / "other"
    other.mkdir()
    for name in ("manifest.json", "images"):
        os.symlink(bench_dir / name, other / name)
    data = rows(bench_dir / "samples.jsonl")
    write_rows(other / "samples.jsonl", data[:1])
    assert cli("eval", bench_dir, "--model", "oracle", "--out", tmp_path / "a").code == 0
    assert cli("eval", other, "--model", "oracle", "--out", tmp_path / "b").code == 0
    cli("report", tmp_path / "a", tmp_path / "b", "--out", tmp_path / "r").one_error_line(
        "the runs were scored on 2 different benches", "--allow-mixed")
    assert not (tmp_path / "r").exists()
    assert cli("report", tmp_path / "a", tmp_path / "b", "--out", tmp_path / "r", "--allow-mixed").code == 0
    assert cli("report", tmp_path / "a", tmp_path / "a", "--out", tmp_path / "r2").code == 0


def test_a_write_the_file_system_refuses_is_one_line(bench_dir, tmp_path, cli):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    (tmp_path / "p.jsonl").write_text('{"id": "counting-000000", "output": "3"}\n')
    cli("score", bench_dir, "--predictions", tmp_path / "p.jsonl", "--out",
        blocker / "scores.json").one_error_line(str(blocker), "EEXIST")
    cli("generate", "--out", blocker / "bench", "--toy-images", "5").one_error_line(str(blocker))
    cli("eval", bench_dir, "--model", "oracle", "--out", blocker / "run").one_error_line(str(blocker))
    assert blocker.read_text() == "a file where a folder should be"


def test_overwrite_replaces_a_torn_run_but_never_a_train_output(bench_dir, tmp_path, cli):
    out = tmp_path / "run"
    argv = ("eval", bench_dir, "--model", "oracle", "--out", out, "--no-progress")
    assert cli(*argv).code == 0
    (out / "run.json").write_text('{"settings": ')  # torn
    cli(*argv).one_error_line(f"{out / 'run.json'}: unreadable run settings; use --overwrite to start this run again")
    assert cli(*argv, "--overwrite").code == 0 and (out / "scores.json").is_file()

    trained = tmp_path / "trained"  # what mimic train writes: a run.json of training settings
    trained.mkdir()
    (trained / "run.json").write_text('{"base_kwargs": {}, "lr": 0.001}')
    (trained / "adapter_model.safetensors").write_bytes(b"weights")
    r = cli("eval", bench_dir, "--model", "oracle", "--out", trained, "--overwrite", "--no-progress")
    r.one_error_line(f"{trained}: its run.json is not a mimic eval run's (a mimic train output?), so --overwrite "
                     "does not replace it; choose another --out")
    assert (trained / "adapter_model.safetensors").read_bytes() == b"weights"


def test_a_file_that_is_no_image_fails_before_any_prediction(bench_dir, tmp_path, cli):
    """Found when the run starts, naming its sample, not after a batch of predictions left a half run."""
    import json
    import shutil

    bench = tmp_path / "copy"
    shutil.copytree(bench_dir, bench)
    first = json.loads((bench / "samples.jsonl").read_text().splitlines()[0])
    (bench / first["images"][0]).write_bytes(b"garbage")
    out = tmp_path / "run"
    cli("eval", bench, "--model", "oracle", "--out", out).one_error_line(
        f"sample {first['id']}: {bench / first['images'][0]}: corrupt or unreadable image")
    assert not out.exists()


def test_sigterm_cleans_up_like_ctrl_c(tmp_path):
    """kill and a scheduler's time limit send SIGTERM: the half-built folder goes, as on Ctrl-C."""
    out = tmp_path / "world"
    proc = subprocess.Popen([sys.executable, "-m", "mimic_vlm", "toy", "--out", str(out), "--toy-images", "100000"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _wait_for(lambda: any(p.name.startswith(".world.tmp-") for p in tmp_path.iterdir()), proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and err.strip().splitlines()[-1:] == ["error: interrupted"], (proc.returncode, err)
    assert list(tmp_path.iterdir()) == []
