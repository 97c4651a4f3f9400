"""Number words: our reader for counting answers, and a faithful copy of the official one (`word2number` 1.1).

Two readers on purpose. `read_number_words` reads one number phrase the way a person would ("twenty-one",
"one hundred and five"). `official_word_to_num` reproduces `word2number.w2n.word_to_num`, which the official
MIMIC scorer calls on the WHOLE answer: it picks every number word anywhere in the sentence and combines
them ("two dogs and three cats" -> 5). Copied rather than installed so `--official` needs no extra package.
"""

from __future__ import annotations

from typing import Any

UNITS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen".split())}
TENS = {w: 10 * i for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), 2)}
SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000, "billion": 1_000_000_000}
NUMBER_WORDS = frozenset(UNITS) | frozenset(TENS) | frozenset(SCALES)


def read_number_words(words: list[str]) -> list[tuple[int, int, int]]:
    """Group number words into numbers: `[(value, first word index, last word index + 1), ...]`.

    A unit after a unit starts a new number ("one two" is 1 and 2); "and" joins only after a scale word
    ("one hundred and five" is 105, "two and three" is 2 and 3).
    """
    out: list[tuple[int, int, int]] = []
    i = 0
    while i < len(words):
        if words[i] not in UNITS and words[i] not in TENS:
            i += 1
            continue
        start, total, current, last = i, 0, 0, ""
        while i < len(words):
            w = words[i]
            if w in UNITS and last not in ("unit", "teen") and not (last == "tens" and UNITS[w] >= 10):
                current += UNITS[w]
                last = "teen" if UNITS[w] >= 10 else "unit"
            elif w in TENS and last in ("", "scale"):
                current += TENS[w]
                last = "tens"
            elif w in SCALES and last in ("unit", "teen", "tens") and current:
                if SCALES[w] == 100:
                    current *= 100
                else:
                    total, current = total + current * SCALES[w], 0
                last = "scale"
            elif w == "and" and last == "scale" and i + 1 < len(words) and words[i + 1] in UNITS | TENS:
                pass
            else:
                break
            i += 1
        out.append((total + current, start, i))
    return out


# ---- official: word2number 1.1, word_to_num, behaviour kept bug for bug ---------------------------------

_W2N: dict[str, Any] = {**UNITS, **TENS, **SCALES, "point": "."}


def _formation(words: list[str]) -> int:
    nums = [_W2N[w] for w in words]
    if len(nums) == 4:
        return nums[0] * nums[1] + nums[2] + nums[3]
    if len(nums) == 3:
        return nums[0] * nums[1] + nums[2]
    if len(nums) == 2:
        return nums[0] * nums[1] if 100 in nums else nums[0] + nums[1]
    return nums[0]


MAX_DIGITS = 18
"""The longest number read as a count: a model may answer with thousands of digits, which `int()` refuses past
4,300 (CPython's limit) and JSON cannot hold past 19; no count of objects in images comes near."""


def count_of(digits: str) -> int | None:
    """A string of decimal digits as an int, None when it is none or longer than `MAX_DIGITS` (no count)."""
    if not digits.isdecimal() or len(digits.lstrip("0")) > MAX_DIGITS:
        return None
    return int(digits)


def official_word_to_num(sentence: str) -> int | float:
    """`w2n.word_to_num`: raises ValueError where it does; sums stray number words across the sentence."""
    sentence = sentence.replace("-", " ").lower()
    if sentence.isdigit():
        return int(sentence)
    clean = [w for w in sentence.strip().split() if w in _W2N]
    if not clean:
        raise ValueError("No valid number words found!")
    if any(clean.count(w) > 1 for w in ("thousand", "million", "billion", "point")):
        raise ValueError("Redundant number word!")
    decimals: list[str] = []
    if "point" in clean:
        p = clean.index("point")
        clean, decimals = clean[:p], clean[p + 1:]
    idx = {w: clean.index(w) if w in clean else -1 for w in ("billion", "million", "thousand")}
    b, m, t = idx["billion"], idx["million"], idx["thousand"]
    if (t > -1 and (t < m or t < b)) or (m > -1 and m < b):
        raise ValueError("Malformed number!")
    total: int | float = 0
    if len(clean) == 1:
        total += _W2N[clean[0]]
    elif clean:
        if b > -1:
            total += _formation(clean[:b]) * 1_000_000_000
        if m > -1:
            total += _formation(clean[b + 1:m] if b > -1 else clean[:m]) * 1_000_000
        if t > -1:
            start = m + 1 if m > -1 else (b + 1 if b > -1 else 0)
            total += _formation(clean[start:t]) * 1000
        if t > -1 and t != len(clean) - 1:
            total += _formation(clean[t + 1:])
        elif m > -1 and m != len(clean) - 1:
            total += _formation(clean[m + 1:])
        elif b > -1 and b != len(clean) - 1:
            total += _formation(clean[b + 1:])
        elif t == m == b == -1:
            total += _formation(clean)
    if decimals:
        digits = [str(UNITS[w]) for w in decimals if w in UNITS and UNITS[w] < 10]
        total += float("0." + "".join(digits)) if len(digits) == len(decimals) else 0
    return total
