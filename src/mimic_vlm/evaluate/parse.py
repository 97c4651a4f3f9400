"""Reading free-text answers: pure functions, no I/O. The rules, and why:

Every task first cuts a made-up continuation ("3\nQuestion: ... Answer: 2" is 3; `answer_part`); a reply
that opens by repeating the prompt ("Question: ...\nAnswer: 5") answers after its "Answer:".

Counting (`parse_count`): digits, whole decimals ("5.0"; "5.5" is no count) and number words
("twenty-one"; "no dogs", "none", "zero" = 0). Numbers that name an image ("image 2", "images 1 and 3",
"the 3 images") are not answers; a list of images ends at a number that counts something ("image 1 and
3 dogs"). Among the rest, the number that ANSWERS is chosen: the last number that follows a conclusion
word ("so", "therefore", "overall"), follows "total"/"answer"/"=" within a few words ("the total number
of dogs is 5", "answer: 5", "3 + 2 = 5") or precedes "in total"/"altogether" ("5 dogs in total").
Without such a cue: a single value if all numbers agree; else the single value attached to a target name
("3 dogs and 2 cats" asked about dogs -> 3); else the LAST number, because answers end with their
conclusion (the rule lmms-eval adopted for BLINK in PR #1435). A hedge ("2 or 3") is no answer, as
naming two candidates is none for common / odd_one. No number -> None.

Listing (`parse_list`): items split on commas, "and", "or", "&", ";", "/", newlines and bullets, except
inside a category name that holds one ("bow and arrow"); a leading "Answer:"-style preamble is dropped.
Each item is matched against the vocabulary (longest name first, on word boundaries, plural and synonym
forms); a denied name ("there is no bus", "not a cat") is no item; an item that names no category is kept
as an unknown item (it costs precision) if it is short enough to be a name (<= 3 words), else it is
commentary and ignored. "none" / "no vehicles" -> an empty list. Nothing at all -> None.

Common / odd_one (`parse_names`): every distinct category named anywhere in the answer and not denied in
its clause ("a dog, not a cat" names the dog). The caller decides: one name -> that answer; several
where one is asked -> wrong; none -> unparsed.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from mimic_vlm.evaluate.numbers import NUMBER_WORDS, count_of, official_word_to_num, read_number_words
from mimic_vlm.words import plural, plural_forms

Vocabulary = dict[str, dict[str, Any]]

# ---- names: normalisation, plural forms, the lexicon --------------------------------------------------

def normalize(text: str) -> str:
    """Lower case, possessives and punctuation removed, hyphens as spaces, single spaces."""
    text = re.sub(r"['’]s\b", "", text.lower())
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


def surface_forms(name: str) -> set[str]:
    """A name and the ways an answer may write it: plural of the last word; "skis" also as "ski"."""
    name = normalize(name)
    if not name:
        return set()
    *head, last = name.split()
    return {" ".join([*head, w]) for w in _word_forms(last)} | {normalize(plural(name))}


def _word_forms(word: str) -> set[str]:
    """A name's last word as answers write it: itself, its plurals, "skis" also as "ski"."""
    forms = {word, *plural_forms(word)}
    if word.endswith("s") and not word.endswith(("ss", "us")) and len(word) > 3:
        forms.add(word[:-1])
    return forms


@dataclass(frozen=True)
class Lexicon:
    """Surface form -> category, and one regex that finds forms longest-first on word boundaries."""

    forms: dict[str, str]
    pattern: re.Pattern[str] | None
    joined: re.Pattern[str] | None = None
    """Names that hold a list separator ("bow and arrow", "kitchen & dining room table"), in raw text; group
    `j{k}` is the name `glued[k]` (its own normalised form, words joined by "_")."""
    glued: tuple[str, ...] = ()

    def glue(self, text: str) -> str:
        """`text` with each name that holds a separator made one word, so splitting keeps it whole."""
        if self.joined is None:
            return text
        return self.joined.sub(lambda m: self.glued[int(str(m.lastgroup)[1:])], text.lower())

    def find(self, normalized: str) -> list[str]:
        """Categories named in already-normalised text, in order of mention (repeats kept)."""
        if self.pattern is None:
            return []
        return [self.forms[m.group(0)] for m in self.pattern.finditer(normalized)]


