"""Samples and the JSON / JSONL files that carry them (the contract); writing them is `files.py`'s (atomic,
umask-respecting, folders replaced only when the tool made them)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from mimic_vlm.errors import MimicError, cannot_read
from mimic_vlm.tasks import MIMIC
from mimic_vlm.tasks import TASKS as TASKS  # the task names and answer type live with the tasks (tasks/)
from mimic_vlm.tasks.base import Answer as Answer
from mimic_vlm.tasks.base import is_int as _is_int
from mimic_vlm.tasks.base import json_kind as _kind
from mimic_vlm.tasks.base import str_list as _str_list


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
    if d["task"] in MIMIC:
        problem = MIMIC[d["task"]].answer_problem(answer)
        if problem:
            return problem
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
        raise cannot_read(e, path) from None


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, streamed (annotation files reach gigabytes); recorded in bench manifests."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
    except OSError as e:
        raise cannot_read(e, path) from None
    return h.hexdigest()


def read_json(path: str | Path) -> Any:
    """Read a JSON file; an unreadable or invalid one is a MimicError naming the file."""
    path = Path(path)
    try:
        return orjson.loads(path.read_bytes())
    except OSError as e:
        raise cannot_read(e, path) from None
    except orjson.JSONDecodeError as e:
        raise MimicError(f"{path}: invalid JSON ({e})") from None


def read_jsonl_numbered(path: str | Path) -> list[tuple[int, Any]]:
    """(line number, value) of every non-blank line of a JSONL file; a bad line names its file and line."""
    path = Path(path)
    rows = []
    try:
        fh = path.open("rb")
    except OSError as e:
        raise cannot_read(e, path) from None
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
