"""The study's verdict rules and study.json layout, on constructed numbers (pure functions)."""

from __future__ import annotations

import pytest

from mimic_vlm.study.analysis import (
    FINDING_KEYS,
    STUDY_KEYS,
    decide,
    interaction_effect,
    is_testable,
    levels_table,
    paired_effect,
    prior_score,
    study_record,
    with_verdicts,
)
from mimic_vlm.study.findings import FINDINGS

F1 = FINDINGS["F1"]  # the paper's side: < 0
F7 = FINDINGS["F7"]  # the paper's side: > 0


@pytest.mark.parametrize(("effect", "p", "verdict"), [
    ({"value": -0.2, "ci": [-0.3, -0.1]}, 0.001, "reproduced"),
    ({"value": -0.2, "ci": [-0.3, -0.1]}, 0.2, "inconclusive"),   # clear interval, Holm-adjusted p too large
    ({"value": -0.2, "ci": [-0.3, -0.1]}, None, "reproduced"),    # no test: the interval decides
    ({"value": 0.2, "ci": [0.1, 0.3]}, 0.001, "opposite"),
    ({"value": 0.2, "ci": [0.1, 0.3]}, 0.09, "inconclusive"),  # against the paper: the same Holm rule applies
    ({"value": -0.02, "ci": [-0.2, 0.16]}, 0.6, "inconclusive"),  # holds 0, wider than 0.10
    ({"value": -0.01, "ci": [-0.04, 0.03]}, 0.6, "not_reproduced"),  # holds 0, narrower than 0.10
    ({"value": None, "ci": None}, None, "inconclusive"),
])
def test_verdict_follows_the_interval_and_the_papers_side(effect, p, verdict) -> None:
    assert decide(F1, effect, p, True, None)[0] == verdict


def test_the_side_is_the_findings_own() -> None:
    assert decide(F7, {"value": 0.2, "ci": [0.1, 0.3]}, 0.01, True, None)[0] == "reproduced"
    assert decide(F7, {"value": -0.2, "ci": [-0.3, -0.1]}, 0.01, True, None)[0] == "opposite"


def test_not_testable_wins_and_says_why() -> None:
    verdict, reason = decide(F1, {"value": -0.5, "ci": [-0.6, -0.4]}, 0.0, False, "below the prior")
    assert (verdict, reason) == ("not_testable", "below the prior")


def test_testability_against_the_prior() -> None:
    assert is_testable({"metric": 0.8, "ci": [0.7, 0.9]}, 0.3, "n_images=2") == (True, None)
    ok, why = is_testable({"metric": 0.35, "ci": [0.28, 0.42]}, 0.30, "n_images=2")
    assert not ok and why is not None and "0.35 [0.28, 0.42] at n_images=2, not well above the answer prior 0.30" in why
    assert not is_testable({"metric": 0.5, "ci": [0.25, 0.7]}, 0.3, "x")[0]  # +0.2 but the interval reaches the prior
    assert prior_score(["3", "3", "2", "1"], ["3", "2"]) == 0.5
    assert prior_score(["2", "3"], ["2", "2", "3"]) == pytest.approx(2 / 3)  # ties: the smallest text


def test_paired_effect_on_constructed_units() -> None:
    obs = [(f"u{i}", lv, float(ok), 16.0 * lv) for i in range(10) for lv, ok in ((2, 1), (8, i < 4))]
    effect, mde = paired_effect(obs, 2, 8, replicates=500)
    assert effect["value"] == pytest.approx(-0.6) and effect["p"] == 2 / 2**6  # 6 broken, 0 fixed
    assert effect["ci"][1] < 0 and mde is not None and mde > 0
    levels = levels_table(obs, [2, 8], replicates=200)
    assert [(lv["value"], lv["n"], lv["metric"], lv["vision_tokens"]) for lv in levels] == [
        (2, 10, 1.0, 32.0), (8, 10, 0.4, 128.0)]


def test_interaction_is_the_difference_of_paired_costs() -> None:
    obs = [(f"a{i}", n, float(n == 2 or i < 8), None) for i in range(10) for n in (2, 8)]  # spread 1: cost -0.2
    obs += [(f"b{i}", n, float(n == 2 or i < 3), None) for i in range(10) for n in (2, 8)]  # spread 2: cost -0.7
    levels, effect, _ = interaction_effect(obs, lambda u: 1 if u.startswith("a") else 2, (1, 2), 2, 8, 500)
    assert [lv["metric"] for lv in levels] == pytest.approx([-0.2, -0.7])
    assert effect["value"] == pytest.approx(-0.5) and effect["ci"][1] < 0 and effect["p"] < 0.05


def test_holm_across_findings_and_the_record_keys() -> None:
    def entry(fid: str, p: float) -> dict:
        return {"id": fid, "claim": FINDINGS[fid].claim, "design": {"vary": "x", "fixed": {}, "paired": True,
                                                                     "extra": 1},
                "metric": "m", "levels": [{"value": 1, "n": 5, "metric": 0.5, "ci": [0.4, 0.6],
                                           "vision_tokens": None, "other": 0}],
                "effect": {"value": -0.2, "ci": [-0.3, -0.1], "p": p}, "min_detectable_effect": 0.1,
                "testable": True, "reason": None, "note": "a note"}
    decided = with_verdicts([entry("F1", 0.04), entry("F3", 0.03)], FINDINGS)
    assert [f["verdict"] for f in decided] == ["inconclusive", "inconclusive"]  # 0.03 * 2, then max(0.06, 0.04)
    assert decided[0]["reason"].endswith("; a note") and "Holm-adjusted p = 0.06" in decided[0]["reason"]
    alone = with_verdicts([entry("F1", 0.04)], FINDINGS)
    assert alone[0]["verdict"] == "reproduced"
    record = study_record("toy:x", "quick", decided)
    assert tuple(record) == STUDY_KEYS and tuple(record["findings"][0]) == FINDING_KEYS
    f = record["findings"][0]
    assert tuple(f["design"]) == ("vary", "fixed", "paired") and tuple(f["effect"]) == ("value", "ci", "p")
    assert tuple(f["levels"][0]) == ("value", "n", "metric", "ci", "vision_tokens")
