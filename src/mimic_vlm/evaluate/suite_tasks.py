"""The task kinds of the existing benchmarks: `mcq` (a letter among the options) and `open` (free text).

Prompts follow the benchmarks' standard protocol: the question, options as `(A) …` lines, then the post-
prompt asking for the letter (or the benchmark's own instruction, kept per sample in
`extra["instruction"]`, e.g. MIRB's "Answer with a single number."). `<image>` placeholders in a
question or option are numbered `[image k]` in order: the images come first, as in the benchmarks'
lmms-eval tasks, and a literal `<image>` would be a special token to LLaVA-style processors (and an
interleaving point to the runner). Decoding is greedy (the runner's default), never the sampling
Mantis-Eval uses in lmms-eval.

`official=True` scores multiple choice with the lmms-eval parsers instead (a leading `X.` letter, else
the raw reply; BLINK: the first capital letter), to reproduce published numbers and show what they
miss. Open answers score the same either way.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from mimic_vlm.evaluate import mcq, openqa
from mimic_vlm.evaluate.taskspec import TaskSpec, Vocabulary
from mimic_vlm.schema import Sample

MCQ_POST_PROMPT = "Answer with the option's letter from the given choices directly."
_PLACEHOLDER = re.compile(r"<image>")


def _number_placeholders(text: str) -> str:
    return number_placeholders([text])[0]


def number_placeholders(texts: list[str]) -> list[str]:
    """`<image>` -> `[image k]`, counted across the texts in order (a question, then its options)."""
    counter = itertools.count(1)
    return [_PLACEHOLDER.sub(lambda _: f"[image {next(counter)}]", t) for t in texts]


def mcq_prompt(sample: Sample) -> str:
    parts = [sample.question.strip()]
    if sample.options:
        parts.append(mcq.option_block(sample.options))
    parts.append(sample.extra.get("instruction", MCQ_POST_PROMPT))
    return _number_placeholders("\n".join(parts))


def open_prompt(sample: Sample) -> str:
    parts = [sample.question.strip()]
    if instruction := sample.extra.get("instruction"):
        parts.append(instruction)
    return _number_placeholders("\n".join(parts))


def _official_choice(sample: Sample, reply: str) -> str:
    """lmms-eval's parsers as released (anchors §A.3), kept only to reproduce published numbers."""
    if sample.source == "blink":
        m = re.match(r"[\(\s]*([A-Z])[\)\.\s]*", reply.strip(), flags=re.IGNORECASE)
        return m.group(1).upper() if m else ""
    m = re.match(r"^\s*([A-Z])\.", reply)
    return m.group(1) if m else reply.strip()


def mcq_score(sample: Sample, reply: str, vocabulary: Vocabulary, official: bool) -> dict[str, Any]:
    if official:
        parsed = _official_choice(sample, reply)
        return {"parsed": parsed, "unparsed": parsed not in mcq.LETTERS,
                "correct": float(parsed.lower() == str(sample.answer).lower())}
    letter = mcq.parse_choice(reply, sample.options, sample.extra.get("n_choices"))
    return {"parsed": letter, "unparsed": letter is None, "correct": float(letter == sample.answer)}


def open_score(sample: Sample, reply: str, vocabulary: Vocabulary, official: bool) -> dict[str, Any]:
    found = openqa.candidates(reply)
    gold = sample.answer if isinstance(sample.answer, list) else str(sample.answer)
    return {"parsed": [str(c) for c in found] or None, "unparsed": not found,
            "correct": float(openqa.is_correct(gold, found))}


MCQ = TaskSpec(name="mcq", prompt=mcq_prompt, max_new_tokens=16, score=mcq_score,
                             metrics=("correct",), headline="correct",
                             extra={"decoding": "greedy", "post_prompt": MCQ_POST_PROMPT})
OPEN = TaskSpec(name="open", prompt=open_prompt, max_new_tokens=64, score=open_score,
                              metrics=("correct",), headline="correct", extra={"decoding": "greedy"})
SPECS = (MCQ, OPEN)
