"""Samples and the JSONL files that carry them; every write is atomic (temp file + rename)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from mimic_vlm.errors import MimicError

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
    def from_dict(cls, d: dict[str, Any]) -> Sample:
        known = {f for f in cls.__dataclass_fields__}
        kwargs = {k: v for k, v in d.items() if k in known}
        extra = {k: v for k, v in d.items() if k not in known}
        if extra:
            kwargs.setdefault("extra", {}).update(extra)
        missing = {"id", "task", "images", "question", "answer", "gt"} - kwargs.keys()
        if missing:
            raise MimicError(f"sample {d.get('id', '?')!r} lacks field(s) {sorted(missing)}")
        kwargs.setdefault("targets", [])
        kwargs.setdefault("controls", {})
        kwargs.setdefault("source", "unknown")
        return cls(**kwargs)


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


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Read a JSONL file; a bad line is reported with its file and line number."""
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
                rows.append(orjson.loads(line))
            except orjson.JSONDecodeError as e:
                raise MimicError(f"{path}:{i}: invalid JSON ({e})") from None
    return rows


def write_jsonl_atomic(path: str | Path, rows: Iterable[dict[str, Any]]) -> None:
    """Write all rows or nothing: a crash leaves the old file (or no file), never half of one."""
    write_bytes_atomic(path, b"".join(dumps(r) + b"\n" for r in rows))


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_json_atomic(path: str | Path, obj: Any) -> None:
    write_bytes_atomic(path, orjson.dumps(obj, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2
                                          | orjson.OPT_SERIALIZE_NUMPY) + b"\n")


@contextlib.contextmanager
def atomic_dir(target: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Build a folder in a temporary sibling and move it into place only if the block succeeds.

    An existing `target` is refused unless `overwrite`; then it is replaced only after success, so a
    failed run never destroys what was there.
    """
    target = Path(target)
    if target.exists() and not overwrite:
        raise MimicError(f"{target}: output folder exists (use --overwrite to replace it)")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, target)
