"""issue 23 §4-5: foreign files typed at the edge: a scores.json whose `ci` is short or not numbers, an
ill-typed `mimic_train.json`, a malformed .xlsx, a non-UTF-8 id file: each one line, never a traceback."""

from __future__ import annotations

import json
import zipfile

import pytest
from hardening_helpers import rows

from mimic_vlm.errors import MimicError
from mimic_vlm.models.trained import TrainedSettings


@pytest.mark.parametrize("ci", [[0.1], [0.1, "x"], "wide", [0.1, 0.2, 0.3], [True, 1.0]])
def test_report_refuses_a_scores_json_with_a_bad_ci(bench_dir, tmp_path, cli, ci):
    run = tmp_path / "run"
    assert cli("eval", bench_dir, "--model", "oracle", "--out", run, "--no-progress").code == 0
    scores = json.loads((run / "scores.json").read_text())
    task = scores["tasks"]["counting"]
    task["metrics"][task["headline"]]["ci"] = ci
    (run / "scores.json").write_text(json.dumps(scores))
    cli("report", run, "--out", tmp_path / "r").one_error_line(
        f"{run / 'scores.json'}: task 'counting': every metric must be an object with a numeric 'value' (and a 'ci' "
        "of two numbers)")
    assert not (tmp_path / "r").exists()


def test_report_refuses_a_bad_ci_inside_a_control_split(bench_dir, tmp_path, cli):
    run = tmp_path / "run"
    assert cli("eval", bench_dir, "--model", "oracle", "--out", run, "--no-progress").code == 0
    scores = json.loads((run / "scores.json").read_text())
    entry = next(iter(next(iter(scores["tasks"]["counting"]["by_control"].values())).values()))
    next(iter(entry["metrics"].values()))["ci"] = [0.5]
    (run / "scores.json").write_text(json.dumps(scores))
    cli("report", run, "--out", tmp_path / "r").one_error_line("'by_control' must map controls")


@pytest.mark.parametrize(("field", "value", "problem"), [
    ("base_kwargs", [1, 2], "'base_kwargs' must be an object of build options, not [1, 2]"),
    ("base_kwargs", "big", "'base_kwargs' must be an object of build options, not 'big'"),
    ("mask_layers", 5, "'mask_layers' must be a string or null, not 5"),
    ("mask_backend", ["sdpa"], "'mask_backend' must be a string or null, not ['sdpa']"),
    ("max_pixels", "lots", "'max_pixels' must be a positive whole number or null, not 'lots'"),
    ("image_size", -3, "'image_size' must be a positive whole number or null, not -3"),
])
def test_an_ill_typed_mimic_train_json_is_one_line(bench_dir, tmp_path, cli, field, value, problem):
    folder = tmp_path / "adapter"
    folder.mkdir()
    (folder / "adapter_config.json").write_text("{}")
    (folder / "mimic_train.json").write_text(json.dumps({"base_model": "tiny:qwen2_vl", "method": "lora",
                                                          field: value}))
    with pytest.raises(MimicError, match="mimic_train.json"):
        TrainedSettings.from_dict(json.loads((folder / "mimic_train.json").read_text()), "mimic_train.json")
    cli("eval", bench_dir, "--model", "tiny:qwen2_vl", "--adapter", folder, "--out", tmp_path / "ev",
        "--no-progress").one_error_line(f"{folder / 'mimic_train.json'}: {problem}")
    assert not (tmp_path / "ev").exists()


@pytest.mark.parametrize("members", [
    {"[Content_Types].xml": "<Types/>", "xl/workbook.xml": "<not xml"},
    {"[Content_Types].xml": "<<<", "xl/_rels/workbook.xml.rels": ""},
    {"[Content_Types].xml": ""},
], ids=["bad-workbook", "bad-types", "empty-types"])
def test_a_malformed_xlsx_is_one_line(bench_dir, tmp_path, cli, members):
    pytest.importorskip("openpyxl")
    path = tmp_path / "p.xlsx"
    with zipfile.ZipFile(path, "w") as z:
        for name, text in members.items():
            z.writestr(name, text)
    cli("score", bench_dir, "--predictions", path, "--bootstrap", "10").one_error_line(
        f"{path}: not an xlsx workbook")


def test_a_non_utf8_id_file_is_one_line(bench_dir, tmp_path, cli):
    ids = tmp_path / "ids.txt"
    ids.write_bytes(b"counting-000000\n\xff\xfe\n")
    cli("eval", bench_dir, "--model", "oracle", "--out", tmp_path / "run", "--ids", f"@{ids}").one_error_line(
        f"--ids @{ids}: not UTF-8 text (byte 16); one id per line")
    ids.write_bytes(b"\xef\xbb\xbfcounting-000001\n")  # a BOM is no part of the first id
    assert cli("eval", bench_dir, "--model", "oracle", "--out", tmp_path / "run", "--ids", f"@{ids}",
               "--no-progress").code == 0
    assert [r["id"] for r in rows(tmp_path / "run" / "predictions.jsonl")] == ["counting-000001"]


def test_a_non_utf8_mixture_yaml_is_one_line(tmp_path, cli):
    mix = tmp_path / "mix.yaml"
    mix.write_bytes(b"datasets:\n  - path: \xff.json\n")
    cli("train", "--model", "tiny:qwen2_vl", "--data", mix, "--out", tmp_path / "t").one_error_line(
        f"{mix}: cannot read the mixture ('utf-8' codec can't decode byte 0xff")


def test_a_bom_csv_is_read_not_reported_as_a_missing_column(bench_dir, tmp_path, cli):
    """Excel writes a BOM before the first column's name: 'no id or index column' sent users looking for it."""
    path = tmp_path / "p.csv"
    ids = [r["id"] for r in rows(bench_dir / "samples.jsonl")]
    path.write_bytes(("\ufeffid,prediction\n" + "".join(f"{i},3\n" for i in ids)).encode())
    r = cli("score", bench_dir, "--predictions", path, "--bootstrap", "10", "--scored", tmp_path / "s")
    assert r.code == 0, r.err
    assert [x["id"] for x in rows(tmp_path / "s")] == ids
