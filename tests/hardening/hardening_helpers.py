"""Small file helpers shared by the hardening tests."""

from __future__ import annotations

from pathlib import Path

import orjson


def rows(path: Path) -> list[dict]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines() if x.strip()]


def write_rows(path: Path, data: list) -> None:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in data))
