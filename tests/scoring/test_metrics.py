"""Per-sample fields, task scoring (default and official) and `summarize` on hand-computed examples."""

from __future__ import annotations

import pytest

from mimic_vlm.errors import MimicError
from mimic_vlm.evaluate.metrics import summarize
from mimic_vlm.evaluate.mimic_tasks import count_fields, set_fields
from mimic_vlm.evaluate.score import build_scores, score_output
from mimic_vlm.evaluate.tasks import TaskSpec, all_tasks, get_task, register_task


def test_count_fields():
    assert count_fields(5, 3) == {"correct": False, "abs_error": 2, "off_by_one": False}
    assert count_fields(4, 3) == {"correct": False, "abs_error": 1, "off_by_one": True}
    assert count_fields(3, 3) == {"correct": True, "abs_error": 0, "off_by_one": False}
    assert count_fields(None, 3) == {"correct": False, "abs_error": None, "off_by_one": False}


def test_set_fields():
    f = set_fields(["a", "b", "x", "a"], ["a", "b", "c", "d"])
    assert f == {"precision": 2 / 3, "recall": 0.5, "f1": pytest.approx(4 / 7), "exact": False,
                 "tp": 2, "n_pred": 3, "n_gt": 4}
    assert set_fields(["a", "a"], ["a"], dedupe=False)["n_pred"] == 2
    assert set_fields([], [])["f1"] == 1.0
    assert set_fields(None, ["a"]) == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "exact": False,
                                       "tp": 0, "n_pred": 0, "n_gt": 1}


def test_task_registry_and_prompts(make_sample):
    assert {"counting", "listing", "common", "odd_one"} <= set(all_tasks())
    s = make_sample("counting", 3)
    assert get_task("counting").prompt(s) == f"Question: {s.question}\nAnswer:"
    assert get_task("listing").prompt(s) == (
        f"Question: {s.question} Please provide the list of category names directly.\nAnswer:")  # no "?."
    assert get_task("listing").extra["official_prompt"](s) == (  # the official text, under --official only
        f"Question: {s.question}. Please provide the list of category names directly.\nAnswer:")
    assert [get_task(t).max_new_tokens for t in ("counting", "listing", "common", "odd_one")] == [16, 32, 16, 16]
    assert [get_task(t).headline for t in ("counting", "listing", "common", "odd_one")] == [
        "correct", "micro_f1", "correct", "correct"]


def test_score_output_default(make_sample, vocab):
    count = make_sample("counting", 5)
    assert score_output(count, "2 in the first image and 3 in the second, so 5 in total", vocab) == {
        "parsed": 5, "unparsed": False, "correct": True, "abs_error": 0, "off_by_one": False}
    assert score_output(count, "no idea", vocab)["unparsed"] is True
    assert score_output(count, "5\nQuestion: How many cats?\nAnswer: 2", vocab)["parsed"] == 5
    listing = make_sample("listing", ["bus", "car", "truck"])
    assert score_output(listing, "Buses, cars and a truck.", vocab) == {
        "parsed": ["bus", "car", "truck"], "unparsed": False, "precision": 1.0, "recall": 1.0, "f1": 1.0,
        "exact": True, "tp": 3, "n_pred": 3, "n_gt": 3}
    common = make_sample("common", "car")
    assert score_output(common, "Cars", vocab) == {"parsed": "car", "unparsed": False, "correct": True}
    assert score_output(common, "carrot", vocab) == {"parsed": "carrot", "unparsed": False, "correct": False}
    assert score_output(common, "car and bus", vocab) == {"parsed": ["bus", "car"], "unparsed": False,
                                                          "correct": False}
    assert score_output(common, "I don't know", vocab) == {"parsed": None, "unparsed": True, "correct": False}
    several = make_sample("odd_one", ["bus", "car"])
    assert score_output(several, "car and bus", vocab)["correct"] is True
    assert score_output(several, "car", vocab)["correct"] is False


def test_score_output_without_vocabulary_uses_the_sample_names(make_sample):
    common = make_sample("common", "Traffic Light")
    assert score_output(common, "traffic lights", {}) == {"parsed": "Traffic Light", "unparsed": False,
                                                          "correct": True}
    listing = make_sample("listing", ["car", "bus"])
    assert score_output(listing, "car, tree", {})["parsed"] == ["car", "tree"]


