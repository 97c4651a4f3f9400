"""MIMIC's four tasks: the official prompt protocol, and scoring by default or exactly as the official code.

Prompts are the official lmms-eval text (paper.md §4), images first (the model wrapper places them). The
listing suffix is appended after a period even when the question ends in "?", as the official code does:
scores stay comparable with published numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mimic_vlm.evaluate.numbers import count_of
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
from mimic_vlm.evaluate.taskspec import MICRO, TaskSpec, Vocabulary
from mimic_vlm.schema import Sample
from mimic_vlm.tasks import MIMIC, Task

# ---- per-sample metric fields ---------------------------------------------------------------------------


def count_fields(pred: int | None, gt: int) -> dict[str, Any]:
    """Counting: exact match, absolute error (None when unparsed), off by exactly one."""
    if pred is None:
        return {"correct": False, "abs_error": None, "off_by_one": False}
    err = abs(pred - gt)
    return {"correct": err == 0, "abs_error": err, "off_by_one": err == 1}


def set_fields(pred: Sequence[str] | None, gt: Sequence[str], dedupe: bool = True) -> dict[str, Any]:
    """Listing: P/R/F1 of one answer, exact-set match, and the raw counts that micro averages sum.

    `dedupe=False` is the official behaviour: a repeated predicted item counts again in `n_pred`.
    Empty prediction and empty truth agree perfectly (P = R = F1 = 1).
    """
    pred, gold = list(pred or []), list(gt)
    if dedupe:
        pred, gold = list(dict.fromkeys(pred)), list(dict.fromkeys(gold))
    predicted = set(pred)
    tp = sum(1 for g in gold if g in predicted)
    n_pred, n_gt = len(pred), len(gold)
    precision = tp / n_pred if n_pred else float(n_gt == 0)
    recall = tp / n_gt if n_gt else float(n_pred == 0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "exact": predicted == set(gold),
            "tp": tp, "n_pred": n_pred, "n_gt": n_gt}


LISTING_SUFFIX = ". Please provide the list of category names directly."


def prompt(sample: Sample) -> str:
    return f"Question: {sample.question}\nAnswer:"


def listing_prompt(sample: Sample) -> str:
    """The listing prompt without the official one's stray '.' after the question mark ("images?. Please")."""
    question = sample.question.rstrip()
    joint = " " if question.endswith(("?", ".", "!")) else ". "
    return f"Question: {question}{joint}{LISTING_SUFFIX[2:]}\nAnswer:"


def official_listing_prompt(sample: Sample) -> str:
    """The official lmms-eval text, character for character (`--official` only)."""
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
        pred = count_of(text)  # the official text may hold thousands of digits (compared as text below)
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

def spec(task: Task) -> TaskSpec:
    """How a task is prompted and scored, by the kind of its answer (a count, a list of names, a name)."""
    if task.answer_kind == "count":
        return TaskSpec(task.name, prompt, 16, score_counting, COUNT_METRICS, "correct")
    if task.answer_kind == "names":
        return TaskSpec(task.name, listing_prompt, 32, score_listing, LIST_METRICS, "micro_f1",
                        extra={"aggregates": MICRO, "official_prompt": official_listing_prompt})
    return TaskSpec(task.name, prompt, 16, score_choice, ("correct",), "correct")


SPECS = tuple(spec(t) for t in MIMIC.values())
