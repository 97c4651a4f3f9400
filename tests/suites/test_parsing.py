"""Multiple-choice and open-answer parsing on the replies the anchors' parsers get wrong."""

from __future__ import annotations

import pytest

from mimic_vlm.evaluate import mcq, openqa
from mimic_vlm.evaluate.suite_tasks import mcq_score
from mimic_vlm.schema import Sample

OPTIONS = ["a cat", "a dog", "a bird", "hot dog"]


@pytest.mark.parametrize(("reply", "letter"), [
    ("The correct answer is (B)", "B"),  # lmms-eval BLINK read "T"
    ("Based on the images, there is no clear answer.", None),  # ... and read this one as "B"
    ("A", "A"),
    ("(C) a dog", "C"),
    ("I think it's B, no wait, C", "C"),
    ("**B**", "B"),
    ("Answer: D.", "D"),
    ("B because the dog is larger", "B"),
    ("I'm sure it is D", "D"),
    ("A dog appears in both images", "B"),  # "A" is an article; the option text decides
    ("hot dog", "D"),  # the longer option text wins over "dog" inside it
    ("E", None),  # not a valid letter: unparsed, never guessed
    ("", None),
    ("I cannot tell.", None),
    ("A is correct.", "A"),  # the article is never followed by "is"
    ("Option A is the one with a cat", "A"),
    ("The correct option is A because the images match", "A"),  # an answer cue before it
    ("I think the answer is C", "C"),  # "I" the pronoun declares nothing
    ("A or B", None),  # a hedge is no answer, as "2 or 3" for a count
    ("Either C or D", None),
    ("A, B or C", None),
    ("C, not A", "C"),  # a denied letter declares nothing
    ("It's A, not B", "A"),
    ("A or B? The answer is B.", "B"),  # the conclusion after the hedge
])
def test_parse_choice(reply: str, letter: str | None) -> None:
    assert mcq.parse_choice(reply, OPTIONS) == letter


def test_parse_choice_without_an_option_list_uses_the_given_letters() -> None:
    assert mcq.parse_choice("The answer is C.", None, n_choices=3) == "C"
    assert mcq.parse_choice("The answer is D.", None, n_choices=3) is None


def test_option_helpers() -> None:
    assert mcq.option_block(["cat", "dog"]) == "(A) cat\n(B) dog"
    assert [mcq.strip_label(o) for o in ("(A) yes", "B. no", "C: maybe", "Daisy")] == ["yes", "no", "maybe", "Daisy"]
    assert mcq.split_options("A: the first\nB: the second,\ncontinued\nC: both") == [
        "the first", "the second,\ncontinued", "both"]
    with pytest.raises(ValueError, match="letter label"):
        mcq.split_options("first option\nB: second")


def test_unparsed_mcq_is_counted_and_wrong() -> None:
    s = Sample(id="x", task="mcq", images=[], question="q", answer="B", gt="B", targets=[], controls={},
               source="muirbench", options=["cat", "dog"])
    assert mcq_score(s, "Based on the images", {}, False) == {"parsed": None, "unparsed": True, "correct": 0.0}
    assert mcq_score(s, "The correct answer is (B)", {}, False)["correct"] == 1.0
    # official (lmms-eval) parsing, kept to reproduce published numbers, gets the same reply wrong
    assert mcq_score(s, "The correct answer is (B)", {}, True)["correct"] == 0.0
    blink = Sample(**{**s.__dict__, "source": "blink"})
    assert mcq_score(blink, "Based on the images", {}, True)["correct"] == 1.0  # the spurious hit


@pytest.mark.parametrize(("reply", "gold", "correct"), [
    ("There are 7 birds.", "7", True),
    ("7.0", "7", True),
    ("There are 17 birds.", "7", False),
    ("1,000", "1000", True),
    ("Final Answer: red", "Red", True),
    ("The title is Attention Is All You Need", "Attention Is All You Need", True),
    ("Attention Is All You Need", "Attention Is All You Need", True),
    ("I do not know", "7", False),
])
def test_open_answers(reply: str, gold: str, correct: bool) -> None:
    assert openqa.is_correct(gold, openqa.candidates(reply)) is correct


def test_open_answer_unparsed_when_empty() -> None:
    assert openqa.candidates("   ") == []
