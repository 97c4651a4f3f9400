"""issue 11 §5: help that fits 80 columns, thread defaults chosen by the program, a quiet `mimic train`."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from mimic_vlm import threads

COMMANDS = ["toy", "generate", "validate", "inspect", "eval", "score", "report", "cost", "train", "sweep", "pack",
            "import", "import-official", "export", "demo", "compare", "probe attention", "probe pooling"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MIMIC_NUM_THREADS", "COLUMNS")}
    return {**env, **extra}


@pytest.mark.parametrize("command", COMMANDS)
def test_help_shows_whole_option_names_at_80_columns(command, cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    r = cli(*command.split(), "--help")
    assert r.code == 0 and r.out.startswith(f"Usage: mimic {command} ")
    assert "…" not in r.out and "<bool>" not in r.out
    assert not re.search(r"--[a-z-]+ <", r.out)  # a named placeholder (--count COUNT), not typer's <int range>
    assert max(len(line) for line in r.out.splitlines()) <= 80
    if command == "train":
        assert "--gradient-checkpointing / --no-gradient-checkpointing" in r.out
        assert "--precision PRECISION" in r.out and "bfloat16" in r.out  # eval's --dtype spellings work too


def test_thread_default_is_half_the_cpus_at_most_four():
    assert [threads.default_threads(n) for n in (1, 2, 3, 8, 64)] == [1, 1, 1, 4, 4]


@pytest.mark.parametrize(("env", "expected"), [({}, str(threads.default_threads(threads.usable_cpus()))),
                                              ({"OMP_NUM_THREADS": "3"}, "3"), ({"MIMIC_NUM_THREADS": "2"}, "2")])
def test_the_program_sets_threads_unless_the_user_did(env, expected):
    code = ("import os, torch; from mimic_vlm import threads; threads.set_defaults(); "
            "print(os.environ['OMP_NUM_THREADS'], torch.get_num_threads())")
    r = subprocess.run([sys.executable, "-c", code], env=_env(**env), capture_output=True, text=True, timeout=120)
    assert r.stdout.split() == [expected, expected], r.stderr


def test_train_output_has_no_library_warnings(tmp_path):
    import json

    from PIL import Image

    (tmp_path / "images").mkdir()
    records = []
    for i in range(2):
        Image.new("RGB", (56, 56), (200, 10 * i, 10)).save(tmp_path / "images" / f"{i}.png")
        records.append({"id": f"s{i}", "image": f"images/{i}.png", "conversations": [
            {"from": "human", "value": "<image>\nHow many red images?"}, {"from": "gpt", "value": "1"}]})
    (tmp_path / "d.json").write_text(json.dumps(records))
    r = subprocess.run([sys.executable, "-m", "mimic_vlm", "train", "--model", "tiny:qwen2_vl", "--data",
                        str(tmp_path / "d.json"), "--out", str(tmp_path / "out"), "--max-steps", "1",
                        "--batch-size", "2"], env=_env(OMP_NUM_THREADS="1"), capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    text = r.stdout + r.stderr
    assert "trained lora on 2 samples" in text
    assert "FutureWarning" not in text and "[transformers]" not in text and "Warning" not in text
