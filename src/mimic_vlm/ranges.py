"""Lists as people type them on a command line: integers ("5", "2-6", "2,4,8", "3,5,8-9") and names
("counting,listing").

One reader for every option that takes them (controls, mask layers, sweep values, --task); each caller adds
its own meaning (sorted sets, keywords such as "second-half", order kept). An empty item ("2,,4", "a,") is
an error, never skipped: it is a typo, and skipping it would silently run something else than was asked.
"""

from __future__ import annotations

from mimic_vlm.errors import MimicError

EMPTY_ITEM = "an empty item in the list (two commas in a row, or a comma at an end)"


class ReversedRange(ValueError):
    """A range whose start is larger than its end ("5-2")."""


def parse_int_list(text: str) -> list[int]:
    """The integers `text` names, in the order given (ranges inclusive). ValueError says what is wrong."""
    values: list[int] = []
    if not str(text).strip():
        raise ValueError("expected a number, a range A-B or a list a,b,c")
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            raise ValueError(EMPTY_ITEM)
        lo, sep, hi = part.partition("-") if not part.startswith("-") else (part, "", "")
        try:
            start, end = int(lo), int(hi) if sep else int(lo)
        except ValueError:
            raise ValueError("expected a number, a range A-B or a list a,b,c") from None
        if start > end:
            raise ReversedRange("range start is larger than its end")
        values.extend(range(start, end + 1))
    if not values:
        raise ValueError("expected a number, a range A-B or a list a,b,c")
    return values


def parse_name_list(text: str | None, option: str) -> list[str] | None:
    """The names of a comma list (`--task counting,listing`), in order; None when the option is not given.
    An empty list (",") or an empty item ("a,,b") is a MimicError naming `option`: run with every task
    instead of the ones asked would be a silent surprise."""
    if text is None:
        return None
    names = [part.strip() for part in text.split(",")]
    if not any(names):
        raise MimicError(f"{option} {text!r}: names nothing (give one or more names, comma-separated)")
    if not all(names):
        raise MimicError(f"{option} {text!r}: {EMPTY_ITEM}")
    return names
