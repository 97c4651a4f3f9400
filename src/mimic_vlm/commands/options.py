"""Options several commands share, declared once."""

from __future__ import annotations

from typing import Any

import typer

MAX_SEED = 2**63 - 1
"""numpy takes any non-negative seed; JSON records (orjson) and torch hold 64 bits."""


def seed_option(help: str) -> Any:
    """`--seed`: a non-negative integer that fits every generator and record that takes it."""
    return typer.Option(0, "--seed", min=0, max=MAX_SEED, help=help)
