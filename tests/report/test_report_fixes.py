"""Report and sheet fixes (issue 14 §4): single-valued controls get no plot, zero bars and identical runs stay
visible, the base-vs-fine-tuned section only with a fine-tuned run, diagnostics folders are not scored runs,
the terminal names metrics like the report, the contact sheet numbers images and shows controls, and the
question / listing prompt grammar (the official text only under --official)."""

from __future__ import annotations

import json

import pytest
from PIL import Image
from report_files import right, write_test_bench

from mimic_vlm.bench.inspect import contact_sheet
from mimic_vlm.cli import main
from mimic_vlm.compose.templates import question
from mimic_vlm.evaluate.runner import run_eval
from mimic_vlm.models.registry import load_model
from mimic_vlm.report.benchmarks import benchmarks_section
from mimic_vlm.report.blocks import Figure, Table
from mimic_vlm.report.runs import load_runs
from mimic_vlm.report.sections import controls_section, dodge, runs_section, summary_section, zero_positions
from mimic_vlm.store import load_bench


def test_single_valued_controls_get_a_table_and_no_plot(tmp_path, make_run):
    bench = load_bench(write_test_bench(tmp_path / "b", balance="uniform", n_listing=0))
    runs = load_runs([make_run(bench, "a", right(range(5)))])
    section = controls_section(runs)
    figures = [b.name for b in section.blocks if isinstance(b, Figure)]
    tables = [b for b in section.blocks if isinstance(b, Table)]
    assert figures == ["control_n_images", "control_spread"]  # balance has one value: nothing to plot
    assert [t.headers[2:] for t in tables] == [["n_images=2", "n_images=4"], ["spread=1", "spread=2"],
                                              ["balance=uniform"]]


def test_zero_bars_and_dodged_runs():
    assert zero_positions([0.0, 1.0, 2.0], [0.0, float("nan"), 0.5]) == [0.0]  # NaN (no value) gets no stub
    assert dodge(1, [2.0, 3.0]) == [0.0]
    assert dodge(3, [2.0, 4.0, 6.0]) == pytest.approx([-0.16, 0.0, 0.16])


def test_diagnostics_folders_are_not_scored_runs(bench, make_run, tmp_path):
    diag = tmp_path / "sweep-out"
    diag.mkdir()
    (diag / "sweep.json").write_text("{}")
    runs = load_runs([make_run(bench, "a", right(range(5))), diag])
    assert runs[1].diagnostics and not runs[0].diagnostics
    assert [r[0] for r in runs_section(runs).blocks[0].rows] == ["a"]
    assert [r[0] for r in summary_section(runs).blocks[0].rows] == ["a"]
    assert runs_section(runs[1:]) is None and summary_section(runs[1:]) is None
    assert benchmarks_section(runs) is None


def test_base_vs_fine_tuned_only_with_a_fine_tuned_run(bench, make_run):
    a = make_run(bench, "a", right(range(5)), model="m")
    z = make_run(bench, "z", right(range(7)), model="z")
    assert benchmarks_section(load_runs([a, z])) is None  # two models, no fine-tuned one
    tuned = make_run(bench, "tuned", right(range(2, 9)), model="m", adapter="/ckpt/lora")
    again = make_run(bench, "a-again", right(range(5)), model="m")  # the same model under another name
    section = benchmarks_section(load_runs([a, tuned, again]))
    table = next(b for b in section.blocks if isinstance(b, Table))
    assert table.headers == ["metric", "n", "base", "fine-tuned: lora", "Δ [95% paired CI]", "McNemar p",
                             "base (a-again)", "Δ [95% paired CI]", "McNemar p"]
    row = next(r for r in table.rows if r[0] == "MIMIC counting (accuracy)")
    assert row[2].startswith("0.500 [")  # 0-1 scale, as everywhere
    assert row[3].startswith("0.700 [") and row[4].startswith("+0.200 [") and row[5] == "0.688"
    assert row[6].startswith("0.500 [") and row[7] == "+0.000 [+0.000, +0.000]" and row[8] == "1.000"


def test_terminal_names_metrics_like_the_report(bench, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["eval", str(bench.root), "--model", "oracle", "--out", str(tmp_path / "r"),
              "--no-progress"])
        raise SystemExit(0)
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "micro F1" in out and "micro_f1" not in out and "correct" not in out


def test_contact_sheet_numbers_images_marks_targets_and_shows_controls(bench, tmp_path):
    sheet = Image.open(contact_sheet(bench, tmp_path / "sheet.png", n=2)).convert("RGB")
    # row 0 is counting-000: two 80x64 images centred in 160 px cells; the dog is in image 1 only
    x0, y0 = 8 + (160 - 80) // 2, 8 + (160 - 64) // 2
    assert sheet.getpixel((x0 + 1, y0 + 1)) == (0, 0, 0)  # the number's box
    assert sheet.getpixel((x0 + 168 + 1, y0 + 1)) == (0, 0, 0)
    assert sheet.getpixel((x0 - 2, y0 + 30)) == (30, 160, 30)  # framed: holds a target
    assert sheet.getpixel((x0 + 168 - 2, y0 + 30)) == (255, 255, 255)  # not framed
    # the text block grew by one line (the controls)
    assert sheet.height == 2 * (160 + 62 + 16)


def test_question_and_listing_prompt_grammar(bench, tmp_path):
    assert question("listing", ["outdoor"]) == "Which outdoor categories appear across these images?"
    assert question("listing", ["vehicle", "animal"]) == "Which vehicle and animal categories appear across these images?"
    model = load_model("oracle", bench=bench)
    run_eval(bench, model, tmp_path / "default", command=["t"])
    run_eval(bench, model, tmp_path / "official", official=True, command=["t"])
    default = json.loads((tmp_path / "default" / "run.json").read_text())["prompt_examples"]["listing"]
    official = json.loads((tmp_path / "official" / "run.json").read_text())["prompt_examples"]["listing"]
    assert default == ("Question: Which objects appear in these images? Please provide the list of category names "
                       "directly.\nAnswer:")
    assert official == ("Question: Which objects appear in these images?. Please provide the list of category "
                        "names directly.\nAnswer:")  # lmms-eval's text, character for character
