"""Helpers of the hardening tests: run `mimic` in process and read what a user would see."""

from __future__ import annotations

from pathlib import Path

import pytest

from mimic_vlm.cli import main


class Result:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def one_error_line(self, *needles: str) -> str:
        """Exit 2, exactly one `error:` line on stderr holding every needle, no traceback."""
        lines = [x for x in self.err.splitlines() if x.strip()]
        assert self.code == 2, (self.code, self.err)
        assert len(lines) == 1 and lines[0].startswith("error: "), self.err
        assert "Traceback" not in self.err + self.out
        for n in needles:
            assert n in lines[0], (n, lines[0])
        return lines[0]


@pytest.fixture
def cli(capsys):
    """`cli(*argv)` -> Result; any exception other than SystemExit propagates (= a traceback: a failure)."""

    def run(*argv: str | Path) -> Result:
        capsys.readouterr()
        try:
            main([str(a) for a in argv])
            code = 0
        except SystemExit as e:
            code = int(e.code or 0)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run
