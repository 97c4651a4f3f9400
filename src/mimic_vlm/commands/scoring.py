"""CLI commands of this area (see `commands/__init__.py`)."""

import typer


def register(app: typer.Typer) -> None:
    pass
