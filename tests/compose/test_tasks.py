"""Each task is one object holding its rules; the registry lists them once."""

from __future__ import annotations

from mimic_vlm.tasks import CONFIGS, MIMIC, TASKS, rules
from mimic_vlm.tasks.odd_one import ODD_ONE, odd_one_layout


def test_registry_names_configs_and_generic_rules() -> None:
    assert TASKS == ("counting", "listing", "common", "odd_one")
    assert CONFIGS == {"counting_unbalanced": "counting", "counting": "counting", "listing": "listing",
                       "common": "common", "oddone": "odd_one"}
    assert [t for t in TASKS if MIMIC[t].packable] == ["counting", "listing"]
    assert rules("muirbench").answer_kind == "name" and rules("listing") is MIMIC["listing"]


def test_odd_one_rule_spread_is_answers() -> None:
    """Every layout odd_one takes has spread = answers and one more image; lowering keeps the rule."""
    layouts = [(n, s) for n in range(1, 7) for s in range(n + 1) if ODD_ONE.layout_ok(n, s, (1, 2))]
    assert layouts == [(n, s) for n in range(2, 7) for s in (1, 2) if s < n]
    drawn = {**odd_one_layout(5, 2), "balance": "uniform"}
    assert ODD_ONE.lower(drawn, "answers") == {**odd_one_layout(5, 1), "balance": "uniform"}
    assert ODD_ONE.lower(drawn, "n_images") == {**odd_one_layout(4, 2), "balance": "uniform"}
    assert ODD_ONE.lower({**odd_one_layout(3, 2), "balance": "uniform"}, "n_images") is None
    answer, controls, problems = ODD_ONE.derive([], [{"cat": 1, "dog": 1}, {"dog": 2}, {"dog": 1, "bus": 1}],
                                                [[], [], []], {})
    assert answer == ["bus", "cat"] and controls == odd_one_layout(3, 2) and problems == []


def test_released_answers_are_typed_by_their_task() -> None:
    assert MIMIC["counting"].released_answer("7") == 7
    assert MIMIC["listing"].released_answer("Dog, cat") == ["cat", "dog"]
    assert MIMIC["common"].released_answer("Dog") == "dog"
