"""Exact ground truth for every task and control, re-derived independently of the composers.

Each sample is checked twice: against the catalog arrays (rows looked up by image name) and against its
own `image_objects` / `image_uncertain`. Both derivations below are written from DESIGN.md's rules.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pytest

from mimic_vlm.annotations.catalog import Catalog
from mimic_vlm.compose.controls import Controls
from mimic_vlm.compose.generate import compose_bench
from mimic_vlm.errors import MimicError


def _rows(catalog: Catalog, sample) -> np.ndarray:
    where = {n: i for i, n in enumerate(catalog.images)}
    return np.array([where[n] for n in sample.images])


def check_against_catalog(catalog: Catalog, s) -> None:
    rows = _rows(catalog, s)
    counts, unc = catalog.counts[rows].astype(int), catalog.uncertain[rows]
    present, absent = counts > 0, (counts == 0) & ~unc
    idx = catalog.category_index
    n = len(rows)
    assert len(set(rows.tolist())) == n, "an image is repeated"
    assert s.controls["n_images"] == n
    if s.task == "counting":
        t = [idx[c] for c in s.targets]
        assert not unc[:, t].any(), "a target's uncertain count was used"
        holding = present[:, t].any(1)
        assert (holding | absent[:, t].all(1)).all()
        assert s.answer == counts[:, t].sum() and s.gt == str(s.answer)
        assert (s.controls["spread"], s.controls["distractors"]) == (holding.sum(), n - holding.sum())
        assert s.controls["concepts"] == len(t)
    elif s.task == "listing":
        m = [i for i, g in enumerate(catalog.supercategories) if g in s.targets]
        assert not ((counts[:, m] == 0) & unc[:, m]).any(), "a member's presence is unknown"
        holding = present[:, m].any(1)
        assert s.answer == sorted(catalog.categories[m[j]] for j in np.flatnonzero(present[:, m].any(0)))
        assert s.gt == ", ".join(s.answer)
        assert (s.controls["spread"], s.controls["distractors"]) == (holding.sum(), n - holding.sum())
        assert (holding | absent[:, m].all(1)).all()
    elif s.task == "common":
        names = s.answer if isinstance(s.answer, list) else [s.answer]
        a = [idx[c] for c in names]
        assert present[:, a].all()
        others = [c for c in range(catalog.n_categories) if c not in a]
        assert absent[:, others].any(0).all(), "another category might be common"
        assert s.controls["answers"] == len(a) and (s.controls["spread"], s.controls["distractors"]) == (n, 0)
    else:
        names = s.answer if isinstance(s.answer, list) else [s.answer]
        a = [idx[c] for c in names]
        assert (present[:, a].sum(0) == 1).all() and (present[:, a] | absent[:, a]).all()
        possible = present | unc
        for c in range(catalog.n_categories):
            if c not in a and possible[:, c].any():
                assert present[:, c].sum() >= 2, f"{catalog.categories[c]} might be odd too"
        holders = present[:, a].any(1).sum()
        assert s.controls["answers"] == len(a) == holders == s.controls["spread"]
        assert s.controls["distractors"] == n - holders
    if s.task in ("common", "odd_one"):
        assert s.targets == names and s.gt == ", ".join(names)
        assert isinstance(s.answer, str) == (len(names) == 1)


def check_against_own_tables(s) -> None:
    """The same rules from the sample's image_objects / image_uncertain only."""
    objs, unc = s.image_objects, [set(u) for u in s.image_uncertain]
    assert all(all(v > 0 for v in o.values()) for o in objs)
    if s.task == "counting":
        assert s.answer == sum(o.get(t, 0) for o in objs for t in s.targets)
        assert not any(t in u for u in unc for t in s.targets)
    elif s.task == "listing":
        assert set(s.answer) <= {c for o in objs for c in o}
    elif s.task == "common":
        common = set.intersection(*(set(o) for o in objs))
        maybe = set.intersection(*(set(o) | u for o, u in zip(objs, unc, strict=True)))
        assert sorted(common) == sorted(maybe) == s.targets
    else:
        held = Counter(c for o in objs for c in o)
        maybe = Counter(c for o, u in zip(objs, unc, strict=True) for c in set(o) | u)
        odd = sorted(c for c in maybe if held[c] == 1 and maybe[c] == 1)
        assert odd == s.targets
        assert all(held[c] >= 2 for c in maybe if c not in odd)


