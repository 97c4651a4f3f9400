"""`--official` gives exactly the floats of the official MIMIC scorer (lmms-eval task utils), bit for bit.

The reference below is written here, from the behaviour of the official code path (paper.md §4 and issue 15),
not from `mimic_vlm.evaluate.parse`: the filter `MultiChoiceRegexFilter_1` builds `response = ''` and adds
`' ' + resp` to the output as generated; counting's `parse_response` strips `, . ! ? ; : '` one character at a
time in that order, then tries `int()`, `w2n.word_to_num`, the first `\\d+`; listing splits on `', '` and
micro-averages P and R over the set, F1 = 2PR/(P+R); common / odd_one use a substring test. Only
`word_to_num` is taken from the project (its copy of word2number 1.1 is tested on its own in test_parse.py).
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from mimic_vlm.evaluate.numbers import official_word_to_num
from mimic_vlm.evaluate.score import score_predictions
from mimic_vlm.schema import Sample
from mimic_vlm.store import load_bench

# ---- the reference: the official code path, transcribed ------------------------------------------------


def ref_filter(resp: str) -> str:
    response = ""
    response += " " + resp
    return response


def ref_parse_response(response: str) -> str:
    for ch in [",", ".", "!", "?", ";", ":", "'"]:
        response = response.strip(ch)
    try:
        return str(int(response))
    except Exception:
        pass
    try:
        return str(official_word_to_num(response))
    except Exception:
        pass
    found = re.findall(r"\d+", response)
    return found[0] if found else "wrong answer"


def ref_counting_accuracy(pairs: list[tuple[str, str]]) -> tuple[float, list[bool]]:
    hits = [ref_parse_response(ref_filter(out)).lower().strip() == str(gt) for out, gt in pairs]
    return sum(hits) / len(hits), hits


def ref_listing(pairs: list[tuple[str, str]]) -> list[float]:
    recalled = generated = total = 0
    for out, gt in pairs:
        pred_items = ref_filter(out).lower().split(", ")
        gt_items = gt.lower().split(", ")
        recalled += sum(1 for g in gt_items if g in pred_items)
        generated += len(pred_items)
        total += len(gt_items)
    precision = recalled / generated
    recall = recalled / total
    f1 = 2 * precision * recall / (precision + recall)
    return [precision, recall, f1]


def ref_substring_accuracy(pairs: list[tuple[str, str]]) -> float:
    hits = [gt.lower().strip() in ref_filter(out).lower().strip() for out, gt in pairs]
    return sum(hits) / len(hits)


# ---- the corpus ------------------------------------------------------------------------------------------

COUNTING = [  # (raw output, gt)
    ("7", "7"), ("7.", "7"), ("7.\n", "7"), (" 7 ", "7"), ("\n7", "7"), ("seven", "7"), ("Seven.", "7"),
    ("seven.!", "7"), ("seven!.", "7"), ("7!?", "7"), ("7?!", "7"), ("'7'", "7"), ("7,", "7"), ("7;:", "7"),
    ("Two.\n", "2"), ("Two.", "2"), ("two\n", "2"), ("twenty-one", "21"), ("Twenty one!", "21"),
    ("There are two dogs and three cats.", "5"), ("There are 3 dogs and 4 cats", "3"), ("3 dogs.", "3"),
    ("Image 1 has 2 dogs, so 3", "3"), ("no idea", "0"), ("", "0"), ("\n", "0"), ("0", "0"), ("zero.", "0"),
    ("one hundred and five", "105"), ("1,000", "1000"), ("4.0", "4"), ("three point five", "3"),
    ("\"5\"", "5"), ("'5'.", "5"), (".5", "5"), ("5\n\nQuestion: how many? Answer: 6", "5"),
    ("eleven,", "11"), ("Eleven ,", "11"), ("  twelve  ", "12"), ("12\t", "12"), ("-3", "3"), ("+3", "3"),
    ("1_000", "1000"), ("six six", "6"), ("thousand", "1000"), ("one thousand two thousand", "2"),
]

NAMES = ["car", "truck", "bus", "ball", "kite", "racket", "Dog", "cat", "traffic light", "hot dog"]


def listing_corpus(n: int, seed: int) -> list[tuple[str, str]]:
    """Seeded raw listing outputs: duplicates, case, trailing newlines/spaces, other separators, quotes."""
    rng = random.Random(seed)
    fixed = [("ball, kite, racket\n", "ball, kite, racket"), ("car, truck", "car, truck"),
             ("Car, Truck, Car", "car, truck"), ("car,truck", "car, truck"), ("\ncar, truck ", "car, truck"),
             ("'car', 'truck'", "car, truck"), ("car and truck", "car, truck"), ("", "bus"),
             ("bus, bus, bus", "bus"), ("Bus.", "bus"), ("bus, car, ", "bus, car")]
    out = list(fixed)
    for _ in range(n - len(fixed)):
        gold = sorted(rng.sample(NAMES, rng.randint(1, 4)))
        pred = [rng.choice([g, g.upper(), g + "s"]) for g in gold if rng.random() < 0.8]
        pred += rng.sample(NAMES, rng.randint(0, 2))
        rng.shuffle(pred)
        text = rng.choice([", ", ", ", ",", " , "]).join(pred) + rng.choice(["", "", "\n", " ", "."])
        out.append((text, ", ".join(gold)))
    return out


CHOICE = [("carrot", "car"), ("Car.", "car"), ("\nthe car\n", "car"), ("dog and cat", "dog"), ("", "dog"),
          ("DOG", "dog"), ("hot dog", "dog"), ("traffic  light", "traffic light"), ("none", "cat")]


def _bench(root: Path, rows: list[tuple[str, str, str]]) -> tuple[Path, Path]:
    """A bench of (task, raw output, gt) rows, and its predictions file."""
    root.mkdir()
    samples, preds = [], []
    for i, (task, out, gt) in enumerate(rows):
        if task == "counting":
            answer: object = int(gt)
        elif task == "listing":
            answer = sorted(gt.split(", "))
        else:
            answer = gt
        s = Sample(id=f"{task}-{i:04d}", task=task, images=["images/a.jpg"], question="q", answer=answer,
                   gt=gt, targets=[], controls={"n_images": 1, "half": i % 2}, source="toy")
        samples.append(s)
        preds.append({"id": s.id, "output": out})
    (root / "samples.jsonl").write_text("".join(json.dumps(s.to_dict()) + "\n" for s in samples))
    (root / "manifest.json").write_text(json.dumps({"vocabulary": {}}))
    (root / "p.jsonl").write_text("".join(json.dumps(p) + "\n" for p in preds))
    return root, root / "p.jsonl"


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    listing = listing_corpus(300, seed=15)
    rows = ([("counting", o, g) for o, g in COUNTING] + [("listing", o, g) for o, g in listing]
            + [("common", o, g) for o, g in CHOICE] + [("odd_one", o, g) for o, g in CHOICE])
    root, preds = _bench(tmp_path_factory.mktemp("fidelity") / "b", rows)
    per_sample, scores = score_predictions(load_bench(root), preds, official=True, bootstrap=0)
    return rows, per_sample, scores


def test_counting_equals_the_official_scorer(scored):
    rows, per_sample, scores = scored
    pairs = [(o, g) for t, o, g in rows if t == "counting"]
    accuracy, hits = ref_counting_accuracy(pairs)
    assert [r["correct"] for r in per_sample if r["id"].startswith("counting")] == hits
    assert scores["tasks"]["counting"]["metrics"]["correct"]["value"] == accuracy
    # the three causes of issue 15, each present in the corpus: order of the strip, no strip before the filter
    assert ref_parse_response(ref_filter("seven.!")) == "wrong answer"
    assert ref_parse_response(ref_filter("Two.\n")) == "wrong answer"
    assert ref_parse_response(ref_filter("seven!.")) == "7"


def test_listing_equals_the_official_scorer_to_the_last_bit(scored):
    rows, _, scores = scored
    pairs = [(o, g) for t, o, g in rows if t == "listing"]
    metrics = scores["tasks"]["listing"]["metrics"]
    got = [metrics[m]["value"] for m in ("micro_precision", "micro_recall", "micro_f1")]
    assert got == ref_listing(pairs)  # float equality, no tolerance
    for half in (0, 1):  # per control value too: every group's F1 is 2PR/(P+R) of that group
        group = scores["tasks"]["listing"]["by_control"]["half"][str(half)]["metrics"]
        part = [p for i, p in enumerate(pairs) if (i + len([r for r in rows if r[0] == "counting"])) % 2 == half]
        assert [group[m]["value"] for m in ("micro_precision", "micro_recall", "micro_f1")] == ref_listing(part)
    # the corpus is one where 2tp/(n_pred+n_gt) is NOT the official float, so the test tells them apart
    tp = sum(sum(1 for g in gt.split(", ") if g in ref_filter(o).lower().split(", ")) for o, gt in pairs)
    n_pred = sum(len(ref_filter(o).split(", ")) for o, _ in pairs)
    n_gt = sum(len(gt.split(", ")) for _, gt in pairs)
    assert 2 * tp / (n_pred + n_gt) != ref_listing(pairs)[2]


def test_listing_trailing_newline_misses_the_last_item(tmp_path):
    root, preds = _bench(tmp_path / "b", [("listing", "ball, kite, racket\n", "ball, kite, racket")])
    rows, scores = score_predictions(load_bench(root), preds, official=True, bootstrap=0)
    assert rows[0]["parsed"] == [" ball", "kite", "racket\n"] and rows[0]["tp"] == 1
    assert scores["tasks"]["listing"]["metrics"]["micro_recall"]["value"] == 1 / 3


def test_common_and_odd_one_equal_the_official_scorer(scored):
    rows, _, scores = scored
    for task in ("common", "odd_one"):
        pairs = [(o, g) for t, o, g in rows if t == task]
        assert scores["tasks"][task]["metrics"]["correct"]["value"] == ref_substring_accuracy(pairs)
