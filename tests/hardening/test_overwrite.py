"""issue 11 §4: one `--overwrite` rule (replace only what the tool made) and file modes that honour the umask."""

from __future__ import annotations

import os
import stat

import pytest

from mimic_vlm.schema import atomic_dir, write_json_atomic


@pytest.fixture
def foreign(tmp_path):
    """A folder holding a file the user cares about."""
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("precious")
    return folder


def commands(bench_dir, tmp_path, out):
    run = tmp_path / "run"
    return {
        "toy": ["toy", "--out", out, "--images", "3"],
        "generate": ["generate", "--out", out, "--toy-images", "10", "--count", "2", "--task", "counting"],
        "report": ["report", run, "--out", out],
        "export": ["export", bench_dir, "--format", "hf", "--out", out],
        "pack": ["pack", bench_dir, "--out", out],
        "eval": ["eval", "--bench", bench_dir, "--model", "oracle", "--out", out],
        "demo": ["demo", "--out", out, "--images", "10", "--count", "1", "--models", "oracle"],
    }


@pytest.mark.parametrize("command", ["toy", "generate", "report", "export", "pack", "eval", "demo"])
def test_overwrite_never_deletes_a_folder_the_tool_did_not_make(bench_dir, tmp_path, cli, foreign, command):
    if command == "report":
        assert cli("eval", "--bench", bench_dir, "--model", "oracle", "--out", tmp_path / "run").code == 0
    argv = commands(bench_dir, tmp_path, foreign)[command]
    r = cli(*argv, "--overwrite")
    r.one_error_line(str(foreign), "did not write there" if command != "eval" else "not a run folder")
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"] and (foreign / "notes.txt").read_text() == "precious"


@pytest.mark.parametrize("command", ["toy", "report", "export", "pack"])
def test_overwrite_replaces_what_the_tool_made(bench_dir, tmp_path, cli, command):
    assert cli("eval", "--bench", bench_dir, "--model", "oracle", "--out", tmp_path / "run").code == 0
    out = tmp_path / "made"
    argv = commands(bench_dir, tmp_path, out)[command]
    assert cli(*argv).code == 0
    before = sorted(p.name for p in out.iterdir())
    cli(*argv).one_error_line(f"{out}: output folder exists (use --overwrite to replace it)")
    assert cli(*argv, "--overwrite").code == 0
    assert sorted(p.name for p in out.iterdir()) == before


def test_an_empty_folder_needs_no_overwrite(bench_dir, tmp_path, cli):
    (tmp_path / "empty").mkdir()
    assert cli("export", bench_dir, "--format", "vlmevalkit", "--out", tmp_path / "empty").code == 0


@pytest.mark.parametrize(("umask", "file_mode", "dir_mode"), [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700),
                                                              (0o002, 0o664, 0o775)])
def test_atomic_writes_honour_the_umask(tmp_path, umask, file_mode, dir_mode):
    old = os.umask(umask)
    try:
        write_json_atomic(tmp_path / "a.json", {"x": 1})
        with atomic_dir(tmp_path / "d") as tmp:
            write_json_atomic(tmp / "b.json", {})
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == file_mode
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == dir_mode
    assert stat.S_IMODE((tmp_path / "d" / "b.json").stat().st_mode) == file_mode


def test_bench_files_are_group_readable_under_the_usual_umask(bench_dir, tmp_path, cli):
    old = os.umask(0o022)
    try:
        assert cli("export", bench_dir, "--format", "hf", "--out", tmp_path / "x").code == 0
    finally:
        os.umask(old)
    modes = {p.relative_to(tmp_path).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "x").rglob("*")}
    assert modes == {"x/README.md": 0o644, "x/data": 0o755, "x/data/counting.parquet": 0o644}
    assert stat.S_IMODE((tmp_path / "x").stat().st_mode) == 0o755
