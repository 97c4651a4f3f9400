"""Text from data (sample ids, category names, file names, model output) printed to a terminal: control
characters are shown escaped, never sent, so a bench cannot set the window title, clear the screen or hide a
line (ESC sequences, carriage returns, bidi overrides)."""

from __future__ import annotations


def printable(text: str) -> str:
    """`text` with every non-printable character (other than a plain space) written as its Python escape."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


def control_character(text: str) -> str | None:
    """The first control or format character of `text` (ESC, a newline, a bidi override), escaped; None when
    the text has none. Names (categories, ids) holding one are refused where they are read."""
    for c in text:
        if not c.isprintable() and c != " ":
            return repr(c)[1:-1]
    return None
