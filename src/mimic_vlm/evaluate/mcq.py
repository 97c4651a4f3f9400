"""Multiple-choice answers: option letters, the option block of a prompt, and parsing a model's reply.

Parsing is restricted to the valid letters and the LAST declared answer wins, so "The correct answer is
(B)" is B, "I think it's B, no wait, C" is C, and "Based on the images" is nothing (the anchors' BLINK
parser read it as B). A denied letter declares nothing ("C, not A" is C), and a hedge is no answer ("A or
B", "either C or D"). When no letter is declared, an option's own text in the reply is the fallback.
An answer that is neither is unparsed: counted, scored wrong, never guessed.
"""

from __future__ import annotations

import re
import string
from collections import Counter

LETTERS = string.ascii_uppercase

# A standalone capital letter: "(B)", "B.", "B:", "**B**", "B" at the end; never inside a word.
_LETTER = re.compile(r"(?<![A-Za-z0-9'’])([A-Z])(?![A-Za-z0-9'’])")
# "A" and "I" are English words: before a lower-case word ("A dog", "I think") they declare nothing,
# unless an answer cue comes before ("the answer is A because", "Option A is") or, for "A", a verb after
# ("A is correct", "A or B": the article is never followed by one).
_WORD_LETTERS = {"A", "I"}
_FOLLOWED_BY_WORD = re.compile(r"\s+([a-z]+)")
_CUE_BEFORE = re.compile(r"(?:\b(?:option|choice|answer|letter|is|be)|:)[\s*\"'(]*$", re.I)
_DENIED_BEFORE = re.compile(r"\b(?:not|nor|except|excluding)\s*(?:option\s*)?[(\[\"'*]*$", re.I)
_OR_BEFORE = re.compile(r"\bor\s*(?:option\s*)?[(\[\"'*]*$", re.I)
"""A letter after "or" with another letter before it is a hedge ("A or B"): no answer, as a count "2 or 3"."""
_NEVER_AFTER_ARTICLE = {"is", "was", "would", "seems", "appears", "fits", "matches", "because", "since", "or",
                        "and", "not", "nor"}
# An option line inside a text: "A: cat", "(B) dog", "C. bird", "D) fish".
_OPTION_LINE = re.compile(r"^\s*\(?([A-Z])\s*[\).:](.*)$")
r"""Group 2 is stripped by the caller (a lazy `\s*(.*?)\s*$` rescans inner blanks: quadratic)."""
_LABEL = re.compile(r"^\s*(?:\(([A-Z])\)|([A-Z])[.:)])\s+")


def letters(n: int) -> list[str]:
    """The first `n` option letters."""
    if n > len(LETTERS):
        raise ValueError(f"{n} options: at most {len(LETTERS)} are supported")
    return list(LETTERS[:n])


def option_block(options: list[str]) -> str:
    """Options as `(A) …` lines, the form every benchmark prompt here uses."""
    return "\n".join(f"({letter}) {text}" for letter, text in zip(letters(len(options)), options, strict=True))


def strip_label(option: str) -> str:
    """'(A) cat' / 'A. cat' / 'A: cat' -> 'cat': releases that write the letter into the option text."""
    return _LABEL.sub("", option, count=1).strip()


def split_options(text: str) -> list[str]:
    """MMIU-style options in one string ("A: cat\\nB: dog") -> ['cat', 'dog'].

    Lines that do not start a new option continue the previous one. Letters must run A, B, C, ... in order;
    anything else raises ValueError (the caller names the file and row).
    """
    options: list[str] = []
    for line in text.strip().splitlines():
        m = _OPTION_LINE.match(line)
        expected = LETTERS[len(options)] if len(options) < len(LETTERS) else None
        if m and m.group(1) == expected:
            options.append(m.group(2).strip())
        elif options and line.strip():
            options[-1] = f"{options[-1]}\n{line.strip()}"
        elif line.strip():
            raise ValueError(f"option text does not start with a letter label: {line.strip()[:40]!r}")
    if not options:
        raise ValueError("no options found")
    return options


def declared_letters(reply: str, valid: list[str]) -> list[str]:
    """Every valid letter the reply declares, in order of appearance; a denied one ("C, not A") is none."""
    return [letter for letter, _ in _declarations(reply, valid)]


def _declarations(reply: str, valid: list[str]) -> list[tuple[str, int]]:
    """(letter, start) of every valid letter the reply declares and does not deny."""
    found = []
    for m in _LETTER.finditer(reply):
        letter = m.group(1)
        if letter not in valid:
            continue
        word = _FOLLOWED_BY_WORD.match(reply, m.end())
        if (letter in _WORD_LETTERS and word and not _ends(_CUE_BEFORE, reply, m.start())
                and not (letter == "A" and word.group(1) in _NEVER_AFTER_ARTICLE)):
            continue
        if not _ends(_DENIED_BEFORE, reply, m.start()):
            found.append((letter, m.start()))
    return found


def _ends(pattern: re.Pattern[str], reply: str, at: int) -> bool:
    """Whether the text just before `at` ends with `pattern` (a short window: linear over long replies)."""
    return pattern.search(reply, max(0, at - 40), at) is not None


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def option_text_match(reply: str, options: list[str]) -> str | None:
    """The letter of the option whose text the reply names last (a longer name beats one inside it)."""
    reply_n = f" {_norm(reply)} "
    spans = []
    for letter, option in zip(letters(len(options)), options, strict=True):
        name = _norm(option)
        if not name:
            continue
        for m in re.finditer(re.escape(f" {name} "), reply_n):
            spans.append((m.start(), m.end(), letter))
    kept = _outermost(spans)
    if not kept:
        return None
    last_end = max(s[1] for s in kept)
    at_end = {s[2] for s in kept if s[1] == last_end}
    return at_end.pop() if len(at_end) == 1 else None


def _outermost(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Spans inside no other span (an identical span of another option counts as containing), in one sorted
    sweep instead of comparing every pair: a reply repeating an option thousands of times stays fast."""
    same = Counter((s[0], s[1]) for s in spans)
    kept, reach = [], -1
    for s in sorted(spans, key=lambda s: (s[0], -s[1])):
        if reach < s[1] and same[(s[0], s[1])] == 1:
            kept.append(s)
        reach = max(reach, s[1])
    return kept


def parse_choice(reply: str, options: list[str] | None, n_choices: int | None = None) -> str | None:
    """The letter a reply chooses, or None (unparsed).

    `options` are the option texts; where a benchmark writes its options into the question instead
    (MIRB), pass `options=None` and the number of valid letters as `n_choices`.
    """
    valid = letters(len(options) if options is not None else (n_choices or 5))
    declared = _declarations(reply, valid)
    if declared:
        last, start = declared[-1]
        hedged = len({letter for letter, _ in declared}) > 1 and _ends(_OR_BEFORE, reply, start)
        return None if hedged else last
    return option_text_match(reply, options) if options else None
