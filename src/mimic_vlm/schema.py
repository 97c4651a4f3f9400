"""Samples and the JSONL files that carry them; every write is atomic (temp file + rename)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from mimic_vlm.errors import MimicError, os_error
from mimic_vlm.staging import sweep_leftovers, temp_prefix

TASKS = ("counting", "listing", "common", "odd_one")
Answer = int | str | list[str]


@dataclass
class Sample:
    """One line of `samples.jsonl` (contract: DESIGN.md).

    `image_objects` holds, per image, the certain object counts of every category present there
    (uncertain categories are listed in `image_uncertain`); it lets baselines, validation and
    diagnostics re-derive answers without the catalog.
    """

    id: str
    task: str
    images: list[str]
    question: str
    answer: Answer
    gt: str
    targets: list[str]
    controls: dict[str, Any]
    source: str
    image_objects: list[dict[str, int]] = field(default_factory=list)
    image_uncertain: list[list[str]] = field(default_factory=list)
    options: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if d["options"] is None:
            del d["options"]
        if not d["extra"]:
            del d["extra"]
        return d

    @classmethod
    def from_dict(cls, d: Any, where: str | None = None) -> Sample:
        """A Sample from one JSON object; a wrong shape or type is a MimicError naming `where` (file:line)."""
        if not isinstance(d, dict):
            raise MimicError(f"{where or 'sample'}: a sample must be a JSON object, not {_kind(d)}")
        name = f"{where}: sample {d.get('id', '?')!r}" if where else f"sample {d.get('id', '?')!r}"
        known = {f for f in cls.__dataclass_fields__}
        kwargs = {k: v for k, v in d.items() if k in known}
        extra = {k: v for k, v in d.items() if k not in known}
        if extra:
            kwargs["extra"] = {**(kwargs.get("extra") or {}), **extra}
        missing = {"id", "task", "images", "question", "answer", "gt"} - kwargs.keys()
        if missing:
            raise MimicError(f"{name} lacks field(s) {sorted(missing)}")
        kwargs.setdefault("targets", [])
        kwargs.setdefault("controls", {})
        kwargs.setdefault("source", "unknown")
        problem = sample_type_problem(kwargs)
        if problem:
            raise MimicError(f"{name}: {problem}")
        return cls(**kwargs)


def _kind(v: Any) -> str:
    """The JSON name of a value's type, for messages."""
    if v is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list",
            dict: "an object"}.get(type(v), type(v).__name__)


