"""Listing: which categories of the target supercategory(ies) appear across the images?

Holders are the images that show a member of a target supercategory; the answer is the sorted list of the
members present in at least one image.
"""

from __future__ import annotations

import random
from typing import Any

from mimic_vlm.tasks.base import Answer, Objects, Task, holding_controls, join_words, json_kind, str_list


class Listing(Task):
    name = "listing"
    configs = ("listing",)
    answer_kind = "names"
    packable = True
    targets_are_answer = False
    train_questions = ("Which {kinds} categories appear across these images?",
                       "List every {kinds} category that shows up in any of these images.",
                       "What {kinds} categories can be seen across all of the pictures?",
                       "Name all the different {kinds} categories present in this set of images.")
    train_answers = ("{items}", "The {kinds} categories in these images: {items}.",
                     "I can see these {kinds} categories: {items}.")

    def answer_problem(self, answer: Any) -> str | None:
        if not str_list(answer):
            return f"a listing 'answer' must be a list of category names, not {json_kind(answer)}"
        return None

    def released_answer(self, text: str) -> Answer:
        return sorted(x.strip().lower() for x in text.split(",") if x.strip())

    def derive(self, targets: list[str], objects: Objects, uncertain: list[list[str]],
               members: dict[str, list[str]]) -> tuple[Answer, dict[str, int], list[str]]:
        cats = sorted(c for g in targets for c in members.get(g, []))
        problems = [] if cats else [f"unknown supercategory in {targets}"]
        problems += [f"image {j} has an uncertain presence of {', '.join(bad)}"
                     for j, (o, u) in enumerate(zip(objects, uncertain, strict=True))
                     if (bad := [c for c in cats if c in u and c not in o])]
        answer = sorted({c for o in objects for c in cats if c in o})
        return answer, holding_controls(objects, cats, len(targets)), problems

    def question(self, targets: list[str], answers: int = 1) -> str:
        return f"Which {join_words(targets)} categories appear across these images?"  # "kinds of outdoor": no

    def single_image_answer(self, sample: dict[str, Any], objects: dict[str, int], vocabulary: Any) -> Answer:
        targets = sample.get("targets", [])
        return sorted(c for c in objects if vocabulary.get(c, {}).get("supercategory") in targets)

    def chance_answer(self, sample: dict[str, Any], space: dict[str, Any], rng: random.Random) -> Answer:
        """A uniform non-empty subset of the target supercategories' members."""
        members = sorted({c for t in sample.get("targets", []) for c in space["members"].get(t, ())})
        while members:
            picked = [c for c in members if rng.random() < 0.5]
            if picked:
                return picked
        return []


LISTING = Listing()