def test_official_listing_first_item_never_matches(make_sample, vocab):
    s = make_sample("listing", ["bus", "car", "truck"])
    r = score_output(s, "bus, car, truck", vocab, official=True)
    assert (r["tp"], r["n_pred"], r["n_gt"]) == (2, 3, 3)
    assert r["recall"] == pytest.approx(2 / 3) and r["precision"] == pytest.approx(2 / 3)
    dup = score_output(s, "car, car, car", vocab, official=True)
    assert (dup["tp"], dup["n_pred"]) == (1, 3)


def test_official_substring_rule_and_counting(make_sample, vocab):
    car = make_sample("common", "car")
    assert score_output(car, "carrot", vocab, official=True)["correct"] is True
    assert score_output(car, "dog, cat, car, bus", vocab, official=True)["correct"] is True
    count = make_sample("counting", 5)
    assert score_output(count, "There are two dogs and three cats.", vocab, official=True)["correct"] is True
    assert score_output(count, "Image 1 has 2 dogs, so 5", vocab, official=True)["correct"] is False
    assert score_output(count, "nothing", vocab, official=True) == {
        "parsed": None, "unparsed": True, "correct": False, "abs_error": None, "off_by_one": False}


def _fake(make_sample):
    """Counting: n_images=2 -> 2 of 3 right, n_images=3 -> 0 of 1 (1 unparsed). Listing: hand-computed P/R."""
    samples = [make_sample("counting", 3, i, n_images=n, balance=b)
               for i, (n, b) in enumerate([(2, "balanced"), (2, "balanced"), (2, "unbalanced"), (3, "unbalanced")])]
    rows = [{"id": samples[0].id, **count_fields(3, 3), "unparsed": False},
            {"id": samples[1].id, **count_fields(3, 3), "unparsed": False},
            {"id": samples[2].id, **count_fields(5, 3), "unparsed": False},
            {"id": samples[3].id, **count_fields(None, 3), "unparsed": True}]
    lists = [make_sample("listing", ["a", "b"], 10, n_images=2), make_sample("listing", ["c"], 11, n_images=3)]
    rows += [{"id": lists[0].id, **set_fields(["a"], ["a", "b"]), "unparsed": False},
             {"id": lists[1].id, **set_fields(["x", "y", "z"], ["c"]), "unparsed": False}]
    return samples + lists, rows


def test_summarize_exact_values_and_breakdowns(make_sample):
    samples, rows = _fake(make_sample)
    s = summarize(samples, rows, bootstrap=200, seed=0)
    c = s["tasks"]["counting"]
    value = {m: e["value"] for m, e in c["metrics"].items()}
    assert value == {"correct": 0.5, "abs_error": pytest.approx(2 / 3), "off_by_one": 0.0, "unparsed_rate": 0.25}
    by_n = c["by_control"]["n_images"]
    assert list(by_n) == ["2", "3"]
    assert (by_n["2"]["n"], by_n["2"]["metrics"]["correct"]["value"]) == (3, pytest.approx(2 / 3))
    assert by_n["3"]["metrics"]["correct"]["value"] == 0.0
    assert by_n["3"]["metrics"]["abs_error"] == {"value": None, "ci": None}  # no parsed answer there
    assert c["by_control"]["balance"]["balanced"]["metrics"]["correct"]["value"] == 1.0
    assert c["by_control"]["balance"]["unbalanced"]["metrics"]["correct"]["value"] == 0.0
    lst = {m: e["value"] for m, e in s["tasks"]["listing"]["metrics"].items()}
    assert lst["micro_precision"] == 0.25 and lst["micro_recall"] == pytest.approx(1 / 3)
    assert lst["micro_f1"] == pytest.approx(2 / 7)
    assert (lst["precision"], lst["recall"], lst["f1"]) == (0.5, 0.25, pytest.approx(1 / 3))
    assert s["overall"] == {"n": 6, "n_unparsed": 1, "unparsed_rate": 1 / 6}
    m = s["mimic_score"]
    assert m["tasks"] == ["counting", "listing"] and m["value"] == pytest.approx((0.5 + 2 / 7) / 2)
    assert m["by_control"]["n_images"]["3"]["value"] == pytest.approx((0.0 + 0.0) / 2)
    assert m["by_control"]["balance"]["balanced"]["tasks"] == ["counting"]


