"""issue 23 §3: `--overwrite` replaces a run only once the new one has succeeded (a model that fails, or a
Ctrl-C, keeps the old run whole), and a symbolic link inside a run folder is refused, never written through."""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hardening_helpers import ChatServer, grow_bench, rows
from transformers import TrainerCallback

from mimic_vlm.errors import MimicError


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _dead_url() -> str:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/v1"


def test_eval_overwrite_keeps_the_old_run_when_the_model_fails(bench_dir, tmp_path, cli):
    out = tmp_path / "run"
    assert cli("eval", bench_dir, "--model", "oracle", "--out", out, "--no-progress").code == 0
    before = _snapshot(out)
    url = _dead_url()
    cli("eval", bench_dir, "--model", f"openai:m@{url}", "--out", out, "--overwrite", "--retries", "0",
        "--no-progress").one_error_line(f"openai:m@{url}: sample")
    assert _snapshot(out) == before  # predictions and scores of the finished run, byte for byte
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench", "run"]  # no stage left behind


def test_eval_overwrite_replaces_once_the_new_run_is_scored(bench_dir, tmp_path, cli):
    out = tmp_path / "run"
    assert cli("eval", bench_dir, "--model", "oracle", "--out", out, "--no-progress").code == 0
    assert cli("eval", bench_dir, "--model", "chance", "--out", out, "--overwrite",
               "--no-progress").code == 0
    assert {r["id"] for r in rows(out / "predictions.jsonl")} == {"counting-000000", "counting-000001"}
    assert '"chance"' in (out / "run.json").read_text() and (out / "scores.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench", "run"]


def test_ctrl_c_during_an_overwrite_keeps_the_old_run_and_the_rerun_resumes(bench_dir, tmp_path, cli):
    grow_bench(bench_dir, 12)
    out = tmp_path / "run"
    assert cli("eval", bench_dir, "--model", "oracle", "--out", out, "--no-progress").code == 0
    before = _snapshot(out)
    server = ChatServer(delay_s=0.25)
    try:
        argv = ["eval", str(bench_dir), "--model", f"openai:m@{server.url}", "--out", str(out),
                "--concurrency", "1", "--no-progress", "--overwrite"]
        proc = subprocess.Popen([sys.executable, "-m", "mimic_vlm", *argv], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        stage = tmp_path / ".run.overwrite" / "predictions.jsonl"
        deadline = time.monotonic() + 60
        while not (stage.is_file() and stage.read_bytes().count(b"\n") >= 2):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130 and "Traceback" not in err
        assert err.strip().splitlines()[-1].endswith("rerun the same command to resume; the run it replaces is "
                                                     "kept until this one finishes"), err
        assert _snapshot(out) == before
        done = stage.read_bytes().count(b"\n")
        served = server.served
        assert cli(*argv).code == 0  # resumes the stage: only the rest is asked
        assert server.served - served == 12 - done
    finally:
        server.close()
    assert '"openai"' in (out / "run.json").read_text() and len(rows(out / "predictions.jsonl")) == 12
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench", "run"]


@pytest.mark.parametrize("name", ["predictions.jsonl", "scores.json"])
def test_a_symlink_inside_a_run_folder_is_refused(bench_dir, tmp_path, cli, name):
    out = tmp_path / "run"
    assert cli("eval", bench_dir, "--model", "oracle", "--out", out, "--no-progress").code == 0
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me\n" * 3)
    (out / name).unlink()
    os.symlink(precious, out / name)
    for extra in ([], ["--overwrite"]):
        cli("eval", bench_dir, "--model", "oracle", "--out", out, "--no-progress", *extra).one_error_line(
            f"{out / name}: a symbolic link inside the run folder")
    assert precious.read_text() == "keep me\n" * 3 and (out / name).is_symlink()


# ---------------------------------------------------------------- mimic train --overwrite

def _train_config(tmp_path: Path, out: Path):
    from PIL import Image

    from mimic_vlm.train.engine import TrainConfig
    from mimic_vlm.train.finetune import LoraSettings

    data = tmp_path / "d"
    data.mkdir(exist_ok=True)
    convs = []
    for i in range(2):
        Image.new("RGB", (56, 56), (90 * i, 40, 200)).save(data / f"{i}.png")
        convs.append({"id": f"s{i}", "image": [f"{i}.png"], "conversations": [
            {"from": "human", "value": "<image>\nHow many images?"}, {"from": "gpt", "value": "1"}]})
    (data / "train.json").write_text(json.dumps(convs))
    return TrainConfig(model="tiny:qwen2_vl", data=[str(data / "train.json")], out=out, lora=LoraSettings(4, 8, 0.0),
                       max_steps=2, batch_size=2, base_kwargs={"hidden_size": 32, "num_layers": 2})


class FailAtStep(TrainerCallback):
    """A late failure: the disk fills up at step 2, after the model, the data and the first step all went well."""

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == 2:
            raise OSError(errno.ENOSPC, "No space left on device")


def test_train_overwrite_keeps_the_old_run_after_a_late_failure(tmp_path):
    from mimic_vlm.train.engine import train

    out = tmp_path / "run"
    train(_train_config(tmp_path, out))
    before = {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    with pytest.raises(MimicError, match=re.escape(f"{out}: No space left on device (ENOSPC)")):
        train(_train_config(tmp_path, out), overwrite=True, callbacks=[FailAtStep()])  # one line naming OUT
    after = {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    assert after == before and "mimic_train.json" in before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "run"]  # no stage left behind
    result = train(_train_config(tmp_path, out), overwrite=True)  # and a sound overwrite replaces it
    assert result.out == out and (out / "mimic_train.json").is_file()
    assert json.loads((out / "run.json").read_text())["out"] == str(out)  # the real folder, not the stage
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "run"]
