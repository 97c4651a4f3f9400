"""File names that come from data (annotation `file_name`s, sample ids) made safe to write under an output
folder: a name either stays inside it or is refused (`stays_inside`), and ids become file names through
`file_stem`, which maps anything unusual to a fixed safe name."""

from __future__ import annotations

import hashlib
import os
import re

_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def stays_inside(name: str) -> bool:
    """A relative path that, normalised, stays below the folder it is joined to: no absolute path, no drive,
    no `..` climbing out, no backslash (a separator elsewhere), nothing empty."""
    if not name or "\\" in name or "\0" in name or os.path.isabs(name) or re.match(r"[A-Za-z]:", name):
        return False
    norm = os.path.normpath(name)
    return norm not in (".", "..") and not norm.startswith("../")


def file_stem(text: str) -> str:
    """`text` as one file-name component: itself when plainly safe (letters, digits, `.`, `_`, `-`, not starting
    with a dot, up to 100 characters), else its safe characters and a short hash of the whole text, so two
    different ids never share a file and `../../X` or `/abs/X` cannot climb out."""
    if _PLAIN.fullmatch(text) and ".." not in text:
        return text
    kept = re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_")[:60]
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{kept}-{digest}" if kept else digest
