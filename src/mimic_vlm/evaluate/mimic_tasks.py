"""MIMIC's four tasks: the official prompt protocol, and scoring by default or exactly as the official code.

Prompts are the official lmms-eval text (paper.md §4), images first (the model wrapper places them). The
listing suffix is appended after a period even when the question ends in "?", as the official code does:
scores stay comparable with published numbers.
"""

from __future__ import annotations

from typing import Any

from mimic_vlm.evaluate.metrics import MICRO, count_fields, set_fields
from mimic_vlm.evaluate.parse import (
    Lexicon,
    answer_part,
    lexicon,
    normalize,
    official_list_items,
    official_parse_count,
    official_prediction,
    parse_count,
    parse_list,
    parse_names,
)
from mimic_vlm.evaluate.tasks import TaskSpec, Vocabulary, register_task
from mimic_vlm.schema import Sample

LISTING_SUFFIX = ". Please provide the list of category names directly."


def prompt(sample: Sample) -> str:
    return f"Question: {sample.question}\nAnswer:"


def listing_prompt(sample: Sample) -> str:
    return f"Question: {sample.question}{LISTING_SUFFIX}\nAnswer:"


def _answer_names(sample: Sample) -> tuple[str, ...]:
    answer = sample.answer if isinstance(sample.answer, list) else [sample.answer]
    return tuple(str(a) for a in [*answer, *(sample.options or [])])


def _gold_list(sample: Sample) -> list[str]:
    """The listing answer; a bench that stores it only as the official string gets it split back."""
    if isinstance(sample.answer, list):
        return [str(a) for a in sample.answer]
    return [a.strip() for a in sample.gt.split(",") if a.strip()]


def _canonical(lex: Lexicon, name: str) -> str:
    """A gold name as the lexicon spells it, so "Traffic Light" in an imported bench meets "traffic light"."""
    return lex.forms.get(normalize(name), normalize(name))


# ---- scoring: the official branch reproduces lmms-eval (score.OFFICIAL_NOTES), the rest is ours ---------

def score_counting(sample: Sample, output: str, vocabulary: Vocabulary, official: bool) -> dict[str, Any]:
    if official:
        text = official_parse_count(official_prediction(output))
        pred = int(text) if text.isdigit() else None
        fields = count_fields(pred, int(sample.answer))  # type: ignore[arg-type]
        return {"parsed": pred, "unparsed": text == "wrong answer", **fields,
                "correct": text.lower().strip() == str(sample.gt)}
    targets = lexicon({t: vocabulary.get(t, {}) for t in sample.targets})
    pred = parse_count(answer_part(output), targets)
    fields = count_fields(pred, int(sample.answer))  # type: ignore[arg-type]
    return {"parsed": pred, "unparsed": pred is None, **fields}


def score_listing(sample: Sample, output: str, vocabulary: Vocabulary, official: bool) -> dict[str, Any]:
    if official:
        pred_items = official_list_items(official_prediction(output))
        return {"parsed": pred_items, "unparsed": not output.strip(),
                **set_fields(pred_items, official_list_items(sample.gt), dedupe=False)}
    lex = lexicon(vocabulary, tuple(_gold_list(sample)))
    pred = parse_list(answer_part(output), lex)
    gold = sorted({_canonical(lex, a) for a in _gold_list(sample)})
    return {"parsed": pred, "unparsed": pred is None, **set_fields(pred, gold)}


def score_choice(sample: Sample, output: str, vocabulary: Vocabulary, official: bool) -> dict[str, Any]:
    """common / odd_one: one named category (or the asked set); several where one is asked is wrong."""
    if official:
        correct = sample.gt.lower().strip() in official_prediction(output).lower().strip()
        return {"parsed": output.strip() or None, "unparsed": not output.strip(), "correct": correct}
    lex = lexicon(vocabulary, _answer_names(sample) + tuple(sample.targets))
    names = parse_names(answer_part(output), lex)
    if not names:
        return {"parsed": None, "unparsed": True, "correct": False}
    if isinstance(sample.answer, list):
        gold = {_canonical(lex, a) for a in sample.answer}
        return {"parsed": sorted(names), "unparsed": False, "correct": set(names) == gold}
    if len(names) > 1:
        return {"parsed": sorted(names), "unparsed": False, "correct": False}
    return {"parsed": names[0], "unparsed": False, "correct": names[0] == _canonical(lex, str(sample.answer))}


COUNT_METRICS = ("correct", "abs_error", "off_by_one")
LIST_METRICS = ("precision", "recall", "f1", "exact")

register_task(TaskSpec("counting", prompt, 16, score_counting, COUNT_METRICS, "correct"))
register_task(TaskSpec("listing", listing_prompt, 32, score_listing, LIST_METRICS, "micro_f1",
                       extra={"aggregates": MICRO}))
register_task(TaskSpec("common", prompt, 16, score_choice, ("correct",), "correct"))
register_task(TaskSpec("odd_one", prompt, 16, score_choice, ("correct",), "correct"))
