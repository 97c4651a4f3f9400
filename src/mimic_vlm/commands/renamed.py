"""Old option spellings, kept working for one release: rewritten to today's before parsing, with a one-line note.

Today's rule: the bench or runs a command reads come first, as arguments; everything else is an option with one
name per idea across commands (the README lists them).
"""

from __future__ import annotations

from collections.abc import Callable

ARGUMENT = "ARGUMENT"
"""The option became the command's first argument: `--bench B` -> `B`."""
DEFAULT = "DEFAULT"
"""A flag that only restated the default (`--no-official`): dropped."""

_OPENIMAGES = {"--class-descriptions": "--oi-classes", "--hierarchy": "--oi-hierarchy"}
_TOY_WORLD = {"--images": "--toy-images", "--preset": "--toy-preset"}

RENAMED: dict[str, dict[str, str]] = {
    "toy": _TOY_WORLD,
    "demo": _TOY_WORLD,
    "inspect": {"--n": "--limit"},
    "eval": {"--bench": ARGUMENT, "--tasks": "--task", "--no-official": DEFAULT},
    "score": {"--bench": ARGUMENT},
    "probe attention": {"--bench": ARGUMENT},
    "probe pooling": {"--bench": ARGUMENT},
    "cost": {"--images": "--n-images", "--batch": "--batch-size"},
    "train": {"--no-overwrite": DEFAULT},
    "sweep": _OPENIMAGES,
    "study": _OPENIMAGES,
    "import-official": {"--images": "--images-dir"},
}
"""Command path -> {old option: new option, ARGUMENT or DEFAULT}. Remove an entry one release after it is added."""


def command_path(argv: list[str]) -> tuple[str, int]:
    """The sub-command named by `argv` ("probe pooling") and how many tokens name it."""
    words = [w for w in argv[:2] if not w.startswith("-")]
    if len(words) == 2 and f"{words[0]} {words[1]}" in RENAMED and argv[:2] == words:
        return f"{words[0]} {words[1]}", 2
    return (words[0], 1) if words and argv[:1] == words[:1] else ("", 0)


def modernize(argv: list[str], note: Callable[[str], None]) -> list[str]:
    """`argv` with every old spelling of its command rewritten (`--opt=value` too); one note per old name."""
    path, start = command_path(argv)
    table = RENAMED.get(path, {})
    if not table:
        return argv
    out, noted = list(argv[:start]), set()
    for i, token in enumerate(argv[start:], start):
        if token == "--":
            out += argv[i:]
            break
        name, eq, value = token.partition("=")
        new = table.get(name)
        if new is None:
            out.append(token)
            continue
        if name not in noted:
            noted.add(name)
            note(_note(path, name, new))
        if new == ARGUMENT:
            out += [value] if eq else []  # without "=", the value that follows is the argument itself
        elif new != DEFAULT:
            out.append(new + eq + value)
    return out


def _note(path: str, old: str, new: str) -> str:
    now = {ARGUMENT: "is now the command's first argument", DEFAULT: "is the default: leave it out"}.get(
        new, f"is now {new}")
    return f"mimic {path} {old} {now}; the old spelling will stop working in the next release"