def test_bootstrap_is_seeded_and_brackets_the_estimate(make_sample):
    samples = [make_sample("common", "dog", i, n_images=2 + i % 3) for i in range(300)]
    rows = [{"id": s.id, "correct": i % 3 != 0, "unparsed": False} for i, s in enumerate(samples)]
    a = summarize(samples, rows, bootstrap=500, seed=1)
    assert a == summarize(samples, rows, bootstrap=500, seed=1)
    assert a != summarize(samples, rows, bootstrap=500, seed=2)
    acc = a["tasks"]["common"]["metrics"]["correct"]
    assert acc["value"] == pytest.approx(2 / 3)
    assert acc["ci"][0] < acc["value"] < acc["ci"][1] and acc["ci"][1] - acc["ci"][0] < 0.15
    ms = a["mimic_score"]
    assert ms["value"] == acc["value"] and ms["ci"] == acc["ci"]
    assert summarize(samples, rows[::-1], bootstrap=500, seed=1) == a  # row order does not matter
    plain = summarize(samples, rows, bootstrap=0)
    assert plain["tasks"]["common"]["metrics"]["correct"] == {"value": acc["value"], "ci": None}


def test_summarize_rejects_unknown_rows(make_sample):
    with pytest.raises(MimicError, match="'nope' is not a sample"):
        summarize([make_sample("common", "dog")], [{"id": "nope", "correct": True}])


def test_other_benchmarks_summarise_through_their_own_metrics(make_sample):
    spec = register_task(TaskSpec("scoring_test_choice", lambda s: s.question, 4,
                                  lambda s, o, v, off: {"parsed": o, "unparsed": False, "correct": o == s.gt,
                                                        "consistent": None},
                                  ("correct", "consistent"), "correct"))
    samples = [make_sample(spec.name, "A", i) for i in range(4)]
    rows = [{"id": s.id, **score_output(s, o, {})} for s, o in zip(samples, "AABA", strict=True)]
    scores = build_scores(samples, rows, bootstrap=50)
    t = scores["tasks"][spec.name]
    assert t["metrics"]["correct"]["value"] == 0.75 and t["metrics"]["consistent"]["value"] is None
    assert scores["mimic_score"] is None and scores["scoring"]["mode"] == "default"


def test_any_text_scores_without_error(make_sample, vocab):
    """Random-weight models emit anything: every task reads any text, in both modes, into typed fields."""
    import json
    import random

    rng = random.Random(0)
    alphabet = "0123456789 ,.;:!?-&/\n\t'\"()[]*#=+abcdogstwenyhfimage ÄéΩ中文\u200b\U0001f600"
    words = ["dog", "dogs", "image", "2", "three", "no", "none", "total", "so", "and", "hot", "car", ":", "Question:"]
    samples = [make_sample("counting", 3), make_sample("listing", ["bus", "car"]), make_sample("common", "dog"),
               make_sample("odd_one", ["car", "dog"])]
    for i in range(300):
        text = ("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) if i % 2 else
                " ".join(rng.choice(words) for _ in range(rng.randint(0, 12))))
        for s in samples:
            for official in (False, True):
                r = score_output(s, text, vocab, official)
                json.dumps(r)
                assert isinstance(r["unparsed"], bool)
                assert official or (r["parsed"] is None) == r["unparsed"]


def test_micro_f1_is_2pr_over_p_plus_r_with_its_edge_cases(make_sample):
    samples = [make_sample("listing", ["bus", "car"], i) for i in range(3)]

    def f1(*counts):
        rows = [{"id": s.id, **dict(zip(("tp", "n_pred", "n_gt"), c, strict=True)), "unparsed": False}
                for s, c in zip(samples, counts, strict=False)]
        return summarize(samples[:len(rows)], rows, bootstrap=20)["tasks"]["listing"]["metrics"]["micro_f1"]

    p, r = 3 / 7, 3 / 10
    assert f1((1, 3, 4), (2, 4, 6))["value"] == 2 * p * r / (p + r)  # the official order of operations
    assert f1((0, 0, 2))["value"] == 0.0  # nothing predicted, truth missed: 0, not undefined
    assert f1((0, 3, 2))["value"] == 0.0  # P = R = 0
    assert f1((0, 0, 0))["value"] is None  # nothing predicted and nothing to find
