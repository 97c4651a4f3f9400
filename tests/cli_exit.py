"""`exit_code(argv)`: run `mimic` in process and return its exit code (for module-scoped fixtures, where
pytest's capsys, and so `tests/hardening`'s `cli` fixture, is not available)."""

from __future__ import annotations

from mimic_vlm.cli import main


def exit_code(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as e:
        return int(e.code or 0)
    return 0
