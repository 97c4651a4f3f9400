"""`mimic demo` ends in a report with the paired comparison and the sample browser (two baselines here)."""

from __future__ import annotations

import pytest

from mimic_vlm.cli import main


def test_demo_report_has_compare_and_browser(tmp_path):
    out = tmp_path / "demo"
    with pytest.raises(SystemExit) as e:
        main(["demo", "--out", str(out), "--images", "60", "--count", "3", "--models", "oracle,chance"])
        raise SystemExit(0)
    assert e.value.code == 0
    md = (out / "report" / "report.md").read_text()
    html = (out / "report" / "report.html").read_text()
    assert "## Paired comparisons" in md and "**chance vs oracle** (12 shared samples)" in md
    assert "## Sample browser" in md and html.count("id='mb-data'") == 1