def lexicon(vocabulary: Vocabulary, names: tuple[str, ...] = ()) -> Lexicon:
    """The lexicon of a vocabulary (with its synonyms) plus extra category names (a sample's answers).

    Cached: a bench scores thousands of answers against one vocabulary, so names the vocabulary already
    holds are left out of the key (one compiled pattern per bench, not one per distinct answer).
    """
    key = tuple(sorted((c, tuple(v.get("synonyms") or ())) for c, v in vocabulary.items()))
    return _lexicon(key, tuple(sorted({n for n in names if n not in vocabulary})))


@lru_cache(maxsize=64)
def _lexicon(vocab: tuple[tuple[str, tuple[str, ...]], ...], names: tuple[str, ...]) -> Lexicon:
    forms: dict[str, str] = {}
    # Own names first, then synonyms: a synonym never steals another category's own name.
    entries = [(c, c) for c, _ in vocab] + [(n, n) for n in names]
    entries += [(s, c) for c, syns in vocab for s in syns]
    for surface, category in entries:
        for form in sorted(surface_forms(surface)):
            forms.setdefault(form, category)
    if not forms:
        return Lexicon({}, None)
    alternatives = "|".join(re.escape(f) for f in sorted(forms, key=lambda f: (-len(f), f)))
    joined = sorted({(p, "_".join(normalize(surface).split())) for surface, _ in entries
                     if _SEPARATORS.search(surface.lower()) and (p := _raw_pattern(surface))},
                    key=lambda pair: (-len(pair[0]), pair))
    groups = "|".join(f"(?P<j{k}>{p})" for k, (p, _) in enumerate(joined))
    return Lexicon(forms, re.compile(rf"(?<![a-z0-9])(?:{alternatives})(?![a-z0-9])"),
                   re.compile(rf"(?<![a-z0-9])(?:{groups})(?![a-z0-9])") if joined else None,
                   tuple(name for _, name in joined))


def _raw_pattern(surface: str) -> str | None:
    """The regex of a name as written in a reply, its separators kept: "kitchen & dining room table(s)",
    "kitchen&dining-room table", "bows and arrows" (each part's last word in its forms); words stay apart
    ("saltandpepper" is not it)."""
    parts = re.findall(r"[a-z0-9]+|[^a-z0-9\s]", surface.lower())
    if not any(p[0].isalnum() for p in parts):
        return None
    ends = {i for i, p in enumerate(parts) if p[0].isalnum()
            and (i + 1 == len(parts) or _SEPARATORS.fullmatch(parts[i + 1]))}  # the last word of each part
    tokens = [f"(?:{'|'.join(map(re.escape, sorted(_word_forms(p), key=lambda f: (-len(f), f))))})" if i in ends
              else re.escape(p) for i, p in enumerate(parts)]
    gaps = [r"[\s-]+" if x[0].isalnum() and y[0].isalnum() else r"[\s-]*" for x, y in itertools.pairwise(parts)]
    return "".join(t + gap for t, gap in zip(tokens, [*gaps, ""], strict=True))


def parse_names(text: str, lex: Lexicon) -> list[str]:
    """Distinct categories named in an answer, in order of first mention; a name only denied ("a dog, not a
    cat", "no cats") is not named."""
    clauses = _CLAUSE.split(lex.glue(text))
    return list(dict.fromkeys(n for clause in clauses for n in _affirmed(normalize(clause), lex)))


def _affirmed(normalized: str, lex: Lexicon) -> list[str]:
    """Categories named in one clause, except those it denies."""
    if lex.pattern is None:
        return []
    return [lex.forms[m.group(0)] for m in lex.pattern.finditer(normalized) if not _denied(normalized, m.start())]


_CLAUSE = re.compile(r"[,;:!?\n]|\.(?:\s|$)")
"""Where a denial ends: "No, a dog." names the dog."""
_DENIALS = {"not", "no", "without", "except", "excluding", "nor", "neither"}
_ARTICLES = {"a", "an", "the", "any"}


def _denied(normalized: str, start: int) -> bool:
    """Whether the name at `start` follows a denial, articles aside ("not a cat", "no cats")."""
    before = normalized[max(0, start - 40):start].split()
    while before and before[-1] in _ARTICLES:
        before.pop()
    return bool(before) and before[-1] in _DENIALS


