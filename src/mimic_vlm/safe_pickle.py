"""Reading a pickle without running code from it: prediction pickles come from other tools and other people, and
`pickle.load` calls whatever a `__reduce__` names. Only plain containers and scalars are rebuilt; any other
global is refused with one line."""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

from mimic_vlm.errors import MimicError, first_line

ALLOWED = {
    ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "bytearray"), ("builtins", "complex"),
    ("collections", "OrderedDict"),
    # numpy scalars (VLMEvalKit keys its pickles by the table's numpy int64 index): a dtype and raw bytes, no code
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"), ("numpy", "dtype"),
}
"""The only globals a prediction pickle may name: constructors of plain values, none of which runs code."""


class _Restricted(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED:
            raise pickle.UnpicklingError(f"refused to load {module}.{name} (only plain containers and scalars "
                                         "are read from a pickle)")
        return super().find_class(module, name)


def loads(data: bytes) -> Any:
    """The value a pickle holds, rebuilt from plain types only (`pickle.UnpicklingError` for anything else)."""
    return _Restricted(io.BytesIO(data)).load()


def load_file(path: Path, what: str) -> Any:
    """`loads` of a file, with every failure (unreadable, garbage, a refused global) one line naming `path`."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise MimicError(f"{path}: cannot read ({e.strerror})") from None
    try:
        return loads(data)
    except Exception as e:  # garbage bytes raise almost anything (ValueError, KeyError, EOFError, ...)
        raise MimicError(f"{path}: not {what} ({type(e).__name__}: {first_line(e)})") from None
