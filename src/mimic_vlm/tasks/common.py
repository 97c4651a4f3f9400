"""Common: which object category appears in every image? Every image is a holder (spread = n_images)."""

from __future__ import annotations

from collections.abc import Sequence

from mimic_vlm.tasks.base import Answer, Draw, Objects, Task, choice_answer


def common_layout(n: int, answers: int) -> dict[str, int]:
    """The image controls of a common sample: its answers are in every image, so spread = n, no distractors."""
    return {"n_images": n, "spread": n, "distractors": 0, "concepts": answers, "answers": answers}


class Common(Task):
    name = "common"
    avoids_blank = True
    configs = ("common",)
    relaxable = ("n_images", "answers")
    min_images = 2
    layout_hint = ("spread={s} distractors={d}: common holds its answer in every image, so spread = n_images and "
                   "distractors = 0 (n_images={n})")
    train_questions = ("Which object {category} appear{s} in every image?",
                       "What object {category} {is_are} present in all of these images?",
                       "Look at all the images. Which {category} of object can be found in each one?",
                       "Name the object {category} shared by every picture.")
    train_answers = ("{items}", "{Items} appear{s} in every image.",
                     "The object {category} in every image {is_are} {items_and}.")

    def layout_ok(self, n: int, s: int, answers: Sequence[int]) -> bool:
        return s == n and n >= 2

    def draw_options(self, s: int, concepts: Sequence[int], answers: Sequence[int]) -> list[Draw]:
        return [{"concepts": a, "answers": a} for a in answers]

    def lower(self, drawn: Draw, control: str) -> Draw | None:
        n, a = drawn["n_images"], drawn.get("answers", 1)
        if control == "n_images" and n > 2:
            return {**drawn, "n_images": n - 1, "spread": n - 1}
        if control == "answers" and a > 1:
            return {**drawn, "concepts": a - 1, "answers": a - 1}
        return super().lower(drawn, control)

    def derive(self, targets: list[str], objects: Objects, uncertain: list[list[str]],
               members: dict[str, list[str]]) -> tuple[Answer, dict[str, int], list[str]]:
        maybe = [set(o) | set(u) for o, u in zip(objects, uncertain, strict=True)]
        answer = sorted(set.intersection(*(set(o) for o in objects)))
        also = sorted(set.intersection(*maybe) - set(answer))
        problems = [f"{', '.join(also)} may also be in every image (uncertain cells)"] if also else []
        return choice_answer(answer), common_layout(len(objects), len(answer)), problems

    def question(self, targets: list[str], answers: int = 1) -> str:
        if answers == 1:
            return "Which object category appears in every image?"
        return f"Which {answers} object categories appear in every image?"


COMMON = Common()
