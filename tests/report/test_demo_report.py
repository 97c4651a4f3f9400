"""`mimic demo` ends in a report with the paired comparison and the sample browser (two baselines here)."""

from __future__ import annotations

import orjson
import pytest

from mimic_vlm.cli import main


def test_demo_report_has_compare_and_browser(tmp_path):
    out = tmp_path / "demo"
    with pytest.raises(SystemExit) as e:
        main(["demo", "--out", str(out), "--toy-images", "60", "--count", "3", "--models", "oracle,chance"])
        raise SystemExit(0)
    assert e.value.code == 0
    md = (out / "report" / "report.md").read_text()
    html = (out / "report" / "report.html").read_text()
    assert "## Paired comparisons" in md and "**chance vs oracle** (12 shared samples)" in md
    assert "## Sample browser" in md and html.count("id='mb-data'") == 1


def test_demo_runs_the_study_on_the_shipped_model_and_reports_it(tmp_path, capsys):
    """The demo's study step: F1, F4 and F5 on toy:mimic-study, printed as a verdict table and in the report."""
    from mimic_vlm.commands import demo

    out = tmp_path / "demo"
    count = demo.STUDY_COUNT
    demo.STUDY_COUNT = 12  # the step, not its statistics: a few base samples per design
    try:
        with pytest.raises(SystemExit) as e:
            main(["demo", "--out", str(out), "--toy-images", "120", "--count", "3", "--models", "prior,toy:mimic-study"])
            raise SystemExit(0)
    finally:
        demo.STUDY_COUNT = count
    assert e.value.code == 0
    record = orjson.loads((out / "study" / "study.json").read_bytes())
    assert record["model"] == "toy:mimic-study" and [f["id"] for f in record["findings"]] == ["F1", "F4", "F5"]
    printed = capsys.readouterr().out
    assert "headline scores" in printed and "findings of the paper" in printed
    for f in record["findings"]:
        assert f["verdict"] in ("reproduced", "not_reproduced", "opposite", "inconclusive", "not_testable")
        assert f["verdict"][:8] in printed  # a narrow terminal may cut the word
    md = (out / "report" / "report.md").read_text()
    assert "## The paper's study" in md and all(f"| {f['id']} |" in md for f in record["findings"])


def test_no_study_without_the_shipped_model_or_with_no_study(tmp_path):
    for models, extra in (("oracle,chance", []), ("oracle,toy:mimic-study", ["--no-study"])):
        out = tmp_path / models.replace(",", "-").replace(":", "-")
        with pytest.raises(SystemExit) as e:
            main(["demo", "--out", str(out), "--toy-images", "60", "--count", "2", "--models", models, *extra])
            raise SystemExit(0)
        assert e.value.code == 0 and not (out / "study").exists()
        assert "## The paper's study" not in (out / "report" / "report.md").read_text()