_SPEAKER = re.compile(r"(?:question|user|human)\s*:", re.I)
_ANSWER_LABEL = re.compile(r"(?:answer|assistant)\s*:", re.I)


def answer_part(text: str) -> str:
    """The answer without a made-up continuation: base models that follow "Question: ...\nAnswer:" often
    go on with a new "Question: ... Answer: 2" whose numbers and names must not be read as the answer.

    A continuation is "Question:" / "User:" / "Human:" at the start, after a line break, or after a sentence
    end and a space (blanks allowed in between). Found from each speaker word backwards over its own blanks,
    so the cost is linear (the one-regex form rescanned long runs of blanks from every blank: quadratic).
    A reply that opens by repeating the prompt ("Question: ...\nAnswer: 5") answers after its "Answer:".
    """
    echo = _SPEAKER.match(text, len(text) - len(text.lstrip()))
    if echo:
        label = _ANSWER_LABEL.search(text, echo.end())
        if label is None:
            return ""
        text = text[label.end():]
    for match in _SPEAKER.finditer(text):
        k = match.start()
        start = k
        while start and text[start - 1].isspace():
            start -= 1
        if start == 0:
            return ""
        if start < k and text[start - 1] in ".!?":
            return text[:start]
        newline = text.find("\n", start, k)
        if newline >= 0:
            return text[:newline]
    return text


# ---- listing -------------------------------------------------------------------------------------------

_NEGATION = re.compile(r"^(?:none|nothing|no\b.*|there (?:is|are) no\b.*|n a|not applicable)$")
_BULLET = re.compile(r"^[^\S\n]*(?:[-*•·]+|\(?\d+[.)]|\(?[a-z][.)](?=\s))\s*", re.M)
"""A bullet at a line start (blanks before it stay on their line, so no run of blank lines is rescanned)."""
_SEPARATORS = re.compile(r"\n|,|;|/|&|\+|\band\b|\bor\b|\bplus\b|(?<=[a-z])\.(?:\s|$)", re.I)
_FILLER = {"a", "an", "the", "some", "several", "many", "few", "multiple", "various", "also", "etc",
           "other", "more", "one", "ones", "of", "pair", "pairs", "maybe", "possibly", "probably"}
_MAX_UNKNOWN_WORDS = 3


def _strip_preamble(text: str, lex: Lexicon) -> str:
    """Drop "Answer:" / "The vehicles are:" before the first colon when it names no category."""
    head, sep, rest = text.partition(":")
    if sep and "\n" not in head and not lex.find(normalize(head)):
        return rest
    return text


def parse_list(text: str, lex: Lexicon) -> list[str] | None:
    """Sorted distinct items: category names, plus unknown short items as written (normalised)."""
    text = _BULLET.sub("", _strip_preamble(text, lex))
    text = lex.glue(text)  # "salt and pepper shakers" is one item, not three
    known: list[str] = []
    unknown: list[str] = []
    negated = False
    for raw in _SEPARATORS.split(text):
        item = normalize(raw)
        if not item:
            continue
        found = lex.find(item)
        if found:
            affirmed = _affirmed(item, lex)  # "there is no bus", "not cats": a denial, not an item
            known.extend(affirmed)
            negated = negated or not affirmed
            continue
        words = [w for w in item.split() if w not in _FILLER and w not in NUMBER_WORDS and not w.isdigit()]
        if _NEGATION.match(item):
            negated = True
        elif 0 < len(words) <= _MAX_UNKNOWN_WORDS:
            unknown.append(_crude_singular(" ".join(words)))
    items = sorted(set(known) | set(unknown))
    if not items and not negated:
        return None
    return items


def _crude_singular(name: str) -> str:
    """Only to merge "unicorn" with "unicorns" among unknown items."""
    if name.endswith("s") and not name.endswith(("ss", "us")) and len(name) > 3:
        return name[:-1]
    return name


# ---- counting ------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"\d+(?:st|nd|rd|th)\b|\d+\.\d+|\d+|[a-z]+|[=:,.;!?]")
"""Tokens: ordinals ("2nd" names, never counts), decimals ("5.0" is 5, "5.5" no count), integers, words."""
_IMAGE_WORDS = {"image", "images", "picture", "pictures", "photo", "photos", "img", "frame", "frames",
                "photograph", "photographs"}
