"""Odd one out: which object category appears in only one of the images?

The rule, written only here: each answer category has its own image, so spread = answers and
distractors = n_images - answers; one more image than answers, at least 2.
"""

from __future__ import annotations

from collections.abc import Sequence

from mimic_vlm.tasks.base import Answer, Draw, Objects, Task, choice_answer, fmt_choice


def odd_one_layout(n: int, answers: int) -> dict[str, int]:
    """The image controls of an odd_one sample with `answers` odd categories among `n` images."""
    return {"n_images": n, "spread": answers, "distractors": n - answers, "concepts": answers, "answers": answers}


class OddOne(Task):
    name = "odd_one"
    configs = ("oddone",)
    relaxable = ("n_images", "answers")
    min_images = 2
    avoids_blank = True
    layout_hint = ("spread={s} distractors={d}: odd_one puts each of answers={a} categories in its own image, so "
                   "spread = answers and distractors = n_images - answers (n_images={n})")
    train_questions = ("Which object {category} appear{s} in only one of the images?",
                       "Which object {category} can be found in exactly one of these pictures?",
                       "One image holds something none of the others do. Which object {category} {is_are} it?",
                       "Find the object {category} that occur{s} in a single image only.")
    train_answers = ("{items}", "{Items} appear{s} in only one image.",
                     "The object {category} found in a single image {is_are} {items_and}.")

    def layout_ok(self, n: int, s: int, answers: Sequence[int]) -> bool:
        return n >= 2 and s in answers and s + 1 <= n

    def layout_problem(self, n_images: Sequence[int], answers: Sequence[int]) -> str | None:
        problem = super().layout_problem(n_images, answers)
        if problem is None and answers[0] + 1 > n_images[-1]:
            return (f"answers={fmt_choice(answers)}: odd_one puts each answer in its own image and needs one more "
                    f"image, so n_images must reach {answers[0] + 1} (got {fmt_choice(n_images)})")
        return problem

    def draw_options(self, s: int, concepts: Sequence[int], answers: Sequence[int]) -> list[Draw]:
        return [{"concepts": s, "answers": s}]

    def lower(self, drawn: Draw, control: str) -> Draw | None:
        n, a = drawn["n_images"], drawn.get("answers", 1)
        if control == "n_images" and drawn["distractors"] > 1:
            return {**drawn, **odd_one_layout(n - 1, a)}
        if control == "answers" and a > 1:
            return {**drawn, **odd_one_layout(n, a - 1)}
        return super().lower(drawn, control)

    def derive(self, targets: list[str], objects: Objects, uncertain: list[list[str]],
               members: dict[str, list[str]]) -> tuple[Answer, dict[str, int], list[str]]:
        maybe = [set(o) | set(u) for o, u in zip(objects, uncertain, strict=True)]
        certain = {c: sum(c in o for o in objects) for o in objects for c in o}
        possible = {c: sum(c in m for m in maybe) for m in maybe for c in m}
        answer = sorted(c for c, k in certain.items() if k == 1 and possible[c] == 1)
        also = sorted(c for c, k in possible.items() if c not in answer and certain.get(c, 0) < 2)
        problems = [f"{', '.join(also)} may also be in only one image (uncertain cells)"] if also else []
        n, a = len(objects), len(answer)
        spread = sum(any(c in o for c in answer) for o in objects)
        controls = {"n_images": n, "spread": spread, "distractors": n - spread, "concepts": a, "answers": a}
        return choice_answer(answer), controls, problems

    def question(self, targets: list[str], answers: int = 1) -> str:
        if answers == 1:
            return "Which object category appears in only one of the images?"
        return f"Which {answers} object categories each appear in only one of the images?"


ODD_ONE = OddOne()
