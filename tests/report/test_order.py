"""--permutations K: seeded shuffles of the image order, their predictions, consistency and spread."""

from __future__ import annotations

import json

import pytest
from report_files import Scripted

from mimic_vlm.errors import MimicError
from mimic_vlm.evaluate.order import answer_key, order_summary, permutation, permuted
from mimic_vlm.evaluate.runner import run_eval
from mimic_vlm.models.base import Generation, Request
from mimic_vlm.models.registry import load_model
from mimic_vlm.report.compare import order_section
from mimic_vlm.report.runs import load_runs


class FirstImageCounter(Scripted):
    """A per-image model: counts the dogs of the first image only (+2), lists the first image's objects; its
    answer moves with the order."""

    def generate(self, requests: list[Request]) -> list[Generation]:
        out = []
        for r in requests:
            objects = r.sample["image_objects"]
            if r.sample["task"] == "counting":
                out.append(Generation(str(sum(o.get("dog", 0) for o in objects[:1]) + 2)))
            else:
                out.append(Generation(", ".join(sorted(objects[0]))))
        return out


def test_permutation_is_seeded_and_never_the_identity():
    assert permutation(4, "counting-000", 1) == permutation(4, "counting-000", 1)
    orders = {tuple(permutation(4, "counting-000", k)) for k in range(1, 9)}
    assert len(orders) > 3 and (0, 1, 2, 3) not in orders
    for k in range(1, 30):
        p = permutation(2, "x", k)
        assert p == [1, 0]  # two images: the only other order
    assert permutation(1, "x", 1) == [0]


def test_permuted_reorders_images_and_objects(bench):
    s = bench.samples[0]
    p = permuted(s, [1, 0])
    assert p.images == s.images[::-1] and p.image_objects == s.image_objects[::-1] and p.answer == s.answer
    assert s.images[0].endswith("img_0.png")  # the original is untouched


def test_answer_key():
    assert answer_key({"parsed": ["b", "a"]}) == answer_key({"parsed": ["a", "b"]})
    assert answer_key({"parsed": None, "unparsed": True}) == answer_key({"parsed": "x", "unparsed": True})
    assert answer_key({"parsed": 3}) != answer_key({"parsed": 4})


def test_order_summary_by_hand():
    rows = [{"id": "a", "task": "counting", "parsed": 3, "correct": True},
            {"id": "b", "task": "counting", "parsed": 2, "correct": False}]
    shuffled = [{"id": "a", "k": 1, "parsed": 3, "correct": True}, {"id": "a", "k": 2, "parsed": 1, "correct": False},
                {"id": "b", "k": 1, "parsed": 2, "correct": False}, {"id": "b", "k": 2, "parsed": 2, "correct": False}]
    t = order_summary(rows, shuffled, 2)["tasks"]["counting"]
    assert t == {"n": 2, "headline": "correct", "consistency": 0.5, "by_order": [0.5, 0.5, 0.0], "spread": 0.5,
                 "right_always": 0.0, "right_sometimes": 0.5}
    assert order_summary(rows, shuffled[:3], 2)["tasks"]["counting"]["n"] == 1  # b lacks shuffle 2


def test_run_eval_with_permutations(bench, tmp_path):
    out = tmp_path / "run"
    scores = run_eval(bench, FirstImageCounter("first", {}), out, permutations=3, command=["t"])
    lines = [json.loads(x) for x in (out / "permutations.jsonl").read_text().splitlines()]
    assert len(lines) == 3 * len(bench.samples) and {r["k"] for r in lines} == {1, 2, 3}
    by = {(r["id"], r["k"]): r for r in lines}
    r = by[("counting-000", 1)]
    assert r["order"] == permutation(2, "counting-000", 1) == [1, 0]
    # counting-000: images [dog 1, cat 2]; the original first image has 1 dog -> "3" (right), reversed -> "2"
    assert r["output"] == "2" and r["correct"] is False
    o = scores["order"]
    assert o["k"] == 3 and json.loads((out / "run.json").read_text())["permutations"] == 3
    c = o["tasks"]["counting"]
    assert c["n"] == 10 and c["by_order"][0] == 1.0 and c["consistency"] < 1.0 and c["spread"] > 0
    # a resumed run with the same K predicts nothing new; the summary is the same
    again = run_eval(bench, FirstImageCounter("first", {}), out, permutations=3, command=["t"])
    assert again["order"] == o and len((out / "permutations.jsonl").read_text().splitlines()) == len(lines)
    section_rows = order_section(load_runs([out])).blocks[1].rows
    assert section_rows[0][:5] == ["run", "counting", "3", "10", f"{c['consistency']:.3f}"]


def test_order_invariant_model_is_fully_consistent(bench, tmp_path):
    scores = run_eval(bench, load_model("oracle", bench=bench), tmp_path / "o", permutations=2, command=["t"])
    assert all(t["consistency"] == 1.0 and t["spread"] == 0.0 for t in scores["order"]["tasks"].values())


def test_negative_permutations_refused(bench, tmp_path):
    with pytest.raises(MimicError, match="--permutations -1"):
        run_eval(bench, Scripted("x", {}), tmp_path / "x", permutations=-1)
