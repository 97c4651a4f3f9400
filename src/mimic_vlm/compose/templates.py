"""Question and answer phrasing.

The evaluation phrasing (`question`, `gt`) is fixed: every bench asks the same question for the same
targets, so scores stay comparable. Training conversations (`training_question`, `training_answer`) draw
from several paraphrases so a fine-tuned model learns the task, not one sentence.
"""

from __future__ import annotations

import numpy as np

from mimic_vlm.schema import Answer
from mimic_vlm.words import plural


def join_words(words: list[str], conj: str = "and") -> str:
    """['a'] -> 'a'; ['a', 'b'] -> 'a and b'; ['a', 'b', 'c'] -> 'a, b and c'."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} {conj} {words[-1]}"


def question(task: str, targets: list[str], answers: int = 1) -> str:
    """The fixed evaluation question."""
    if task == "counting":
        return f"How many {join_words([plural(t) for t in targets])} are there in total across all the images?"
    if task == "listing":
        return f"Which {join_words(targets)} categories appear across these images?"  # "kinds of outdoor": no
    if task == "common":
        if answers == 1:
            return "Which object category appears in every image?"
        return f"Which {answers} object categories appear in every image?"
    if task == "odd_one":
        if answers == 1:
            return "Which object category appears in only one of the images?"
        return f"Which {answers} object categories each appear in only one of the images?"
    raise ValueError(task)


def gt_string(answer: Answer) -> str:
    """The answer as the released MIMIC dataset writes it: str(n) or names joined by ', '."""
    return ", ".join(answer) if isinstance(answer, list) else str(answer)


_TRAIN_QUESTIONS = {
    "counting": ["How many {things} are there in total across all the images?",
                 "Count the {things} in all of these images together. How many are there?",
                 "Across the whole set of images, what is the total number of {things}?",
                 "Add up the {things} you see in every image. What is the total?",
                 "How many {things} can you find in these pictures altogether?"],
    "listing": ["Which {kinds} categories appear across these images?",
                "List every {kinds} category that shows up in any of these images.",
                "What {kinds} categories can be seen across all of the pictures?",
                "Name all the different {kinds} categories present in this set of images."],
    "common": ["Which object {category} appear{s} in every image?",
               "What object {category} {is_are} present in all of these images?",
               "Look at all the images. Which {category} of object can be found in each one?",
               "Name the object {category} shared by every picture."],
    "odd_one": ["Which object {category} appear{s} in only one of the images?",
                "Which object {category} can be found in exactly one of these pictures?",
                "One image holds something none of the others do. Which object {category} {is_are} it?",
                "Find the object {category} that occur{s} in a single image only."],
}

_TRAIN_ANSWERS = {
    "counting": ["{n}", "There {are} {n} {things} in total.", "I count {n} {things} across the images.",
                 "Altogether there {are} {n} {things}."],
    "listing": ["{items}", "The {kinds} categories in these images: {items}.",
                "I can see these {kinds} categories: {items}."],
    "common": ["{items}", "{Items} appear{s} in every image.",
               "The object {category} in every image {is_are} {items_and}."],
    "odd_one": ["{items}", "{Items} appear{s} in only one image.",
                "The object {category} found in a single image {is_are} {items_and}."],
}


def training_question(task: str, targets: list[str], answers: int, rng: np.random.Generator) -> str:
    """A paraphrased question for fine-tuning conversations (drawn with `rng`)."""
    options = _TRAIN_QUESTIONS[task]
    text = options[int(rng.integers(len(options)))]
    many = answers > 1
    return text.format(things=join_words([plural(t) for t in targets]), kinds=join_words(targets),
                       category=f"{answers} categories" if many else "category", s="" if many else "s",
                       is_are="are" if many else "is")


def training_answer(task: str, targets: list[str], answer: Answer, rng: np.random.Generator) -> str:
    """A natural answer sentence (or the bare answer) for fine-tuning conversations."""
    options = _TRAIN_ANSWERS[task]
    text = options[int(rng.integers(len(options)))]
    items = answer if isinstance(answer, list) else [str(answer)]
    joined = ", ".join(items)
    one = answer == 1
    things = join_words(targets, "or") if one else join_words([plural(t) for t in targets])
    return text.format(n=answer, things=things, are="is" if one else "are", kinds=join_words(targets),
                       items=joined, Items=joined[:1].upper() + joined[1:], items_and=join_words(items),
                       s="" if len(items) > 1 else "s", category="categories" if len(items) > 1 else "category",
                       is_are="are" if len(items) > 1 else "is")