CASES = [
    ("counting", {}),
    ("counting", {"n_images": "5", "spread": "3"}),
    ("counting", {"n_images": "1-16", "concepts": "2-3"}),
    ("counting", {"n_images": "6", "distractors": "4", "balance": "natural"}),
    ("counting", {"n_images": "3-5", "concepts": "2", "balance": "natural"}),
    ("listing", {}),
    ("listing", {"n_images": "4-8", "spread": "1-3", "concepts": "2"}),
    ("listing", {"n_images": "16", "balance": "natural"}),
    ("common", {}),
    ("common", {"n_images": "2-3", "answers": "2"}),
    ("common", {"n_images": "6-8", "balance": "natural"}),
    ("odd_one", {}),
    ("odd_one", {"n_images": "5-7", "answers": "2"}),
    ("odd_one", {"n_images": "3-8", "balance": "natural"}),
]


@pytest.mark.parametrize(("task", "kwargs"), CASES, ids=[f"{t}-{'-'.join(f'{k}{v}' for k, v in kw.items())}"
                                                         for t, kw in CASES])
def test_exact_ground_truth(catalog, task, kwargs):
    controls = Controls.parse(**kwargs)
    samples = compose_bench(catalog, [task], 60, controls, seed=3)
    assert [s.id for s in samples] == [f"{task}-{i:06d}" for i in range(60)]
    keys = {(frozenset(s.images), s.question) for s in samples}
    assert len(keys) == 60, "duplicate samples"
    for s in samples:
        assert re.fullmatch(rf"{task}-\d{{6}}", s.id) and s.source == "coco"
        check_against_catalog(catalog, s)
        check_against_own_tables(s)
        assert s.controls["balance"] == controls.balance
        for k in ("n_images", "spread", "distractors", "concepts"):
            assert k in s.controls
        assert s.controls["n_images"] in controls.n_images
        assert s.image_uncertain == [sorted(catalog.categories[c] for c in np.flatnonzero(catalog.uncertain[r]))
                                     for r in _rows(catalog, s)]


def test_questions_and_answer_types(catalog):
    c = Controls.parse(n_images="3", concepts="2", answers="1")
    by_task = {s.task: s for s in compose_bench(catalog, ["counting", "listing", "common", "odd_one"], 1, c, 0)}
    assert re.fullmatch(r"How many \w+ and \w+ are there in total across all the images\?",
                        by_task["counting"].question)
    assert type(by_task["counting"].answer) is int
    assert re.fullmatch(r"Which [\w ]+ and [\w ]+ categories appear across these images\?", by_task["listing"].question)
    assert by_task["common"].question == "Which object category appears in every image?"
    assert by_task["odd_one"].question == "Which object category appears in only one of the images?"
    two = compose_bench(catalog, ["common"], 1, Controls.parse(n_images="2", answers="2"), 0)[0]
    assert two.question == "Which 2 object categories appear in every image?" and len(two.answer) == 2


def test_crowd_cells_never_used_where_they_matter():
    """Image 0 holds 2 dogs plus a crowd of dogs; image 1 has a crowd of cats only (presence unknown)."""
    counts = np.array([[2, 0], [0, 0], [1, 1], [3, 0], [0, 2], [1, 1], [0, 0], [2, 2]], dtype=np.uint8)
    unc = np.zeros_like(counts, dtype=bool)
    unc[0, 0] = unc[1, 1] = True
    cat = Catalog("toy", [f"{i}.png" for i in range(8)], ["dog", "cat"], ["animal", "animal"], counts, unc)
    c = Controls.parse(n_images="1-4", balance="natural")
    for s in compose_bench(cat, ["counting"], 40, c, 0):
        if "dog" in s.targets:
            assert "0.png" not in s.images
        if "cat" in s.targets:
            assert "1.png" not in s.images  # cat presence unknown there: not even a distractor
    for s in compose_bench(cat, ["listing"], 6, Controls.parse(n_images="1-2", balance="natural"), 0):
        assert "1.png" not in s.images  # an unknown member could add to the list
        check_against_catalog(cat, s)


def test_impossible_request_says_what_the_data_allows():
    counts = np.zeros((10, 2), dtype=np.uint8)
    counts[:3, 0] = 1  # giraffe: 3 certain holders
    counts[3, 0] = 2
    counts[5:7, 1] = 1  # zebra: 2
    unc = np.zeros_like(counts, dtype=bool)
    unc[3, 0] = True  # the 4th giraffe image has a crowd: its count is unknown
    cat = Catalog("coco", [f"{i}.jpg" for i in range(10)], ["giraffe", "zebra"], ["animal"] * 2, counts, unc)
    with pytest.raises(MimicError, match=re.escape(
            "counting: spread=4 needs 4 images holding one category with uncertain counts excluded; "
            "the catalog has at most 3 (for 'giraffe')")):
        compose_bench(cat, ["counting"], 5, Controls.parse(n_images="4", spread="4"), 0)
    with pytest.raises(MimicError, match=re.escape("common: n_images=5 needs 5 images certainly holding one")):
        compose_bench(cat, ["common"], 5, Controls.parse(n_images="5"), 0)
    with pytest.raises(MimicError, match=r"--count 50 is more than the data allows under these controls; only \d+"):
        compose_bench(cat, ["counting"], 50, Controls.parse(n_images="1"), 0)


