"""Reasoning outputs: the thinking block set aside before an answer is read; truncated apart from unparsed."""

from __future__ import annotations

import pytest

from mimic_vlm.errors import MimicError
from mimic_vlm.evaluate.reasoning import Split, parse_tags, split_reasoning
from mimic_vlm.evaluate.score import build_scores, score_output
from mimic_vlm.evaluate.tasks import get_task

KIMI = ("◁think▷", "◁/think▷")


@pytest.mark.parametrize(("output", "tags", "expected"), [
    ("<think>\nI see 8 here, or 9? Recount.\n</think>\n\n7", None, Split("7", "I see 8 here, or 9? Recount.", False)),
    ("<think>\nThe answer is 7, but let me check image 2 again and", None,
     Split("", "The answer is 7, but let me check image 2 again and", True)),
    # the chat template opened the block in the prompt (Qwen3, DeepSeek-R1): only the close tag is generated
    ("Image 1 has two dogs; image 3 has one.\n</think>\n\nThree.", None,
     Split("Three.", "Image 1 has two dogs; image 3 has one.", False)),
    ("<THINK>count: 4?</Think> Four dogs in total.", None, Split("Four dogs in total.", "count: 4?", False)),
    ("<think>a</think>Wait, 5?<think>no, 6</think>\n6", None, Split("6", "a\nWait, 5?\nno, 6", False)),
    ("<think>a</think>So far 5. <think>checking image 4", None, Split("", "a\nSo far 5.\nchecking image 4", True)),
    ("<think></think>\n\ncat", None, Split("cat", "", False)),
    ("There are 3 dogs.", None, Split("There are 3 dogs.", "", False)),
    ("", None, Split("", "", False)),
    ("◁think▷Two buses, one car...◁/think▷bus, car", KIMI, Split("bus, car", "Two buses, one car...", False)),
    ("◁think▷Two buses, one car, and", KIMI, Split("", "Two buses, one car, and", True)),
    ("<think>x</think> 2", KIMI, Split("<think>x</think> 2", "", False)),  # other tags: these are text
])
def test_split_reasoning(output: str, tags: tuple[str, str] | None, expected: Split) -> None:
    assert split_reasoning(output, *([tags] if tags else [])) == expected


def test_server_reasoning_joins_in_front() -> None:
    assert split_reasoning("7", server_reasoning=" counted twice ") == Split("7", "counted twice", False)
    assert split_reasoning("<think>b</think>7", server_reasoning="a") == Split("7", "a\nb", False)


def test_parse_tags() -> None:
    assert parse_tags("<think>,</think>") == ("<think>", "</think>")
    assert parse_tags(" [BEGIN] , [END] ") == ("[BEGIN]", "[END]")
    for bad in ("<think>", "<think>,", ",</think>", "a,a", "a,b,c"):
        with pytest.raises(MimicError, match="--reasoning-tags .*expected OPEN,CLOSE"):
            parse_tags(bad)


def test_issue_examples_score_right_and_truncated(make_sample, vocab) -> None:
    count = make_sample("counting", 7, targets=["dog"])
    right = score_output(count, "<think>\nI see 8 here, or 9? Recount.\n</think>\n\n7", vocab)
    assert right == {"parsed": 7, "unparsed": False, "correct": True, "abs_error": 0, "off_by_one": False}
    cut = score_output(count, "<think>\nThe answer is 7, but let me check image 2 again and", vocab)
    assert cut == {"parsed": None, "unparsed": False, "truncated": True, "correct": False, "abs_error": None,
                   "off_by_one": False}


@pytest.mark.parametrize(("task", "answer", "output", "parsed", "correct"), [
    ("counting", 5, "<think>Image 1: 2 dogs. Image 2: 4 dogs? no, 3.</think>So there are five dogs.", 5, True),
    ("counting", 5, "Okay, let me look. 2 dogs, then 3 dogs.\n</think>\n\nThe total is 5.", 5, True),
    ("listing", ["bus", "car"], "<think>I think there is a truck... no.</think>\nBuses and cars", ["bus", "car"], None),
    ("common", "car", "<think>A dog in image 1? Not in image 2.</think> The common object is a car.", "car", True),
    ("odd_one", "dog", "<think>bus, bus, car, car... and one dog</think>dog", "dog", True),
])
def test_answers_after_thinking_in_other_phrasings(make_sample, vocab, task, answer, output, parsed,
                                                   correct) -> None:
    sample = make_sample(task, answer, targets=["dog"] if task == "counting" else ["vehicle"])
    scored = score_output(sample, output, vocab)
    assert scored["parsed"] == parsed and scored["unparsed"] is False and "truncated" not in scored
    if correct is not None:
        assert scored["correct"] is correct
    else:
        assert scored["exact"] is True


def test_token_limit_before_an_answer_is_truncated_not_unparsed(make_sample, vocab) -> None:
    count = make_sample("counting", 7, targets=["dog"])
    thinking_aloud = "Let me look at each image carefully, starting with the leftmost picture and"
    assert score_output(count, thinking_aloud, vocab)["unparsed"] is True  # stopped by itself: unparsed
    cut = score_output(count, thinking_aloud, vocab, hit_limit=True)
    assert cut["truncated"] is True and cut["unparsed"] is False and cut["correct"] is False
    said = score_output(count, "There are 7 dogs in total, and in the first image there", vocab, hit_limit=True)
    assert said["parsed"] == 7 and said["correct"] is True and "truncated" not in said  # the answer came first


def test_configured_tags_and_official_mode_unchanged(make_sample, vocab) -> None:
    count = make_sample("counting", 3, targets=["dog"])
    assert score_output(count, "◁think▷maybe 4◁/think▷3", vocab, tags=KIMI)["correct"] is True
    assert score_output(count, "◁think▷maybe 4", vocab, tags=KIMI)["truncated"] is True
    raw = "<think>\nI see 8 here\n</think>\n\n3"
    assert score_output(count, raw, vocab, official=True) == get_task("counting").score(count, raw, vocab, True)


def test_scores_count_truncated_apart(make_sample, vocab) -> None:
    samples = [make_sample("counting", 2, i, targets=["dog"]) for i in range(4)]
    outputs = ["<think>1 or 2</think>2", "<think>still counting", "no idea", "<think>x</think>3"]
    rows = [{"id": s.id, **score_output(s, o, vocab)} for s, o in zip(samples, outputs, strict=True)]
    scores = build_scores(samples, rows, bootstrap=10)
    assert scores["overall"]["n_unparsed"] == 1 and scores["overall"]["n_truncated"] == 1
    assert scores["tasks"]["counting"]["n_truncated"] == 1
    assert scores["tasks"]["counting"]["metrics"]["correct"]["value"] == 0.25
    assert "usage" not in scores  # no token counts in these rows
