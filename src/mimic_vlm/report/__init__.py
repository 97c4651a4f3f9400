"""Reports over run folders: `report.md` (+ `figures/*.png`) and a self-contained `report.html`.

```python
from mimic_vlm.plugins import REPORT_SECTIONS
from mimic_vlm.report import write_report
write_report(["runs/a", "runs/b"], "report", REPORT_SECTIONS)
```
A report is a list of sections, each built from all runs by a `SectionBuilder` (report/blocks.py); the builders
are passed in, so areas add theirs without this package knowing them. Called, the package is
`mimic_vlm.api.report` (`mv.report(runs, out)`; see `callable_package`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mimic_vlm.callable_package import make_callable
from mimic_vlm.errors import MimicError
from mimic_vlm.files import atomic_dir, has_files, write_bytes_atomic
from mimic_vlm.report.blocks import Figure, Section, SectionBuilder
from mimic_vlm.report.render import render_html, render_markdown
from mimic_vlm.report.runs import RunData, check_same_bench, load_runs
from mimic_vlm.report.sections import CORE_SECTIONS

__all__ = ["CORE_SECTIONS", "RunData", "Section", "SectionBuilder", "build_sections", "write_report"]


def build_sections(runs: list[RunData], builders: Sequence[SectionBuilder] = CORE_SECTIONS) -> list[Section]:
    return [s for builder in builders if (s := builder(runs)) is not None]


def write_report(run_paths: Sequence[str | Path], out: str | Path, builders: Sequence[SectionBuilder] = CORE_SECTIONS,
                 overwrite: bool = False, title: str = "MIMIC evaluation report", allow_mixed: bool = False) -> Path:
    """Build the sections over the runs and write report.md, figures/ and report.html (atomically).

    `builders` default to the core sections; `mimic_vlm.plugins.REPORT_SECTIONS` adds every area's."""
    if not run_paths:
        raise MimicError("report: give at least one run folder")
    runs = load_runs(list(run_paths))
    if not allow_mixed:
        check_same_bench(runs)
    with atomic_dir(out, overwrite=overwrite, marker=has_files("report.md")) as tmp:  # refuses an existing folder before any work
        sections = build_sections(runs, builders)
        for s in sections:
            for b in s.blocks:
                if isinstance(b, Figure):
                    write_bytes_atomic(tmp / "figures" / f"{b.name}.png", b.png)
        write_bytes_atomic(tmp / "report.md", render_markdown(sections, title).encode())
        write_bytes_atomic(tmp / "report.html", render_html(sections, title).encode())
    return Path(out)


make_callable(__name__)
