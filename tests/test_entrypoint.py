"""The `mimic` entry point: user errors are one plain `error:` line and exit code 2."""

from __future__ import annotations

import subprocess
import sys


def mimic(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mimic_vlm", *args], capture_output=True, text=True, timeout=120)


def test_error_message_is_printed_verbatim_with_exit_code_2(tmp_path):
    r = mimic("eval", str(tmp_path), "--model", "nosuch:x", "--out", str(tmp_path / "run"))
    assert r.returncode == 2
    assert r.stderr.strip() == f"error: {tmp_path}: not a bench (no samples.jsonl)"
    assert not (tmp_path / "run").exists()


def test_markup_and_emoji_codes_in_messages_are_not_interpreted(bench_dir, tmp_path):
    # a real bench (an empty samples.jsonl is now refused first, issue 11), so the model spec is what fails
    r = mimic("eval", str(bench_dir), "--model", "nosuch:x", "--out", str(tmp_path / "run"))
    assert r.returncode == 2 and "--model nosuch:x: unknown model kind 'nosuch'" in r.stderr


def test_usage_error_exits_2_and_typer_exit_codes_pass_through(tmp_path):
    assert mimic("generate", "--no-such-flag").returncode == 2
    assert mimic("validate", str(tmp_path)).returncode == 2  # not a bench: MimicError