def _str_list(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def sample_type_problem(d: dict[str, Any]) -> str | None:
    """What is wrong with the types of a sample's fields (None when nothing): checked at load, so a string
    `images` is never read letter by letter as paths and a counting answer "three" never reaches a scorer."""
    for key in ("id", "task", "question", "gt", "source"):
        if not isinstance(d[key], str):
            return f"'{key}' must be a string, not {_kind(d[key])}"
    if not d["id"]:
        return "'id' must not be empty"
    if not _str_list(d["images"]):
        return f"'images' must be a list of path strings, not {_kind(d['images'])}"
    if not _str_list(d["targets"]):
        return f"'targets' must be a list of strings, not {_kind(d['targets'])}"
    if not isinstance(d["controls"], dict):
        return f"'controls' must be an object, not {_kind(d['controls'])}"
    answer = d["answer"]
    if d["task"] == "counting":
        if not _is_int(answer) or answer < 0:
            return f"a counting 'answer' must be a whole number >= 0, not {answer!r}"
    elif d["task"] == "listing":
        if not _str_list(answer):
            return f"a listing 'answer' must be a list of category names, not {_kind(answer)}"
    elif d["task"] in ("common", "odd_one"):
        if not (isinstance(answer, str) or _str_list(answer)):
            return f"a {d['task']} 'answer' must be a category name (or a list of them), not {_kind(answer)}"
    elif not (isinstance(answer, str) or _is_int(answer) or _str_list(answer)):
        return f"'answer' must be a string, a number or a list of strings, not {_kind(answer)}"
    objects = d.get("image_objects", [])
    if not (isinstance(objects, list) and all(isinstance(o, dict) and all(isinstance(k, str) and _is_int(n)
                                                                         for k, n in o.items()) for o in objects)):
        return "'image_objects' must be a list of {category: count} objects"
    uncertain = d.get("image_uncertain", [])
    if not (isinstance(uncertain, list) and all(_str_list(u) for u in uncertain)):
        return "'image_uncertain' must be a list of lists of category names"
    if d.get("options") is not None and not _str_list(d["options"]):
        return f"'options' must be a list of strings, not {_kind(d['options'])}"
    if not isinstance(d.get("extra", {}), dict):
        return f"'extra' must be an object, not {_kind(d['extra'])}"
    return None


def holds_target(objects: dict[str, int], targets: Sequence[str], vocabulary: dict[str, dict[str, Any]]) -> bool:
    """An image holds a target when it shows a target category, or a category of a target supercategory."""
    wanted = set(targets)
    return any(n > 0 and (c in wanted or vocabulary.get(c, {}).get("supercategory") in wanted)
               for c, n in objects.items())


def target_images(sample: Sample, vocabulary: dict[str, dict[str, Any]]) -> list[bool] | None:
    """Per image: does it hold a target? None when the sample carries no per-image objects."""
    if len(sample.image_objects) != len(sample.images):
        return None
    return [holds_target(o, sample.targets, vocabulary) for o in sample.image_objects]


def dumps(obj: Any) -> bytes:
    """Deterministic JSON bytes (sorted keys) for files that must be byte-identical across runs."""
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY)


def read_bytes(path: Path) -> bytes:
    """The file's bytes, or a MimicError naming the file."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise MimicError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise MimicError(f"{path}: is a folder, expected a file") from None
    except OSError as e:
        raise MimicError(f"{path}: cannot read ({e.strerror})") from None


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, streamed (annotation files reach gigabytes); recorded in bench manifests."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
    except OSError as e:
        raise MimicError(f"{path}: cannot read ({e.strerror})") from None
    return h.hexdigest()


def read_json(path: str | Path) -> Any:
    """Read a JSON file; an unreadable or invalid one is a MimicError naming the file."""
    path = Path(path)
    try:
        return orjson.loads(path.read_bytes())
    except OSError as e:
        raise MimicError(f"{path}: cannot read ({e.strerror})") from None
    except orjson.JSONDecodeError as e:
        raise MimicError(f"{path}: invalid JSON ({e})") from None


def read_jsonl_numbered(path: str | Path) -> list[tuple[int, Any]]:
    """(line number, value) of every non-blank line of a JSONL file; a bad line names its file and line."""
    path = Path(path)
    rows = []
    try:
        fh = path.open("rb")
    except OSError as e:
        raise MimicError(f"{path}: cannot read ({e.strerror})") from None
    with fh:
        for i, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rows.append((i, orjson.loads(line)))
            except orjson.JSONDecodeError as e:
                raise MimicError(f"{path}:{i}: invalid JSON ({e})") from None
    return rows


def read_jsonl(path: str | Path) -> list[Any]:
    """Read a JSONL file; a bad line is reported with its file and line number."""
    return [row for _, row in read_jsonl_numbered(path)]


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
    """Write all of `data` or nothing, with the mode a plain `open()` would give (the umask honoured: mkstemp
    alone makes 0600 files, unreadable to the group a bench or report is shared with)."""
    path = Path(path)
    if path.is_dir():
        raise MimicError(f"{path}: is a folder, expected a file name to write")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
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
    never destroys what was there. The folder gets the umask's mode (not mkdtemp's 0700).
    """
    target = Path(target)
    replace = check_output_folder(target, overwrite, marker)
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_leftovers(target)  # what a killed run of the same command left
    tmp = Path(tempfile.mkdtemp(prefix=temp_prefix(target), dir=target.parent))
    try:
        os.chmod(tmp, 0o777 & ~_umask())
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
    if replace or target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, target)
