"""A report that reads (issue 22): a table of contents, lists as lists, each model compared with its natural
reference (not every run with the oracle), control panels only where the control varies, one colour per run,
the unparsed section without the baselines' abstentions and pointing at the browser, masked runs not "base"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from report_files import Scripted

import mimic_vlm as mv
from mimic_vlm.evaluate.runner import run_eval
from mimic_vlm.report.benchmarks import identify
from mimic_vlm.report.blocks import MIMIC_SCORE, Section, Table, Text, mean_of
from mimic_vlm.report.compare import compare_pairs, compare_table
from mimic_vlm.report.render import anchor, render_html, render_markdown
from mimic_vlm.report.runs import load_runs
from mimic_vlm.report.sections import run_colors, unparsed_section, varying_panels


class Masked(Scripted):
    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "mask": {"layers": [2, 3], "backend": "blocks"}}


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> tuple[Any, Path]:
    root = tmp_path_factory.mktemp("readable")
    world = mv.toy_world(root / "w", images=80, seed=1, preset="tiny")
    # blank images let the single-image solver abstain ("none") on common / odd_one: the unparsed test's premise
    bench = mv.generate(root / "b", annotations=world, count=6, n_images="2-4", seed=1, blank_images=True)
    for spec in ("oracle", "chance", "prior", "single-image"):
        mv.evaluate(bench, spec, root / "runs" / spec)
    answers = {s.id: ("I cannot tell" if s.task == "counting" else str(s.gt)) for s in bench.samples}
    run_eval(bench, Scripted("m", answers), root / "runs" / "m", command=["test"])
    run_eval(bench, Masked("m", answers), root / "runs" / "m-masked", command=["test"])
    return bench, root / "runs"


def test_each_model_against_the_best_reference_baseline(toy):
    _, runs_dir = toy
    runs = load_runs([runs_dir / n for n in ("oracle", "chance", "prior", "single-image", "m")])
    best = max(runs[1:4], key=lambda r: r.scores["mimic_score"]["value"])
    assert [(a.name, b.name) for a, b in compare_pairs(runs)] == [(best.name, "m")]
    baselines = runs[:4]  # no model run: the first against every other, as before
    assert [(a.name, b.name) for a, b in compare_pairs(baselines)] == [("oracle", n) for n in
                                                                      ("chance", "prior", "single-image")]


def test_a_masked_run_is_compared_with_its_plain_run_and_is_no_base(toy):
    _, runs_dir = toy
    runs = load_runs([runs_dir / n for n in ("chance", "m", "m-masked")])
    assert [(a.name, b.name) for a, b in compare_pairs(runs)] == [("m", "m-masked")]
    assert identify(runs[2]) == ("m", "mask 2-3") and identify(runs[1]) == ("m", "base")
    assert mv.load_run(runs_dir / "m-masked").model == "m + mask 2-3"


def test_unparsed_section_leaves_out_baselines_and_points_to_the_browser(toy):
    _, runs_dir = toy
    runs = load_runs([runs_dir / n for n in ("single-image", "m")])
    assert any(p.get("unparsed") for p in runs[0].predictions)  # the single-image solver's "none"
    section = unparsed_section(runs)
    assert section is not None
    table = section.blocks[1]
    assert isinstance(table, Table) and {row[0] for row in table.rows} == {"m"}
    assert table.rows[0][1:3] == ["'I cannot tell'", "6"]
    note = section.blocks[0]
    assert isinstance(note, Text) and "m 6" in note.text and "[sample browser](#sample-browser)" in note.text
    assert "<a href='#sample-browser'>sample browser</a>" in render_html([section], "t")
    assert unparsed_section(runs[:1]) is None


def test_control_panels_only_where_the_control_varies(toy):
    _, runs_dir = toy
    runs = load_runs([runs_dir / n for n in ("oracle", "m")])
    assert varying_panels(runs, "n_images") == ["counting", "listing", "common", "odd_one", MIMIC_SCORE]
    # spread is the number of images holding the answer: odd_one always 1; common always all of them
    assert "odd_one" not in varying_panels(runs, "spread")
    assert "common" not in varying_panels(runs, "distractors")
    assert run_colors(runs) == {"oracle": "C0", "m": "C1"}


def test_contents_lists_and_the_one_task_mean(toy):
    sections = [Section("Runs", [Text("**bold** first\n\n- one\n- two <b>")]), Section("Summary (95% CI)", []),
                Section("Sample browser", [])]
    html = render_html(sections, "T")
    assert "<nav><b>Contents</b><ul><li><a href='#runs'>Runs</a></li>" in html
    assert "<h2 id='summary-95-ci'>Summary (95% CI)</h2>" in html and anchor("Sample browser") == "sample-browser"
    assert "<p><b>bold</b> first</p><ul><li>one</li><li>two &lt;b&gt;</li></ul>" in html
    md = render_markdown(sections, "T")
    assert md.startswith("# T\n\n- [Runs](#runs)\n- [Summary (95% CI)](#summary-95-ci)\n")
    assert "Contents" not in render_html(sections[:2], "T")
    assert mean_of(4) == "mean of 4 headlines" and "1 headlines" not in mean_of(1)
    _, runs_dir = toy
    one = mv.compare(runs_dir / "chance", runs_dir / "m")
    assert compare_table(one.raw).rows[0][3] == "mean of 4 headlines"
