"""What a MIMIC task is: every rule of one task in one object, so adding a task is one module.

A task says which image layouts it takes (spread, distractors per n_images) and how a control draw is
completed and lowered, what its answer is (type, re-derivation from per-image object tables, the released
dataset's spelling), how it is asked (evaluation and training phrasing), what the single-image and chance
baselines answer, the released dataset's config names, and how it is scored (`answer_kind`: the scorer,
prompt and metrics in `evaluate/mimic_tasks.py`). This package sits at the bottom: pure rules, no I/O.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from mimic_vlm.words import plural

Answer = int | str | list[str]
Objects = list[dict[str, int]]
Draw = dict[str, Any]


def join_words(words: list[str], conj: str = "and") -> str:
    """['a'] -> 'a'; ['a', 'b'] -> 'a and b'; ['a', 'b', 'c'] -> 'a, b and c'."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} {conj} {words[-1]}"


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def str_list(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def n_answers(sample: dict[str, Any]) -> int:
    return len(sample["answer"]) if isinstance(sample["answer"], list) else 1


class Task:
    """The rules of one task. Subclasses set the attributes and override what differs."""

    name: str = ""
    configs: tuple[str, ...] = ()
    """Configs of the released dataset holding this task (`counting_unbalanced`, `oddone`, ...)."""
    answer_kind: str = "name"
    """`count` (an int), `names` (a sorted list) or `name` (one name, or a sorted list where several are asked):
    picks the scorer, prompt and metrics."""
    packable: bool = False
    """`--pack`: the answer is the same when the target-holding images are pasted into one."""
    relaxable: tuple[str, ...] = ("spread", "distractors", "concepts")
    """The controls a refusal suggests lowering, in the order it tries them."""
    min_images: int = 1
    avoids_blank: bool = False
    """Every image must hold an object unless `--blank-images` (a blank image makes the answer vacuous); the
    tasks that keep blank images use them as distractors."""
    layout_hint: str = ""
    """Why a spread/distractors request fits no layout, when the task ties them (with {s} {d} {n} {a})."""
    train_questions: tuple[str, ...] = ()
    train_answers: tuple[str, ...] = ()

    # ---- controls ---------------------------------------------------------------------------------------

    def layout_ok(self, n: int, s: int, answers: Sequence[int]) -> bool:
        """Whether `n` images with `s` target holders (n - s distractors) are a layout of this task."""
        return s >= 1

    def layout_problem(self, n_images: Sequence[int], answers: Sequence[int]) -> str | None:
        """Controls no layout can ever satisfy, whatever the spread (None when some may)."""
        if n_images[-1] < self.min_images:
            return f"n_images={fmt_choice(n_images)}: {self.name} needs at least {self.min_images} images"
        return None

    def draw_options(self, s: int, concepts: Sequence[int], answers: Sequence[int]) -> list[Draw]:
        """The concepts (and answers) a draw with spread `s` may take, one drawn uniformly."""
        return [{"concepts": k} for k in concepts]

    def lower(self, drawn: Draw, control: str) -> Draw | None:
        """The draw with `control` lowered by one (and the controls tied to it), or None where it cannot."""
        n, s, d = drawn["n_images"], drawn["spread"], drawn["distractors"]
        if control == "spread" and s > 1:
            return {**drawn, "n_images": n - 1, "spread": s - 1}
        if control == "distractors" and d > 0:
            return {**drawn, "n_images": n - 1, "distractors": d - 1}
        if control == "concepts" and drawn["concepts"] > 1:
            return {**drawn, "concepts": drawn["concepts"] - 1}
        return None

    # ---- the answer -------------------------------------------------------------------------------------

    def answer_problem(self, answer: Any) -> str | None:
        """What is wrong with the type of a sample's answer (None when nothing)."""
        if not (isinstance(answer, str) or str_list(answer)):
            return f"a {self.name} 'answer' must be a category name (or a list of them), not {json_kind(answer)}"
        return None

    def released_answer(self, text: str) -> Answer:
        """The typed answer of a released `gt` string."""
        return text.lower()

    def derive(self, targets: list[str], objects: Objects, uncertain: list[list[str]],
               members: dict[str, list[str]]) -> tuple[Answer, dict[str, int], list[str]]:
        """(answer, controls, problems) recomputed from per-image object tables (DESIGN.md's ground truth,
        written independently of the composers); problems name uncertain cells used where they matter."""
        raise NotImplementedError

    targets_are_answer: bool = True
    """The sample's targets are its answer categories (common, odd_one), checked by validate."""

    # ---- phrasing ---------------------------------------------------------------------------------------

    def question(self, targets: list[str], answers: int = 1) -> str:
        """The fixed evaluation question."""
        raise NotImplementedError

    def training_question(self, targets: list[str], answers: int, rng: Any) -> str:
        """A paraphrased question for fine-tuning conversations (drawn with the numpy generator `rng`)."""
        text = self.train_questions[int(rng.integers(len(self.train_questions)))]
        many = answers > 1
        return text.format(things=join_words([plural(t) for t in targets]), kinds=join_words(targets),
                           category=f"{answers} categories" if many else "category", s="" if many else "s",
                           is_are="are" if many else "is")

    def training_answer(self, targets: list[str], answer: Answer, rng: Any) -> str:
        """A natural answer sentence (or the bare answer) for fine-tuning conversations."""
        text = self.train_answers[int(rng.integers(len(self.train_answers)))]
        items = answer if isinstance(answer, list) else [str(answer)]
        joined = ", ".join(items)
        one = answer == 1
        things = join_words(targets, "or") if one else join_words([plural(t) for t in targets])
        return text.format(n=answer, things=things, are="is" if one else "are", kinds=join_words(targets),
                           items=joined, Items=joined[:1].upper() + joined[1:], items_and=join_words(items),
                           s="" if len(items) > 1 else "s", category="categories" if len(items) > 1 else "category",
                           is_are="are" if len(items) > 1 else "is")

    # ---- baselines --------------------------------------------------------------------------------------

    def single_image_answer(self, sample: dict[str, Any], objects: dict[str, int],
                            vocabulary: Any) -> Answer:
        """A perfect single-image solver's answer from the first image's objects: its most frequent category
        (ties: alphabetical), since in a one-image world every category is both common and unique."""
        ranked = sorted(objects, key=lambda c: (-objects[c], c))
        return sorted(ranked[:n_answers(sample)]) if isinstance(sample["answer"], list) else (ranked[:1] or [""])[0]

    def chance_answer(self, sample: dict[str, Any], space: dict[str, Any], rng: random.Random) -> Answer:
        """Uniform over the answer space: the right number of distinct categories from the options or the
        vocabulary."""
        names = sorted(sample.get("options") or space["categories"])
        picked = sorted(rng.sample(names, min(n_answers(sample), len(names))))
        return picked if isinstance(sample["answer"], list) else (picked or [""])[0]


def json_kind(v: Any) -> str:
    """The JSON name of a value's type, for messages."""
    if v is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list",
            dict: "an object"}.get(type(v), type(v).__name__)


def fmt_choice(v: Sequence[int] | None) -> str:
    """A control's values as the user writes them: `2-6`, `2,4,8`, or `any` (derived)."""
    if v is None:
        return "any"
    if len(v) > 2 and tuple(v) == tuple(range(v[0], v[-1] + 1)):
        return f"{v[0]}-{v[-1]}"
    return ",".join(map(str, v))


def holding_controls(objects: Objects, cats: list[str], concepts: int) -> dict[str, int]:
    """The image controls of a sample whose holders are the images showing one of `cats`."""
    n, spread = len(objects), sum(any(c in o for c in cats) for o in objects)
    return {"n_images": n, "spread": spread, "distractors": n - spread, "concepts": concepts}


def choice_answer(names: list[str]) -> Answer:
    """One name, or the sorted list where several are asked."""
    return names[0] if len(names) == 1 else names
