"""Integer lists as people type them on a command line: "5", "2-6", "2,4,8", "3,5,8-9".

One reader for every option that takes them (controls, mask layers, sweep values); each caller adds its own
meaning (sorted sets, keywords such as "second-half", order kept).
"""

from __future__ import annotations


class ReversedRange(ValueError):
    """A range whose start is larger than its end ("5-2")."""


def parse_int_list(text: str) -> list[int]:
    """The integers `text` names, in the order given (ranges inclusive). ValueError says what is wrong."""
    values: list[int] = []
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
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
