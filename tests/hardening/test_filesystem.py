"""issue 11 §2: a read-only output folder and a full disk are one line naming the path and the errno, exit 2,
nothing already there is lost and nothing half-written is left. Real file systems: a read-only bind mount and a
64 KiB tmpfs, each in a private mount namespace (`unshare -m`), so the host sees neither; skipped where the
machine does not allow mount namespaces."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def _can_unshare(tmp: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = tmp / "probe"
    probe.mkdir()
    r = subprocess.run(["unshare", "-m", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {probe}"],
                       capture_output=True, timeout=30)
    probe.rmdir()
    return r.returncode == 0


@pytest.fixture
def mounted(tmp_path):
    """`mounted(setup, argv, after)`: run `python -m mimic_vlm argv` between the shell commands `setup` and
    `after` in a private mount namespace; returns the CompletedProcess (the exit code is mimic's)."""
    if not _can_unshare(tmp_path):
        pytest.skip("mount namespaces (unshare -m) are not allowed here")

    def run(setup: str, argv: list, after: str = "true") -> subprocess.CompletedProcess:
        cmd = shlex.join([sys.executable, "-m", "mimic_vlm", *map(str, argv)])
        return subprocess.run(["unshare", "-m", "sh", "-c", f"{setup} && {{ {cmd}; rc=$?; {after}; exit $rc; }}"],
                              capture_output=True, text=True, timeout=120)

    return run


def _one_line(r: subprocess.CompletedProcess, *needles: str) -> None:
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert r.returncode == 2 and len(lines) == 1 and "Traceback" not in r.stderr + r.stdout, r.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])


def test_read_only_output_folder(bench_dir, tmp_path, mounted):
    ro = tmp_path / "ro"
    ro.mkdir()
    (ro / "kept.json").write_text("{}")
    (tmp_path / "p.jsonl").write_text('{"id": "counting-000000", "output": "3"}\n')
    setup = f"mount --bind {ro} {ro} && mount -o remount,bind,ro {ro}"
    for argv in (["score", bench_dir, "--predictions", tmp_path / "p.jsonl", "--out", ro / "s.json"],
                 ["eval", bench_dir, "--model", "oracle", "--out", ro / "run", "--no-progress"],
                 ["export", bench_dir, "--format", "vlmevalkit", "--out", ro / "x"]):
        _one_line(mounted(setup, argv), str(ro), "Read-only file system", "EROFS")
    assert sorted(p.name for p in ro.iterdir()) == ["kept.json"] and (ro / "kept.json").read_text() == "{}"


def test_full_disk(bench_dir, tmp_path, mounted):
    full = tmp_path / "full"
    full.mkdir()
    setup = f"mount -t tmpfs -o size=64k tmpfs {full} && echo kept > {full}/kept.txt"
    # the bench's four 112-px random PNGs are ~150 KB: no export fits in 64 KiB
    for fmt in ("vlmevalkit", "hf"):
        r = mounted(setup, ["export", bench_dir, "--format", fmt, "--out", full / "x"],
                    after=f"ls -a {full} > {tmp_path}/after.txt; cat {full}/kept.txt > {tmp_path}/kept.txt")
        _one_line(r, str(full), "No space left on device", "ENOSPC")
        assert (tmp_path / "after.txt").read_text().split() == [".", "..", "kept.txt"]  # nothing half-written
        assert (tmp_path / "kept.txt").read_text() == "kept\n"
