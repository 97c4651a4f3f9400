"""Baselines: pure answer functions with exact, documented behaviour."""

from __future__ import annotations

from pathlib import Path

from mimic_vlm.models.base import Request
from mimic_vlm.models.baselines import (
    answer_space,
    answer_text,
    chance_answer,
    load_baseline,
    prior_answers,
    single_image_answer,
)
from mimic_vlm.schema import Sample
from mimic_vlm.store import Bench

VOCAB = {"dog": {"supercategory": "animal"}, "cat": {"supercategory": "animal"},
         "car": {"supercategory": "vehicle"}, "bus": {"supercategory": "vehicle"}}


def sample(task: str, answer, objects, targets=(), sid="s") -> Sample:
    return Sample(id=sid, task=task, images=[f"{i}.jpg" for i in range(len(objects))], question="?",
                  answer=answer, gt=answer_text(answer), targets=list(targets), controls={}, source="t",
                  image_objects=objects)


OBJECTS = [{"dog": 2, "car": 1, "bus": 3}, {"dog": 1, "cat": 4}]


def test_single_image_sees_only_the_first_image() -> None:
    def solve(task, answer, targets=()):
        return single_image_answer(sample(task, answer, OBJECTS, targets).to_dict(), VOCAB)

    assert solve("counting", 3, ["dog"]) == 2
    assert solve("listing", ["cat", "dog"], ["animal"]) == ["dog"]
    assert solve("common", "dog") == "bus"  # its most frequent category
    assert solve("odd_one", ["bus", "car", "cat"]) == ["bus", "car", "dog"]  # its 3 most frequent, sorted


def test_chance_is_seeded_per_sample_and_stays_in_the_answer_space() -> None:
    samples = [sample("counting", n, OBJECTS, ["dog"], sid=f"c{n}") for n in range(8)]
    samples += [sample("listing", ["dog"], OBJECTS, ["animal"], sid="l"), sample("common", "dog", OBJECTS, sid="m")]
    bench = Bench(root=Path("."), samples=samples, manifest={"vocabulary": VOCAB})
    space = answer_space(bench)
    assert space["max_count"] == 7 and space["members"]["animal"] == {"cat", "dog"}
    draws = [chance_answer(s.to_dict(), space, seed=0) for s in samples]
    assert draws == [chance_answer(s.to_dict(), space, seed=0) for s in reversed(samples)][::-1]
    assert all(0 <= d <= 7 for d in draws[:8]) and len(set(draws[:8])) > 1
    assert draws[8] and set(draws[8]) <= {"cat", "dog"} and draws[9] in VOCAB
    assert [chance_answer(s.to_dict(), space, seed=1) for s in samples] != draws


def test_prior_is_the_most_frequent_answer_per_task_ties_smallest_text() -> None:
    samples = [sample("counting", n, OBJECTS, ["dog"], sid=f"c{i}") for i, n in enumerate([3, 5, 5, 3, 12])]
    samples.append(sample("common", "dog", OBJECTS, sid="m"))
    bench = Bench(root=Path("."), samples=samples, manifest={})
    assert prior_answers(bench) == {"counting": "3", "common": "dog"}
    model = load_baseline("prior", bench)
    out = model.generate([Request(s.id, (), "", 16, s.to_dict()) for s in samples])
    assert [g.text for g in out] == ["3"] * 5 + ["dog"]


def test_oracle_answers_the_ground_truth_as_text() -> None:
    model = load_baseline("oracle", None)
    reqs = [Request("a", (), "", 16, sample("listing", ["bus", "car"], OBJECTS).to_dict()),
            Request("b", (), "", 16, sample("counting", 0, OBJECTS).to_dict())]
    assert [g.text for g in model.generate(reqs)] == ["bus, car", "0"]
    assert model.describe() == {"kind": "baseline", "model": "oracle"}


def test_an_empty_answer_is_said_as_none_and_parses_as_the_empty_list():
    from mimic_vlm.evaluate.score import score_output

    s = sample("listing", ["cat", "dog"], [{"car": 1}, {"dog": 1, "cat": 4}], targets=["animal"])
    said = answer_text(single_image_answer(s.to_dict(), VOCAB))
    assert said == "none"
    scored = score_output(s, said, VOCAB)
    assert scored["parsed"] == [] and not scored["unparsed"] and scored["recall"] == 0.0
