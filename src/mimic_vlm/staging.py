"""Replacing an output folder only after success: the new output is built in a hidden sibling (the stage) and
swapped in at the end, so a run that fails, or is interrupted, leaves the folder it was to replace whole."""

from __future__ import annotations

import os
import re
import secrets
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


def temp_prefix(out: Path) -> str:
    """The name a temporary build of `out` starts with: it carries the builder's pid, so a later run can tell a
    folder left by a killed process from one a live process is still building."""
    return f".{out.name}.tmp-{os.getpid()}-"


def temp_path(out: Path) -> Path:
    """A new name beside `out` for a temporary build of it (`temp_prefix`, then a random part). Hold the name,
    then make the file or folder inside the `try` that removes it: an interrupt at any point leaves nothing."""
    return out.with_name(f"{temp_prefix(out)}{secrets.token_hex(4)}")


def sweep_leftovers(out: Path) -> None:
    """Remove what killed builds of `out` left beside it (`.OUT.tmp-PID-*`, `.OUT.old-PID`) whose process is
    gone: `kill -9` skips every clean-up, and hidden folders of megabytes would pile up unseen."""
    if not out.parent.is_dir():
        return
    pattern = re.compile(rf"\.{re.escape(out.name)}\.(?:tmp-(\d+)-.*|old-(\d+))")
    for p in out.parent.iterdir():
        m = pattern.fullmatch(p.name)
        if m and not _alive(int(m.group(1) or m.group(2))) and p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True
