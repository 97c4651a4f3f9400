"""Reference baselines that need no weights: they calibrate every split of a bench.

Each answers with TEXT that goes through the normal parser (so they exercise it too), from the sample's
ground truth and per-image objects (`Sample.image_objects`):

- `oracle`: the ground truth; must score 100% on every task.
- `single-image`: perfect perception of the FIRST image only, answering as if it were the only image (the
  paper's "single-image solver"): counting = the targets' instances in it; listing = the members of the
  target supercategories in it; common and odd_one = its most frequent category (ties: alphabetical), since
  in a one-image world every category is both common and unique.
- `chance`: uniform over the task's answer space, seeded by the sample id (deterministic, order-free):
  counting 0..the bench's largest count; listing a uniform non-empty subset of the target supercategories'
  members; common / odd_one the right number of distinct categories from the options or the vocabulary.
- `prior`: the bench's most frequent answer per task (ties: the smallest answer text).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mimic_vlm.errors import MimicError
from mimic_vlm.models.base import BenchView, Generation, Request
from mimic_vlm.schema import Answer
from mimic_vlm.tasks import rules

AnswerFn = Callable[[dict[str, Any]], Answer]


def answer_text(answer: Answer) -> str:
    """An answer as plain text: the number, the name, or the names joined by ', ' (the dataset's `gt`).

    Nothing to name is said as "none", which the parser reads as the empty list (not as an unparsed answer).
    """
    if isinstance(answer, list):
        return ", ".join(answer) or "none"
    return str(answer) or "none"


@dataclass
class Baseline:
    """A `Model` whose answer is a pure function of the sample."""

    name: str
    answer: AnswerFn
    settings: dict[str, Any]
    max_batch_size: int = 1024

    def generate(self, requests: list[Request]) -> list[Generation]:
        return [Generation(text=answer_text(self.answer(r.sample)), prompt_tokens=0,
                           output_tokens=0) for r in requests]

    def describe(self) -> dict[str, Any]:
        return {"kind": "baseline", "model": self.name, **self.settings}


def oracle_answer(sample: dict[str, Any]) -> Answer:
    return sample["answer"]


def single_image_answer(sample: dict[str, Any], vocabulary: Mapping[str, Mapping[str, Any]]) -> Answer:
    """What a perfect single-image solver says when it sees only the first image (its task's rule)."""
    if not sample.get("image_objects"):
        raise MimicError(f"sample {sample['id']!r}: no image_objects (an imported bench?); "
                         "the single-image baseline needs per-image objects")
    return rules(sample["task"]).single_image_answer(sample, sample["image_objects"][0], vocabulary)


def chance_answer(sample: dict[str, Any], space: dict[str, Any], seed: int) -> Answer:
    return rules(sample["task"]).chance_answer(sample, space, random.Random(f"{seed}:{sample['id']}"))


def answer_space(bench: BenchView) -> dict[str, Any]:
    """What chance draws from: the largest count, supercategory members, all category names."""
    vocab = bench.vocabulary
    members: dict[str, set[str]] = {}
    for name, info in vocab.items():
        members.setdefault(info.get("supercategory", ""), set()).add(name)
    categories = set(vocab)
    for s in bench.samples:  # benches imported without a vocabulary still get a space from their answers
        kind = rules(s.task).answer_kind
        if kind != "count":
            names = [str(a) for a in s.answer] if isinstance(s.answer, list) else [str(s.answer)]
            categories.update(names)
            if kind == "names" and not vocab:
                for t in s.targets:
                    members.setdefault(t, set()).update(names)
    counts = [int(s.answer) for s in bench.samples
              if rules(s.task).answer_kind == "count" and isinstance(s.answer, int | str)]
    return {"max_count": max(counts, default=0), "members": members, "categories": sorted(categories)}


def prior_answers(bench: BenchView) -> dict[str, str]:
    """The most frequent answer text per task."""
    per_task: dict[str, Counter[str]] = {}
    for s in bench.samples:
        per_task.setdefault(s.task, Counter())[answer_text(s.answer)] += 1
    return {task: min(c, key=lambda a: (-c[a], a)) for task, c in per_task.items()}


def load_baseline(kind: str, bench: BenchView | None, seed: int = 0) -> Baseline:
    """`chance`, `prior`, `single-image` or `oracle` for `bench` (chance and prior need it)."""
    if kind == "oracle":
        return Baseline("oracle", oracle_answer, {})
    if bench is None:
        raise MimicError(f"{kind}: this baseline needs the bench")
    if kind == "single-image":
        vocab = bench.vocabulary
        return Baseline("single-image", lambda s: single_image_answer(s, vocab), {"image": "first"})
    if kind == "chance":
        space = answer_space(bench)
        return Baseline("chance", lambda s: chance_answer(s, space, seed), {"seed": seed})
    if kind == "prior":
        prior = prior_answers(bench)
        return Baseline("prior", lambda s: prior[s["task"]], {"answers": prior})
    raise MimicError(f"{kind}: unknown baseline")
