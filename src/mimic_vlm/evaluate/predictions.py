"""The run folder's prediction files: append-only, crash-safe, resumable, mergeable across ranks.

Each batch is appended, flushed and fsynced, so a kill loses at most the batch in flight. A kill during a
write can leave a torn last line; `recover` cuts it off, and the rerun redoes that sample. Under several
processes each rank appends to its own `predictions.rank{r}.jsonl`; rank 0 merges them into
`predictions.jsonl`, in bench order, one line per id.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import orjson

from mimic_vlm.errors import MimicError, os_error
from mimic_vlm.files import write_jsonl_atomic
from mimic_vlm.schema import dumps

PREDICTIONS = "predictions.jsonl"
T = TypeVar("T")


def rank_file(run: Path, rank: int) -> Path:
    return run / f"predictions.rank{rank}.jsonl"


def prediction_files(run: Path) -> list[Path]:
    """Every prediction file of a run: the merged one first, then leftovers of sharded runs."""
    return [p for p in [run / PREDICTIONS, *sorted(run.glob("predictions.rank*.jsonl"))] if p.is_file()]


def recover(path: Path, repair: bool = True) -> list[dict[str, Any]]:
    """The complete lines of an append-only file. A torn last line (no newline: killed mid-write) is cut
    off the file when `repair` (the file is ours to append to), else just skipped."""
    if not path.is_file():
        return []
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if repair and end < len(data):
        with path.open("r+b") as fh:
            fh.truncate(end)
            os.fsync(fh.fileno())
    rows = []
    for i, line in enumerate(data[:end].splitlines(), 1):
        if line.strip():
            try:
                rows.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                raise MimicError(f"{path}:{i}: corrupt prediction line (not JSON); fix or delete the file") from None
    return rows


class Appender:
    """Appends rows durably: one write, flush and fsync per batch."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.fh = path.open("ab")

    def write(self, rows: Iterable[dict[str, Any]]) -> None:
        try:
            self.fh.write(b"".join(dumps(r) + b"\n" for r in rows))
            self.fh.flush()
            os.fsync(self.fh.fileno())
        except OSError as e:  # a full disk: the torn line is cut off by the rerun (`recover`)
            raise os_error(e, self.path) from None

    def __enter__(self) -> Appender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.fh.close()


def complete(row: Any) -> bool:
    """A prediction line that counts as done: a string id and a string output. A line without its output (cut
    by hand, or by another tool) is predicted again, never scored as an empty answer out of the denominator."""
    return isinstance(row, dict) and isinstance(row.get("id"), str) and isinstance(row.get("output"), str)


def done_ids(run: Path, own: Path) -> set[str]:
    """Ids already predicted in any file of the run (`own` is repaired, other ranks' files only read)."""
    return {row["id"] for p in prediction_files(run) for row in recover(p, repair=p == own) if complete(row)}


def shard(items: Sequence[T], rank: int, world: int) -> list[T]:
    """This rank's share: every `world`-th item from `rank` (balanced within one item, disjoint, complete)."""
    return list(items[rank::world])


def merge(run: Path, order: Sequence[str]) -> list[dict[str, Any]]:
    """Fold every prediction file into `predictions.jsonl` (atomically), one line per id, in `order`
    (ids not in `order` last, by id); the rank files are removed afterwards."""
    files = prediction_files(run)
    rows: dict[str, dict[str, Any]] = {}
    for p in files:
        for row in recover(p, repair=False):
            if complete(row):
                rows.setdefault(row["id"], row)
    position = {sid: i for i, sid in enumerate(order)}
    merged = sorted(rows.values(), key=lambda r: (position.get(r["id"], len(position)), r["id"]))
    write_jsonl_atomic(run / PREDICTIONS, merged)
    for p in files:
        if p.name != PREDICTIONS:
            p.unlink()
    return merged