_LIST_JOIN = {",", "and", "&", "to", "through", "or"}
_CONCLUDE = {"so", "thus", "therefore", "hence", "overall", "altogether", "finally", "totally"}
_PREFIX_CUE = {"total", "answer", "sum", "equals", "makes", "gives", "=", "count", "totals", "totaling",
               "totalling"}
_PREFIX_REACH = 5  # words between a prefix cue and its number: "the total number of dogs is 6"
_SUFFIX_CUE = {"total", "altogether", "overall", "combined", "all"}
_SENTENCE_END = {".", ";", "!", "?"}
_ZERO_WORDS = {"none", "nothing", "nobody"}  # "zero" is a number word already
_OBJECT_WORDS = {"such", "objects", "object", "instances", "instance", "items", "item", "animals", "one",
                 "visible", "matching"}


@dataclass(frozen=True)
class _Number:
    value: int
    start: int
    end: int


def _numbers(tokens: list[str], lex: Lexicon | None) -> list[_Number]:
    """Every number mention: digits, number-word phrases, and zero ("none", "zero", "no dogs").

    "no" is zero only where it denies objects: before a counted category or an object word, or after
    "there is/are" ("I have no idea" is not a count).
    """
    found = [_Number(n, i, i + 1) for i, t in enumerate(tokens) if (n := count_of(t)) is not None]
    found += [_Number(n, i, i + 1) for i, t in enumerate(tokens)
              if _is_whole_decimal(t) and (n := count_of(t.partition(".")[0])) is not None]
    found += [_Number(v, s, e) for v, s, e in read_number_words(tokens)]
    for i, t in enumerate(tokens):
        if t in _ZERO_WORDS or (t == "no" and (
                tokens[i - 1:i] in (["is"], ["are"]) or tokens[i + 1:i + 2] and tokens[i + 1] in _OBJECT_WORDS
                or lex is not None and _names_at(tokens, i + 1, lex))):
            found.append(_Number(0, i, i + 1))
    return sorted(found, key=lambda n: n.start)


def _is_whole_decimal(token: str) -> bool:
    whole, dot, fraction = token.partition(".")
    return bool(dot) and whole.isdigit() and fraction.isdigit() and not fraction.strip("0")


def _image_references(tokens: list[str], numbers: list[_Number], lex: Lexicon | None) -> set[int]:
    """Starts of numbers that name images: "image 2", "images 1, 2 and 3", "3 images". A list of images
    ends at a number that counts something: in "image 1 and 3 dogs in image 2", 3 is a count."""
    starts = {n.start: n for n in numbers}
    refs: set[int] = set()
    for i, t in enumerate(tokens):
        if t in _IMAGE_WORDS:
            j = i + 1 + (tokens[i + 1:i + 2] == ["number"])
            while j in starts and not (j > i + 2 and _counts_something(tokens, starts[j].end, lex)):
                refs.add(j)
                j = starts[j].end
                if j < len(tokens) and tokens[j] in _LIST_JOIN and j + 1 in starts:
                    j += 1
                elif j + 1 < len(tokens) and tokens[j] == "," and tokens[j + 1] == "and" and j + 2 in starts:
                    j += 2
    for n in numbers:
        if n.end < len(tokens) and tokens[n.end] in _IMAGE_WORDS:
            refs.add(n.start)
    return refs


def _counts_something(tokens: list[str], end: int, lex: Lexicon | None) -> bool:
    """Whether the words after a number say what it counts ("3 dogs", "3 such objects")."""
    return end < len(tokens) and tokens[end] in _OBJECT_WORDS or lex is not None and _names_at(tokens, end, lex)


def _cued(tokens: list[str], numbers: list[_Number]) -> list[_Number]:
    """Numbers marked as the conclusion by a nearby cue (see the module docstring)."""
    cued: list[_Number] = []
    used: set[int] = set()  # a cue word that closes one number ("5 in total:") does not open the next
    taken = {i for n in numbers for i in range(n.start, n.end)}
    open_conclusion = -1
    sentence_end, conclusion = _last_before(tokens, _SENTENCE_END), _last_before(tokens, _CONCLUDE)
    for n in numbers:
        # the last conclusion word of the number's sentence, before it (-1: none)
        last = conclusion[n.start] if conclusion[n.start] > sentence_end[n.start] else -1
        is_cued = last >= 0 and last > open_conclusion
        if is_cued:
            open_conclusion = last
        j = n.start - 1
        while (j >= 0 and n.start - j <= _PREFIX_REACH and tokens[j] not in _PREFIX_CUE and j not in taken
               and (tokens[j].isalpha() or tokens[j] == ":")):
            j -= 1
        if j >= 0 and tokens[j] in _PREFIX_CUE and j not in used:
            is_cued = True
        for k in range(n.end, min(n.end + 3, len(tokens))):
            if tokens[k] in _SENTENCE_END or tokens[k] == ",":
                break
            if tokens[k] in _SUFFIX_CUE and (tokens[k] != "all" or tokens[k - 1] == "in"):
                is_cued = True
                used.add(k)
                break
        if is_cued:
            cued.append(n)
    return cued