def test_uniform_balance_flattens_answers(catalog):
    def spread_of(balance: str, task: str, key) -> Counter:
        c = Controls.parse(n_images="2", spread="1", balance=balance) if task == "counting" else \
            Controls.parse(n_images="3", balance=balance)
        return Counter(key(s) for s in compose_bench(catalog, [task], 400, c, seed=1))

    uniform = spread_of("uniform", "counting", lambda s: s.answer)
    natural = spread_of("natural", "counting", lambda s: s.answer)
    values = sorted(uniform)
    assert values == list(range(1, values[-1] + 1)) and len(values) >= 8  # every reachable answer, evenly
    assert max(uniform.values()) / min(uniform.values()) < 2.2
    assert natural[1] > 4 * natural.get(6, 0)  # the data's own long tail
    uniform = spread_of("uniform", "common", lambda s: s.answer)
    natural = spread_of("natural", "common", lambda s: s.answer)
    assert len(uniform) == catalog.n_categories and max(uniform.values()) / min(uniform.values()) < 2.5
    assert natural.most_common(1)[0][1] > 1.5 * uniform.most_common(1)[0][1]  # frequency-weighted


def test_deterministic_and_task_all_is_the_union(catalog):
    c = Controls.parse(n_images="2-6")
    tasks = ["counting", "listing", "common", "odd_one"]
    together = [s.to_dict() for s in compose_bench(catalog, tasks, 25, c, seed=7)]
    assert together == [s.to_dict() for s in compose_bench(catalog, tasks, 25, c, seed=7)]
    apart = [s.to_dict() for t in tasks for s in compose_bench(catalog, [t], 25, c, seed=7)]
    assert together == apart
    assert together != [s.to_dict() for s in compose_bench(catalog, tasks, 25, c, seed=8)]


def test_empty_catalog_and_too_many_answers(catalog):
    empty = Catalog("coco", [], ["dog"], ["animal"], np.zeros((0, 1), np.uint8), np.zeros((0, 1), bool))
    with pytest.raises(MimicError, match="coco catalog: empty"):
        compose_bench(empty, ["counting"], 1, Controls.parse(), 0)
    most = int(catalog.present.sum(1).max())
    with pytest.raises(MimicError, match=f"answers={most + 1} needs images holding {most + 1} categories each; "
                                         f"no image of the catalog holds more than {most}"):
        compose_bench(catalog, ["common"], 1, Controls.parse(n_images="2", answers=str(most + 1)), 0)


def test_partitions_are_exact_and_complete():
    from mimic_vlm.compose.counting import partitions

    assert partitions(((1, 3), (2, 1), (5, 2)), 3, 7) == [(1, 1, 5)]
    assert partitions(((1, 2), (2, 2), (3, 2)), 2, 4) == [(1, 3), (2, 2)]
    assert partitions(((1, 1),), 2, 2) == []  # only one image holds a single instance
    assert all(sum(p) == 12 and len(p) == 4 for p in partitions(tuple((v, 4) for v in range(1, 9)), 4, 12))


def _chi_square(counts: Counter, values: list[int]) -> float:
    expected = sum(counts.values()) / len(values)
    return sum((counts.get(v, 0) - expected) ** 2 / expected for v in values)


def test_uniform_counting_answers_are_flat_over_all_answers(catalog):
    """Default controls (n_images 2-6, spread drawn): flat over answers, not only within each spread value
    (issue 11 §5: answer 1 came 3 times in 200 samples and answer 8 24 times)."""
    samples = compose_bench(catalog, ["counting"], 300, Controls.parse(n_images="2-6"), seed=0)
    answers = Counter(s.answer for s in samples)
    values = list(range(1, 16))  # spread 1 reaches totals 1-10, ..., spread 6 reaches 6-15
    assert sorted(answers) == values
    assert _chi_square(answers, values) < 36.12  # chi-square, 14 degrees of freedom, p = 0.001
    assert max(answers.values()) / min(answers.values()) < 2.5
    spreads = Counter(s.controls["spread"] for s in samples)
    assert sorted(spreads) == [1, 2, 3, 4, 5, 6] and spreads[1] > spreads[6]  # the spread follows the answers
    for s in samples:
        check_against_catalog(catalog, s)
    natural = Counter(s.answer for s in compose_bench(catalog, ["counting"], 300,
                                                      Controls.parse(n_images="2-6", balance="natural"), seed=0))
    assert _chi_square(natural, sorted(natural)) > 4 * 36.12  # the data's own long tail is far from flat
