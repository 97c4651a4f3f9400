"""Question and answer phrasing.

The evaluation phrasing (`question`, `gt`) is fixed: every bench asks the same question for the same
targets, so scores stay comparable. Training conversations (`training_question`, `training_answer`) draw
from several paraphrases so a fine-tuned model learns the task, not one sentence. Each task's wording is
its own (`tasks/`); these look it up by name.
"""

from __future__ import annotations

import numpy as np

from mimic_vlm.schema import Answer
from mimic_vlm.tasks import MIMIC


def question(task: str, targets: list[str], answers: int = 1) -> str:
    """The fixed evaluation question."""
    if task not in MIMIC:
        raise ValueError(task)
    return MIMIC[task].question(targets, answers)


def gt_string(answer: Answer) -> str:
    """The answer as the released MIMIC dataset writes it: str(n) or names joined by ', '."""
    return ", ".join(answer) if isinstance(answer, list) else str(answer)


def training_question(task: str, targets: list[str], answers: int, rng: np.random.Generator) -> str:
    """A paraphrased question for fine-tuning conversations (drawn with `rng`)."""
    return MIMIC[task].training_question(targets, answers, rng)


def training_answer(task: str, targets: list[str], answer: Answer, rng: np.random.Generator) -> str:
    """A natural answer sentence (or the bare answer) for fine-tuning conversations."""
    return MIMIC[task].training_answer(targets, answer, rng)
