"""Replacing an output folder only after success: the new output is built in a hidden sibling (the stage) and
swapped in at the end, so a run that fails, or is interrupted, leaves the folder it was to replace whole."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def staging(out: Path) -> Path:
    """Where the replacement of `out` is built: one fixed name, so every rank of a distributed run finds it,
    a rerun can resume it, and a stage a killed run left is found (and cleared) by the next run."""
    return out.with_name(f".{out.name}.overwrite")


def fresh_stage(stage: Path) -> None:
    """An empty stage (whatever a killed run left there is removed; a link is removed, never followed)."""
    if stage.is_symlink() or stage.exists() and not stage.is_dir():
        stage.unlink()
    elif stage.is_dir():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)


def swap_in(stage: Path, out: Path) -> None:
    """Put the finished `stage` in the place of `out`, then delete what `out` held."""
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    if out.exists():
        os.replace(out, old)
    os.replace(stage, out)
    shutil.rmtree(old, ignore_errors=True)
