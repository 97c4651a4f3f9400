"""mimic-vlm: controlled multi-image benchmarks, evaluation, diagnostics and fine-tuning for VLMs.

`import mimic_vlm as mv`: `mv.toy_world`, `mv.generate`, `mv.load_bench`, `mv.evaluate`, `mv.score`,
`mv.load_run`, `mv.compare`, `mv.report`, `mv.study` and their result types (`mimic_vlm/api.py`). They load on first use,
so `import mimic_vlm` (and `mimic --help`) stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

__all__ = ["Bench", "Comparison", "Metric", "PairedDiff", "Run", "Scores", "TaskScores", "__version__", "compare",
           "evaluate", "generate", "load_bench", "load_run", "report", "score", "study", "toy_world"]
_API = frozenset(__all__) - {"__version__"}

if TYPE_CHECKING:
    from mimic_vlm.api import (
        Bench,
        Comparison,
        Metric,
        PairedDiff,
        Run,
        Scores,
        TaskScores,
        compare,
        evaluate,
        generate,
        load_bench,
        load_run,
        report,
        score,
        study,
        toy_world,
    )


def __getattr__(name: str) -> Any:
    import importlib

    if name in ("evaluate", "report", "study"):  # also subpackages: made callable (mimic_vlm/callable_package.py)
        return importlib.import_module(f"mimic_vlm.{name}")
    if name in _API:
        return getattr(importlib.import_module("mimic_vlm.api"), name)
    raise AttributeError(f"module 'mimic_vlm' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