def _last_before(tokens: list[str], words: set[str]) -> list[int]:
    """For each position i (0..len), the index of the last token before i that is in `words` (-1: none): one
    pass, so finding a number's sentence and conclusion costs O(1) instead of a rescan from the start."""
    out, last = [-1], -1
    for i, t in enumerate(tokens):
        if t in words:
            last = i
        out.append(last)
    return out


def parse_count(text: str, lex: Lexicon | None = None) -> int | None:
    """The count an answer gives, or None when it gives none. `lex` names the counted categories."""
    tokens = _TOKEN.findall(re.sub(r"(?<=\d),(?=\d{3}\b)", "", text.lower()).replace("-", " "))
    numbers = _numbers(tokens, lex)
    refs = _image_references(tokens, numbers, lex)
    numbers = [n for n in numbers if n.start not in refs]
    if not numbers:
        return None
    cued = _cued(tokens, numbers)
    if cued:
        return _unless_hedged(tokens, numbers, cued[-1])
    if len({n.value for n in numbers}) == 1:
        return numbers[0].value
    if lex is not None:
        attached = [n for n in numbers if _names_at(tokens, n.end, lex)]
        if len({n.value for n in attached}) == 1:
            return _unless_hedged(tokens, numbers, attached[-1])
    return _unless_hedged(tokens, numbers, numbers[-1])


def _unless_hedged(tokens: list[str], numbers: list[_Number], chosen: _Number) -> int | None:
    """None for a hedge between counts ("2 or 3 dogs"): like naming two candidates where one is asked."""
    before = {n.end: n for n in numbers}
    hedged = chosen.start >= 2 and tokens[chosen.start - 1] == "or" and chosen.start - 1 in before
    return None if hedged and before[chosen.start - 1].value != chosen.value else chosen.value


def _names_at(tokens: list[str], start: int, lex: Lexicon) -> bool:
    """Whether the words from `start` name a counted category ("3 dogs", "no hot dogs")."""
    following = " ".join(t for t in tokens[start:start + 4] if t.isalpha())
    return lex.pattern is not None and lex.pattern.match(following) is not None


# ---- official lmms-eval MIMIC parsing (reproduced, bugs included; see paper.md §4) ---------------------

OFFICIAL_STRIP_ORDER = (",", ".", "!", "?", ";", ":", "'")
"""`parse_response` strips these one at a time, in this order: "seven.!" keeps its "." (the "." pass ran
before the "!" pass removed what hid it), so it is not a number officially."""


def official_prediction(output: str) -> str:
    """What the official filter hands to the scorer: a space, then the output exactly as generated.

    Nothing is stripped: "Two.\n" keeps its newline (which stops the "." strip), and the last listing item
    of "ball, kite\n" is "kite\n". Some official model wrappers strip their outputs; the scorer does not.
    """
    return " " + output


def official_parse_count(prediction: str) -> str:
    """`parse_response`: strip ,.!?;:' one character at a time (`OFFICIAL_STRIP_ORDER`), int(), else w2n,
    else the first \\d+, else a marker."""
    response = prediction
    for ch in OFFICIAL_STRIP_ORDER:
        response = response.strip(ch)
    try:
        return str(int(response))
    except ValueError:
        pass
    try:
        return str(official_word_to_num(response))
    except (ValueError, IndexError):
        pass
    match = re.search(r"\d+", response)
    return match.group() if match else "wrong answer"


def official_list_items(text: str) -> list[str]:
    """`.lower().split(', ')`: no stripping, so " car" (the first item after the filter) != "car"."""
    return text.lower().split(", ")
