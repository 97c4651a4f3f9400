"""A folder held by one process at a time: `flock` on the folder itself, so nothing is left behind.

The kernel drops the lock when the holder exits, killed or crashed included, so a stale lock never blocks a
rerun, and no lock file appears in the folder. Two `mimic eval` into one `--out` would otherwise both run
the whole bench (twice the compute, twice the API bill) and interleave their lines.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from mimic_vlm.errors import MimicError


@contextlib.contextmanager
def hold_folder(folder: Path, what: str = "another mimic command") -> Iterator[None]:
    """Hold `folder` (which must exist) for the block; refuse at once if another process holds it."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise MimicError(f"{folder}: {what} is writing to this folder right now; wait for it to finish "
                             "or choose another --out") from None
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def holding(folder: Path, what: str, *, hold: bool = True) -> Iterator[bool]:
    """Make `folder` if it is missing and hold it for the block (`hold` False: only make it, as on the other
    ranks of a distributed run, where rank 0 holds it). Yields whether this call made the folder, so a
    caller can remove what a failed run leaves in it."""
    if folder.exists() and not folder.is_dir():
        raise MimicError(f"{folder}: is a file, expected a folder to write into")
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    with hold_folder(folder, what) if hold else contextlib.nullcontext():
        yield created
