"""Open (free-text) answers, scored MMMU-style as MIRB and Mantis-Eval do.

The reply is cut to its declared answer ("Final Answer: …", "the answer is …"), split into the key
phrases that follow words like "is" / "therefore", and every number in them is pulled out. Numbers
compare as floats rounded to 2 decimals; strings are lower-cased and a gold string must occur in a
candidate. Unlike MMMU, the whole declared answer is a candidate too: MMMU's cut after "is " turns the
exact title "Attention Is All You Need" into "all you need". A reply with nothing in it is unparsed.
"""

from __future__ import annotations

import re

_DECLARED = ("final answer:", "the answer is", "answer:")
_KEY_WORDS = ("could be ", "so ", "is ", "thus ", "therefore ", "final ", "answer ", "result ")
_TRIVIAL = {"", ":", ",", ".", "!", "?", ";", "'"}
_NUMBER = re.compile(
    r"-?\b\d{1,3}(?:,\d{3})+\b"  # 1,234
    r"|-?(?<!\d)\d+(?:\.\d+)?[eE][+-]?\d+"  # 1.5e3
    r"|-?(?:(?<!\d)\d+\.\d+|\.\d+|(?<!\d)\d+\b)(?![eE][+-]?\d+)(?![,\d])"  # 12, 3.5
)
r"""`(?<!\d)`: no match starts inside a run of digits (none can where one failed at the run's first digit),
so a long run is scanned once, not once per digit (quadratic)."""

Normalized = float | str


def declared_answer(reply: str) -> str:
    """The text after the first 'Final Answer:' / 'the answer is' / 'answer:' marker (else the reply)."""
    low = reply.lower()
    for marker in _DECLARED:
        if marker in low:
            return reply[low.index(marker) + len(marker):].strip()
    return reply.strip()


def normalize(text: str) -> list[Normalized]:
    """A number -> [float rounded to 2]; a string -> [lower-case]; one character gets padded variants."""
    text = text.strip()
    try:
        return [round(float(text.replace(",", "")), 2)]
    except ValueError:
        pass
    text = text.lower()
    return [f" {text}", f"{text} "] if len(text) == 1 else [text]


def _key_phrases(reply: str) -> list[str]:
    reply = reply.strip().strip(".").lower()
    parts = re.split(r"\.\s(?=[A-Z])|\n", reply)
    phrases = []
    for i, part in enumerate(parts):
        words = _KEY_WORDS + (("=",) if i == len(parts) - 1 else ())
        tails = [part.split(w)[-1].strip() for w in words if w in part]
        if tails and (shortest := min(tails, key=len)) not in _TRIVIAL:
            phrases.append(shortest)
    return phrases or [reply]


def candidates(reply: str) -> list[Normalized]:
    """Every normalized candidate answer in a reply (empty: unparsed)."""
    text = declared_answer(reply)
    if not text.strip():
        return []
    phrases = _key_phrases(text)
    pieces = [text] + phrases + [n for p in phrases for n in _NUMBER.findall(p)]
    out: dict[Normalized, None] = {}  # ordered and deduplicated in linear time
    for piece in pieces:
        out.update(dict.fromkeys(normalize(piece)))
    return list(out)


def is_correct(gold: str | list[str], found: list[Normalized]) -> bool:
    """True when a candidate equals a numeric gold, or contains a string gold."""
    golds = [g for answer in ([gold] if isinstance(gold, str) else gold) for g in normalize(str(answer))]
    for cand in found:
        if isinstance(cand, str):
            if any(isinstance(g, str) and g in cand for g in golds):
                return True
        elif cand in golds:
            return True
    return False
