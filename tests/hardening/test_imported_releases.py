"""issue 23 §4-5: fields of imported releases typed: a count below zero, `images` or `options` that are no
list are one line naming file, row and field (they were a traceback, or a bench its own loader refused)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image


def _png(folder: Path, name: str) -> str:
    Image.new("RGB", (32, 32), (10, 200, 30)).save(folder / name)
    return name


def _official(tmp_path: Path, row: dict) -> Path:
    folder = tmp_path / "mimic" / "counting"
    folder.mkdir(parents=True)
    (folder / "test.json").write_text(json.dumps([{"question": "How many dogs?", "task": "t", "idx": 0,
                                                   "images": [_png(folder, "a.png")], "gt": 2, **row}]))
    return folder / "test.json"


@pytest.mark.parametrize(("row", "problem"), [
    ({"gt": -2}, "row 0: counting gt -2 is not a count of objects (0 or more)"),
    ({"gt": "-7"}, "row 0: counting gt '-7' is not a count of objects (0 or more)"),
    ({"images": 5}, "row 0: field 'images' should be a list, got int"),
    ({"images": {"a": 1}}, "row 0: field 'images' should be a list, got dict"),
])
def test_import_official_types_its_fields(tmp_path, cli, row, problem):
    data = _official(tmp_path, row)
    cli("import-official", tmp_path / "mimic", "--out", tmp_path / "b").one_error_line(f"{data}: {problem}")
    assert not (tmp_path / "b").exists()


def test_import_official_reads_a_sound_count(tmp_path, cli):
    _official(tmp_path, {"gt": 0})
    assert cli("import-official", tmp_path / "mimic", "--out", tmp_path / "b").code == 0
    assert cli("score", tmp_path / "b", "--predictions", _answer(tmp_path), "--bootstrap", "10").code == 0


def _answer(tmp_path: Path) -> Path:
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"id": "counting-0", "output": "0"}) + "\n")
    return path


@pytest.mark.parametrize(("benchmark", "row", "problem"), [
    ("mantis-eval", {"options": 3}, "field 'options' should be a list, got int"),
    ("mantis-eval", {"images": 7}, "field 'images' should be a list, got int"),
    ("muirbench", {"options": "A or B"}, "field 'options' should be a list, got str"),
    ("mirb", {"image_list": 4}, "field 'image_list' should be a list, got int"),
])
def test_import_types_list_fields(tmp_path, cli, benchmark, row, problem):
    png = _png(tmp_path, "a.png")
    base = {"mantis-eval": {"id": "1", "question": "Which?", "answer": "A", "images": [png], "options": ["x", "y"]},
            "muirbench": {"idx": "1", "question": "Which?", "answer": "A", "image_list": [png],
                          "options": ["x", "y"]},
            "mirb": {"subset": "count", "questions": "How many?", "answers": "2", "question_id": "1",
                     "image_list": [png]}}[benchmark]
    data = tmp_path / f"{benchmark}.json"
    data.write_text(json.dumps([{**base, **row}]))
    cli("import", benchmark, data, "--out", tmp_path / "b").one_error_line(f"{data}: row 0: {problem}")
    assert not (tmp_path / "b").exists()
