"""Controls: parsing, drawing, and contradictory requests."""

from __future__ import annotations

import re

import numpy as np
import pytest

from mimic_vlm.compose.base import Stream
from mimic_vlm.compose.controls import Controls, parse_choice
from mimic_vlm.errors import MimicError


def test_parse_value_range_list():
    assert parse_choice("spread", "5") == (5,)
    assert parse_choice("spread", "2-4") == (2, 3, 4)
    assert parse_choice("spread", "8,2,4,2") == (2, 4, 8)
    assert parse_choice("spread", None) is None


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"n_images": "0-3"}, "--n-images 0-3: must lie within 1-64"),
    ({"n_images": "65"}, "--n-images 65: must lie within 1-64"),
    ({"n_images": "x"}, "--n-images 'x': expected a number"),
    ({"n_images": "5-2"}, "--n-images 5-2: range start is larger than its end"),
    ({"balance": "flat"}, "--balance 'flat': expected one of uniform, natural"),
    ({"concepts": "0"}, "--concepts 0: must be at least 1"),
])
def test_bad_values(kwargs, message):
    with pytest.raises(MimicError, match=re.escape(message)):
        Controls.parse(**kwargs)


@pytest.mark.parametrize(("task", "kwargs", "message"), [
    ("counting", {"n_images": "4", "spread": "5"}, "spread=5 is larger than n_images=4"),
    ("counting", {"n_images": "4", "spread": "2", "distractors": "1"}, "spread=2 + distractors=1 never equals n_images=4"),
    ("counting", {"n_images": "3", "distractors": "3"}, "distractors=3 leaves no image for a target"),
    ("odd_one", {"n_images": "3", "answers": "3"}, "answers=3: odd_one puts each answer in its own image"),
    ("common", {"n_images": "4", "spread": "2"}, "common holds its answer in every image, so spread = n_images"),
    ("common", {"n_images": "1"}, "n_images=1: common needs at least 2 images"),
    ("odd_one", {"n_images": "4", "spread": "2"}, "odd_one puts each of answers=1 categories in its own image"),
])
def test_contradictions_name_the_control(task, kwargs, message):
    with pytest.raises(MimicError, match=re.escape(message)):
        Controls.parse(**kwargs).layouts(task)


def test_draws_respect_every_control():
    c = Controls.parse(n_images="2,5,9", spread="1-3", concepts="1-2")
    rng = Stream(np.random.default_rng(0))
    layouts = c.layouts("counting")
    seen = set()
    for _ in range(500):
        d = c.draw("counting", layouts, rng)
        assert d["n_images"] in (2, 5, 9) and d["spread"] in (1, 2, 3) and d["concepts"] in (1, 2)
        assert d["spread"] + d["distractors"] == d["n_images"] and d["balance"] == "uniform"
        seen.add((d["n_images"], d["spread"], d["concepts"]))
    assert len(seen) == 2 * 3 * 2 + 2 * 2  # n=5 and n=9: 3 spreads x 2 concepts; n=2: spread 1-2 only
    odd = Controls.parse(n_images="4", answers="1-2")
    for _ in range(50):
        d = odd.draw("odd_one", odd.layouts("odd_one"), rng)
        assert d["spread"] == d["answers"] == d["concepts"] and d["distractors"] == 4 - d["answers"]
