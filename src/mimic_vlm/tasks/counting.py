"""Counting: how many instances of the target categories are there across all the images?

Holders are the images that show a counted category; the answer is the sum of their instances.
"""

from __future__ import annotations

import random
from typing import Any

from mimic_vlm.tasks.base import Answer, Objects, Task, holding_controls, is_int, join_words
from mimic_vlm.words import plural


class Counting(Task):
    name = "counting"
    configs = ("counting_unbalanced", "counting")
    answer_kind = "count"
    packable = True
    targets_are_answer = False
    train_questions = ("How many {things} are there in total across all the images?",
                       "Count the {things} in all of these images together. How many are there?",
                       "Across the whole set of images, what is the total number of {things}?",
                       "Add up the {things} you see in every image. What is the total?",
                       "How many {things} can you find in these pictures altogether?")
    train_answers = ("{n}", "There {are} {n} {things} in total.", "I count {n} {things} across the images.",
                     "Altogether there {are} {n} {things}.")

    def answer_problem(self, answer: Any) -> str | None:
        if not is_int(answer) or answer < 0:
            return f"a counting 'answer' must be a whole number >= 0, not {answer!r}"
        return None

    def released_answer(self, text: str) -> Answer:
        return int(text)

    def derive(self, targets: list[str], objects: Objects, uncertain: list[list[str]],
               members: dict[str, list[str]]) -> tuple[Answer, dict[str, int], list[str]]:
        problems = [f"image {j} has an uncertain count of {', '.join(bad)}"
                    for j, u in enumerate(uncertain) if (bad := [c for c in targets if c in u])]
        answer = sum(o.get(c, 0) for o in objects for c in targets)
        return answer, holding_controls(objects, targets, len(targets)), problems

    def question(self, targets: list[str], answers: int = 1) -> str:
        return f"How many {join_words([plural(t) for t in targets])} are there in total across all the images?"

    def single_image_answer(self, sample: dict[str, Any], objects: dict[str, int], vocabulary: Any) -> Answer:
        return sum(objects.get(t, 0) for t in sample.get("targets", []))

    def chance_answer(self, sample: dict[str, Any], space: dict[str, Any], rng: random.Random) -> Answer:
        return rng.randint(0, space["max_count"])


COUNTING = Counting()
