"""The composition root: every built-in plug-in of an extensible part, listed in one place.

Lower layers never import their plug-ins by name; they take them as arguments, and the CLI (and any library
caller who wants the full set) passes these:

```python
from mimic_vlm.plugins import REPORT_SECTIONS
write_report(runs, out, REPORT_SECTIONS)
```
Tasks are a static table in `evaluate/tasks.py` and model kinds in `models/registry.py` (both extensible with
their `register_*` functions).
"""

from __future__ import annotations

from mimic_vlm.probe.sections import attention_section, pooling_section, sweep_section
from mimic_vlm.report.benchmarks import benchmarks_section
from mimic_vlm.report.blocks import SectionBuilder
from mimic_vlm.report.browser import browser_section
from mimic_vlm.report.compare import compare_section, order_section
from mimic_vlm.report.sections import CORE_SECTIONS
from mimic_vlm.study.report import study_section

REPORT_SECTIONS: tuple[SectionBuilder, ...] = (*CORE_SECTIONS, compare_section, order_section, benchmarks_section,
                                               attention_section, pooling_section, sweep_section, study_section,
                                               browser_section)
