"""issue 11 §4: one `--overwrite` rule (replace only what the tool made) and file modes that honour the umask."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from mimic_vlm.files import atomic_dir, write_json_atomic


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
        "toy": ["toy", "--out", out, "--toy-images", "3"],
        "generate": ["generate", "--out", out, "--toy-images", "10", "--count", "2", "--task", "counting"],
        "report": ["report", run, "--out", out],
        "export": ["export", bench_dir, "--format", "hf", "--out", out],
        "pack": ["pack", bench_dir, "--out", out],
        "eval": ["eval", bench_dir, "--model", "oracle", "--out", out],
        "demo": ["demo", "--out", out, "--toy-images", "10", "--count", "1", "--models", "oracle"],
    }


@pytest.mark.parametrize("command", ["toy", "generate", "report", "export", "pack", "eval", "demo"])
def test_overwrite_never_deletes_a_folder_the_tool_did_not_make(bench_dir, tmp_path, cli, foreign, command):
    if command == "report":
        assert cli("eval", bench_dir, "--model", "oracle", "--out", tmp_path / "run").code == 0
    argv = commands(bench_dir, tmp_path, foreign)[command]
    r = cli(*argv, "--overwrite")
    r.one_error_line(str(foreign), "did not write there" if command != "eval" else "not a run folder")
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"] and (foreign / "notes.txt").read_text() == "precious"


@pytest.mark.parametrize("command", ["toy", "report", "export", "pack"])
def test_overwrite_replaces_what_the_tool_made(bench_dir, tmp_path, cli, command):
    assert cli("eval", bench_dir, "--model", "oracle", "--out", tmp_path / "run").code == 0
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


def test_an_interrupt_as_the_temporary_folder_is_made_leaves_nothing(tmp_path, monkeypatch):
    """SIGTERM / Ctrl-C can land the moment the temporary folder exists: it is still removed."""
    made = Path.mkdir

    def interrupted(self, *args, **kwargs):
        made(self, *args, **kwargs)
        if self.name.startswith(".d.tmp-"):
            raise KeyboardInterrupt

    monkeypatch.setattr(Path, "mkdir", interrupted)
    with pytest.raises(KeyboardInterrupt), atomic_dir(tmp_path / "d"):
        pass
    assert list(tmp_path.iterdir()) == []


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


@pytest.mark.parametrize("command", ["sweep", "pooling"])
def test_a_study_never_writes_into_a_folder_of_other_files(bench_dir, tmp_path, cli, foreign, command):
    """Its files mixed in would let another command's --overwrite take the folder for one it made."""
    argv = {"sweep": ["sweep", "--model", "chance", "--task", "counting", "--vary", "n_images=2,3", "--count", "2"],
            "pooling": ["probe", "pooling", "--model", "tiny:qwen2_vl", bench_dir, "--factors", "1",
                        "--limit", "1"]}[command]
    what = {"sweep": "mimic sweep", "pooling": "mimic probe pooling"}[command]
    cli(*argv, "--out", foreign, "--no-progress").one_error_line(
        f"{foreign}: holds files {what} did not write there (notes.txt); choose another --out")
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]


def test_overwrite_never_takes_another_commands_output(bench_dir, tmp_path, cli):
    """Each command's --overwrite knows its own folders: a sweep is no demo, a generated bench no packed one."""
    sweep = tmp_path / "sweep"
    assert cli("sweep", "--model", "chance", "--task", "counting", "--vary", "n_images=2,3", "--count", "2",
               "--out", sweep, "--no-progress").code == 0
    before = sorted(p.name for p in sweep.iterdir())
    cli("demo", "--out", sweep, "--toy-images", "10", "--count", "1", "--models", "oracle", "--overwrite").one_error_line(
        f"{sweep}: holds files mimic did not write there")
    assert sorted(p.name for p in sweep.iterdir()) == before
    generated = tmp_path / "generated"
    assert cli("generate", "--out", generated, "--toy-images", "10", "--count", "2", "--task", "counting").code == 0
    cli("pack", bench_dir, "--out", generated, "--overwrite").one_error_line(f"{generated}: holds files mimic did not")
    assert (generated / "toy_annotations.json").exists()


def test_a_failed_demo_leaves_nothing_and_a_failed_overwrite_keeps_the_old_demo(tmp_path, cli):
    out = tmp_path / "demo"
    argv = ["demo", "--out", out, "--toy-images", "20", "--count", "1", "--n-images", "2"]
    cli(*argv, "--models", "nosuch").one_error_line("--model nosuch: unknown model kind 'nosuch'")
    assert not out.exists() and not list(tmp_path.glob(".demo*"))
    assert cli(*argv, "--models", "oracle").code == 0
    cli(*argv, "--models", "nosuch", "--overwrite").one_error_line("--model nosuch: unknown model kind")
    assert [p.name for p in (out / "runs").iterdir()] == ["oracle"] and (out / "report" / "report.html").is_file()
    assert not list(tmp_path.glob(".demo*"))


def test_a_sweep_that_fails_before_any_run_leaves_no_folder(tmp_path, cli):
    out = tmp_path / "sweep"
    cli("sweep", "--model", "chance", "--task", "counting", "--vary", "n_images=0,2", "--count", "2",
        "--out", out, "--no-progress").one_error_line("--n-images 0: must lie within 1-64")
    assert not out.exists()


def test_built_in_place_restores_the_old_folder_when_the_build_fails(tmp_path):
    from mimic_vlm.files import built_in_place, has_files

    out = tmp_path / "out"
    out.mkdir()
    (out / "made.txt").write_text("old")
    with pytest.raises(RuntimeError), built_in_place(out, True, has_files("made.txt")):
        (out / "made.txt").write_text("half")  # built at the final path, the old one waiting aside
        raise RuntimeError("the build failed")
    assert (out / "made.txt").read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out"]
    with built_in_place(out, True, has_files("made.txt")):
        (out / "made.txt").write_text("new")
    assert (out / "made.txt").read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["out"]
