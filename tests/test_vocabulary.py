"""One vocabulary across commands (issue 22): one name per idea, help with no type placeholders and ranges as
enforced, every option explained and listed in the README, old spellings working for a release with a note."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import typer

from cli_exit import exit_code
from mimic_vlm.cli import app, named_metavars
from mimic_vlm.commands.renamed import ARGUMENT, DEFAULT, RENAMED, modernize
from mimic_vlm.probe.pooling import SUPPORTED

README = Path(__file__).resolve().parents[1] / "README.md"


def commands() -> dict[str, Any]:
    """Every leaf command by its path ("probe pooling"), with the help the user sees."""
    found: dict[str, Any] = {}

    def walk(command: Any, path: list[str]) -> None:
        subs = getattr(command, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, [*path, name])
        elif not getattr(command, "hidden", False):
            found[" ".join(path)] = command

    walk(named_metavars(typer.main.get_command(app)), [])
    return found


COMMANDS = commands()


def options(path: str) -> dict[str, Any]:
    return {name: p for p in COMMANDS[path].params if p.param_type_name == "option"
            for name in (*p.opts, *p.secondary_opts) if name != "--help"}


def help_text(path: str) -> str:
    with typer.Context(COMMANDS[path], info_name=f"mimic {path}", terminal_width=100) as ctx:
        return str(COMMANDS[path].get_help(ctx))


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_every_option_and_argument_is_explained_without_type_placeholders(path):
    for p in COMMANDS[path].params:
        if "--help" not in getattr(p, "opts", []):
            assert (p.help or "").strip(), f"mimic {path}: {p.name} has no help"
    text = help_text(path)
    usage = text.splitlines()[0]
    assert "{" not in usage and "<" not in usage, usage
    assert not re.search(r"<(path|str|int|float|list\[\w+\])>", text), text
    assert "9223372036854775807" not in text


def test_one_seed_range_everywhere_as_enforced():
    for path in COMMANDS:
        seed = options(path).get("--seed")
        if seed is not None:
            assert (seed.min, seed.max) == (0, 2**32 - 1), path
    assert exit_code(["train", "--model", "tiny:qwen2_vl", "--data", "x.json", "--out", "t", "--seed",
                      str(2**32)]) == 2  # refused where it enters, as the help shows


def test_epochs_range_shows_that_zero_is_refused(capsys):
    assert "0<x<=10000" in help_text("train")
    assert exit_code(["train", "--model", "tiny:qwen2_vl", "--data", "x.json", "--out", "t", "--epochs", "0"]) == 2
    assert "0 is not in the range 0<x<=10000" in capsys.readouterr().err


def test_no_old_spelling_is_an_option_and_every_new_one_is():
    for path, table in RENAMED.items():
        have = options(path)
        for old, new in table.items():
            assert old not in have, f"mimic {path} still declares {old}"
            if new == ARGUMENT:
                assert [p for p in COMMANDS[path].params if p.param_type_name == "argument"], path
            elif new != DEFAULT:
                assert new in have, f"mimic {path}: {old} renamed to {new}, which it does not take"


def test_the_bench_and_runs_are_arguments_everywhere():
    for path, command in COMMANDS.items():
        assert "--bench" not in options(path)
        names = [p.name for p in command.params if p.param_type_name == "argument"]
        if "bench" in names or "runs" in names:
            assert len(names) == 1, path


IDEAS = {"--mask-backend", "--device", "--image-size", "--oi-classes", "--oi-hierarchy",
         "--toy-preset", "--toy-images", "--progress", "--adapter", "--official", "--max-pixels"}
"""Options that mean exactly the same in every command that takes them: one help text."""


def test_an_idea_shared_by_commands_is_described_once():
    for name in IDEAS:
        helps = {options(p)[name].help for p in COMMANDS if name in options(p)}
        assert len(helps) == 1, (name, helps)


def test_the_readme_lists_every_option_with_the_commands_that_take_it():
    text = README.read_text()
    section = text[text.index("## Options: one name per idea"):text.index("## Layout")]
    listed = {}
    for row in re.findall(r"^\| `([^`]+)` \| ([^|]+) \|", section, re.M):
        listed[row[0].split(" / ")[0]] = sorted(c.strip() for c in row[1].split(","))
    taking: dict[str, list[str]] = {}
    for path in COMMANDS:
        for p in COMMANDS[path].params:
            if p.param_type_name == "option" and "--help" not in p.opts:
                taking.setdefault(p.opts[0], []).append(path)
    assert listed == {k: sorted(v) for k, v in taking.items()}


def test_pooling_help_names_every_supported_family():
    names = {"qwen2_vl": "Qwen2-VL", "qwen2_5_vl": "Qwen2.5-VL", "llava_onevision": "LLaVA-OneVision",
             "internvl": "InternVL"}
    assert set(SUPPORTED) == set(names)
    shown = options("probe pooling")["--model"].help
    assert all(names[f] in shown for f in SUPPORTED)
    assert all(names[f] in README.read_text() for f in SUPPORTED)


def test_toy_models_are_in_the_eval_help_and_readme_model_list():
    assert "toy:NAME" in options("eval")["--model"].help
    assert "`toy:NAME`" in README.read_text()


@pytest.mark.parametrize(("argv", "expected", "notes"), [
    (["eval", "--bench", "b", "--tasks", "counting", "--no-official", "--out", "r"],
     ["eval", "b", "--task", "counting", "--out", "r"], 3),
    (["score", "--bench=b", "--predictions", "p"], ["score", "b", "--predictions", "p"], 1),
    (["probe", "pooling", "--model", "m", "--bench", "b"], ["probe", "pooling", "--model", "m", "b"], 1),
    (["cost", "x", "--images=4", "--batch", "2", "--images", "5"], ["cost", "x", "--n-images=4", "--batch-size",
                                                                     "2", "--n-images", "5"], 2),
    (["study", "--hierarchy", "h.json", "--class-descriptions", "c.csv"],
     ["study", "--oi-hierarchy", "h.json", "--oi-classes", "c.csv"], 2),
    (["eval", "b", "--title", "--", "--tasks"], ["eval", "b", "--title", "--", "--tasks"], 0),  # after --: data
    (["generate", "--images", "3"], ["generate", "--images", "3"], 0),  # never a spelling of generate
    (["--version"], ["--version"], 0),
])
def test_old_spellings_are_rewritten_with_one_note_each(argv, expected, notes):
    said: list[str] = []
    assert modernize(argv, said.append) == expected
    assert len(said) == notes
    assert all("will stop working in the next release" in s for s in said)


def test_old_spellings_still_run_and_give_the_same_results(tmp_path, capsys):
    assert exit_code(["toy", "--out", str(tmp_path / "old"), "--images", "6", "--preset", "tiny"]) == 0
    assert "toy --images is now --toy-images" in capsys.readouterr().err
    assert exit_code(["toy", "--out", str(tmp_path / "new"), "--toy-images", "6", "--toy-preset", "tiny"]) == 0
    assert capsys.readouterr().err == ""
    assert (tmp_path / "old" / "annotations.json").read_bytes() == (tmp_path / "new" / "annotations.json").read_bytes()
    bench = tmp_path / "bench"
    assert exit_code(["generate", "--out", str(bench), "--count", "3", "--n-images", "2", "--annotations",
                      str(tmp_path / "new" / "annotations.json"), "--images-dir", str(tmp_path / "new" / "images"),
                      "--task", "counting"]) == 0
    assert exit_code(["eval", "--bench", str(bench), "--model", "oracle", "--out", str(tmp_path / "r1"),
                      "--tasks", "counting", "--no-progress"]) == 0
    assert exit_code(["eval", str(bench), "--model", "oracle", "--out", str(tmp_path / "r2"), "--task", "counting",
                      "--no-progress"]) == 0
    scores = [json.loads((tmp_path / r / "scores.json").read_text())["mimic_score"] for r in ("r1", "r2")]
    assert scores[0] == scores[1] and scores[0]["value"] == 1.0


def test_bare_group_prints_its_usage_without_an_error(capsys):
    assert exit_code(["probe"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("Usage: mimic probe") and "attention" in captured.out
    assert "error" not in captured.err


ROOT = README.parent
DOCS = [README, ROOT / "PYPI.md", ROOT / "BENCHMARKS.md", *sorted((ROOT / "benchmarks").glob("*.md")),
        *sorted((ROOT / "src" / "mimic_vlm" / "models" / "weights").glob("*/MODEL_CARD.md"))]


def doc_commands(doc: Path) -> list[tuple[str, list[str]]]:
    """Every `mimic COMMAND ... --option` a document shows (code blocks and inline code), with its options."""
    found = []
    for path, rest in re.findall(r"mimic ((?:probe )?[a-z][a-z-]*)([^`#\n]*)", doc.read_text()):
        if path in COMMANDS:
            found.append((path, re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", rest)))
    return found


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_every_command_line_in_the_docs_uses_options_its_command_takes(doc):
    shown = doc_commands(doc)
    assert shown or doc.name != "README.md"
    for path, names in shown:
        for name in names:
            assert name in options(path) or name == "--help", f"{doc.name}: mimic {path} {name}"


def test_benchmarks_md_is_what_its_result_files_assemble():
    """BENCHMARKS.md is generated (`python benchmarks/assemble.py`): an edit made to it alone is lost."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("assemble", ROOT / "benchmarks" / "assemble.py")
    assert spec is not None and spec.loader is not None
    assemble = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(assemble)
    assert (ROOT / "BENCHMARKS.md").read_text() == assemble.assembled()
