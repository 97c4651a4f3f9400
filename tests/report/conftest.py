"""Fixtures of the report tests: a small bench with real images, run folders made by the real runner."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from report_files import Scripted, write_test_bench

from mimic_vlm.evaluate.runner import run_eval
from mimic_vlm.store import Bench, load_bench


@pytest.fixture
def bench(tmp_path: Path) -> Bench:
    return load_bench(write_test_bench(tmp_path / "bench"))


@pytest.fixture
def make_run(tmp_path: Path) -> Callable[..., Path]:
    """make_run(bench, name, answers: id -> text) -> the run folder, written by `run_eval`."""

    def make(bench: Bench, name: str, answers: dict[str, str], model: str | None = None,
             adapter: str | None = None) -> Path:
        out = tmp_path / "runs" / name
        run_eval(bench, Scripted(model or name, answers, adapter), out, command=["test"])
        return out

    return make
