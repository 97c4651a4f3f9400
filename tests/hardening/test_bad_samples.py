"""issue 11 §2: a malformed samples.jsonl or predictions file is one line naming file:line, exit 2, no output."""

from __future__ import annotations

import pytest
from hardening_helpers import rows, write_rows

CASES = [
    ("images a string", lambda r: r.update(images="images/img_0.png"),
     "samples.jsonl:1: sample 'counting-000000': 'images' must be a list of path strings, not a string"),
    ("images null", lambda r: r.update(images=None), "'images' must be a list of path strings, not null"),
    ("controls a list", lambda r: r.update(controls=[1, 2]), "'controls' must be an object, not a list"),
    ("counting answer a word", lambda r: r.update(answer="three"),
     "a counting 'answer' must be a whole number >= 0, not 'three'"),
    ("missing field", lambda r: r.pop("gt"), "samples.jsonl:1: sample 'counting-000000' lacks field(s) ['gt']"),
    ("question a number", lambda r: r.update(question=5), "'question' must be a string, not a number"),
    ("image_objects an object", lambda r: r.update(image_objects={"dog": 1}), "'image_objects' must be a list"),
]


@pytest.mark.parametrize(("name", "damage", "message"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("command", ["eval", "validate", "score", "export", "inspect"])
def test_malformed_sample_is_one_line_naming_file_and_line(bench_dir, tmp_path, cli, name, damage, message,
                                                           command):
    data = rows(bench_dir / "samples.jsonl")
    damage(data[0])
    write_rows(bench_dir / "samples.jsonl", data)
    out = tmp_path / "out"
    (tmp_path / "p.jsonl").write_text('{"id": "counting-000000", "output": "3"}\n')
    argv = {"eval": ["eval", bench_dir, "--model", "oracle", "--out", out],
            "validate": ["validate", bench_dir],
            "score": ["score", bench_dir, "--predictions", tmp_path / "p.jsonl", "--out", out],
            "export": ["export", bench_dir, "--format", "hf", "--out", out],
            "inspect": ["inspect", bench_dir, "--sheet", out]}[command]
    cli(*argv).one_error_line(message, str(bench_dir / "samples.jsonl"))
    assert not out.exists()


def test_a_line_that_is_a_json_array(bench_dir, tmp_path, cli):
    lines = (bench_dir / "samples.jsonl").read_bytes().splitlines()
    (bench_dir / "samples.jsonl").write_bytes(lines[0] + b"\n[1, 2]\n")
    cli("eval", bench_dir, "--model", "oracle", "--out", tmp_path / "run").one_error_line(
        f"{bench_dir / 'samples.jsonl'}:2: a sample must be a JSON object, not a list")
    assert not (tmp_path / "run").exists()


def test_empty_samples_file_is_refused_not_scored_0_of_0(bench_dir, tmp_path, cli):
    (bench_dir / "samples.jsonl").write_text("\n")
    (tmp_path / "p.jsonl").write_text('{"id": "x", "output": "3"}\n')
    for argv in (["eval", bench_dir, "--model", "chance", "--out", tmp_path / "run"],
                 ["score", bench_dir, "--predictions", tmp_path / "p.jsonl"], ["validate", bench_dir]):
        cli(*argv).one_error_line(f"{bench_dir / 'samples.jsonl'}: no samples (the file is empty)")
    assert not (tmp_path / "run").exists()


def test_missing_manifest_is_named(bench_dir, tmp_path, cli):
    (bench_dir / "manifest.json").unlink()
    cli("eval", bench_dir, "--model", "oracle", "--out", tmp_path / "run").one_error_line(
        f"{bench_dir}: not a bench (no manifest.json")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("content", "message"), [
    ("", "no predictions (the file is empty)"),
    ('["counting-000000", "3"]\n', "p.jsonl:1: a prediction needs a string 'id' and a string 'output'"),
    ('{"id": "counting-000000", "output": 3}\n', "p.jsonl:1: a prediction needs a string 'id'"),
    ('{"id": "counting-000000", "output": "3"}\n{"id": "counting-0000', "p.jsonl:2: invalid JSON"),
    ('{"id": "nope", "output": "3"}\n', "p.jsonl:1: id 'nope' is not a sample of the bench"),
])
def test_malformed_predictions(bench_dir, tmp_path, cli, content, message):
    (tmp_path / "p.jsonl").write_text(content)
    cli("score", bench_dir, "--predictions", tmp_path / "p.jsonl", "--out",
        tmp_path / "s.json").one_error_line(message)
    assert not (tmp_path / "s.json").exists()


@pytest.mark.parametrize(("task", "answer", "ok"), [
    ("listing", ["bus", "car"], True), ("listing", "car", False), ("listing", 2, False),
    ("common", "dog", True), ("common", ["cat", "dog"], True), ("common", 5, False), ("odd_one", [1], False),
    ("counting", 0, True), ("counting", -1, False), ("counting", True, False), ("counting", 2.0, False),
])
def test_answer_type_follows_the_task(task, answer, ok):
    from mimic_vlm.errors import MimicError
    from mimic_vlm.schema import Sample

    row = {"id": "s", "task": task, "images": ["a.png"], "question": "q", "answer": answer, "gt": "x"}
    if ok:
        assert Sample.from_dict(row, "f.jsonl:3").answer == answer
    else:
        with pytest.raises(MimicError, match=r"^f\.jsonl:3: sample 's': a \w+ 'answer' must be"):
            Sample.from_dict(row, "f.jsonl:3")
