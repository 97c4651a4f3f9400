"""Files the tool writes: every write is atomic (temp file + rename), respects the umask, and an output
folder is replaced only when `--overwrite` is given and the folder is one this tool made (its `Marker`)."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Collection, Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from mimic_vlm.errors import MimicError, os_error
from mimic_vlm.schema import dumps
from mimic_vlm.staging import swap_in, sweep_leftovers, temp_path


def write_jsonl_atomic(path: str | Path, rows: Iterable[dict[str, Any]]) -> None:
    """Write all rows or nothing: a crash leaves the old file (or no file), never half of one."""
    write_bytes_atomic(path, b"".join(dumps(r) + b"\n" for r in rows))


def honour_umask(folder: Path, pattern: str = "*.safetensors") -> None:
    """Give files another library wrote with a fixed mode the umask's (safetensors writes 0600, so a group
    could not read a shared adapter)."""
    mode = 0o666 & ~_umask()
    for p in Path(folder).rglob(pattern):
        if p.is_file():
            os.chmod(p, mode)


def _umask() -> int:
    """The process umask: read from /proc where it can be (no change, so safe beside other threads), else
    by setting it and putting it back at once."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write all of `data` or nothing, with the mode a plain `open()` would give (the umask honoured, not
    mkstemp's 0600: a bench or report is shared with a group)."""
    path = Path(path)
    if path.is_dir():
        raise MimicError(f"{path}: is a folder, expected a file name to write")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(e, OSError):  # a full disk names no file: name the one being written
            raise os_error(e, path) from None
        raise


def write_json_atomic(path: str | Path, obj: Any) -> None:
    write_bytes_atomic(path, orjson.dumps(obj, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2
                                          | orjson.OPT_SERIALIZE_NUMPY) + b"\n")


Marker = Callable[[Path], bool]
"""Says whether an existing folder is one this tool made (so `--overwrite` may replace it)."""


def has_files(*names: str) -> Marker:
    """A marker: the folder holds all of `names` (the manifest or result files the tool writes there)."""
    return lambda folder: all((folder / n).exists() for n in names)


def check_output_folder(target: Path, overwrite: bool, marker: Marker | None, what: str = "output folder") -> bool:
    """The one `--overwrite` rule of every command. True when `target` exists and will be replaced.

    A missing or empty folder is always fine. An existing one is refused without `overwrite`; with it, only a
    folder the tool itself made (`marker`) is replaced: any other non-empty folder is refused, never deleted.
    """
    if target.exists() and not target.is_dir():
        raise MimicError(f"{target}: is a file, expected a folder to write into")
    if not target.exists() or not any(target.iterdir()):
        return False
    if not overwrite:
        raise MimicError(f"{target}: {what} exists (use --overwrite to replace it)")
    if marker is None or not marker(target):
        raise MimicError(f"{target}: holds files mimic did not write there; --overwrite replaces only a folder "
                         "made by the same command (choose another --out, or empty it yourself)")
    return True


def check_study_folder(target: Path, own: Collection[str], command: str) -> None:
    """A resumable study (sweep, pooling) writes into a new, an empty or its own folder (entries named
    `own`): mixed into a folder of other files, its files would later let another command's `--overwrite`
    take that folder for one it made."""
    if target.exists() and not target.is_dir():
        raise MimicError(f"{target}: is a file, expected a folder to write into")
    foreign = sorted(p.name for p in target.iterdir() if p.name not in own) if target.is_dir() else []
    if foreign:
        raise MimicError(f"{target}: holds files {command} did not write there ({', '.join(foreign[:3])}); "
                         "choose another --out")


@contextlib.contextmanager
def built_in_place(target: Path, overwrite: bool, marker: Marker | None) -> Iterator[Path]:
    """Like `atomic_dir`, for outputs that must be built at their final path (a demo's runs record where
    their bench is): the replaced folder waits aside and comes back if the block fails, and a failed build
    leaves nothing."""
    replace = check_output_folder(target, overwrite, marker)
    aside = target.with_name(f".{target.name}.old-{os.getpid()}")
    if replace:
        os.replace(target, aside)
    try:
        target.mkdir(parents=True, exist_ok=True)
        yield target
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        if replace:
            os.replace(aside, target)
        raise
    if replace:
        shutil.rmtree(aside, ignore_errors=True)


@contextlib.contextmanager
def atomic_dir(target: str | Path, overwrite: bool = False, marker: Marker | None = None) -> Iterator[Path]:
    """Build a folder in a temporary sibling and move it into place only if the block succeeds.

    An existing `target` follows `check_output_folder`; it is replaced only after success, so a failed run
    never destroys what was there. The folder gets the umask's mode.
    """
    target = Path(target)
    check_output_folder(target, overwrite, marker)
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_leftovers(target)  # what a killed run of the same command left
    tmp = temp_path(target)
    try:
        tmp.mkdir()  # the umask's mode
        yield tmp
    except (OSError, MimicError) as e:  # a full disk: name the folder asked for, not the temporary one removed
        shutil.rmtree(tmp, ignore_errors=True)
        error = os_error(e) if isinstance(e, OSError) else e
        if str(tmp) not in str(error):
            raise
        raise type(error)(str(error).replace(str(tmp), str(target))) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    swap_in(tmp, target)
