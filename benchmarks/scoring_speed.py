"""Scoring speed: parse + score N answers (default 10,000) against the 80 COCO categories with their synonyms,
with varied answers and outputs, then summarise them with 1000 bootstrap replicates and every control
breakdown (the issue asks for "seconds"). Also the bootstrap trick measured side by side.

Run: .venv/bin/python benchmarks/scoring_speed.py [N]
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

import numpy as np

from mimic_vlm.annotations.synonyms import synonyms_for
from mimic_vlm.evaluate.metrics import _bootstrap_sums
from mimic_vlm.evaluate.score import build_scores, score_output
from mimic_vlm.schema import Sample

COCO = Path(__file__).resolve().parents[2] / "shared/data/coco-sample/annotations/instances_train2017.json"


def vocabulary() -> dict[str, dict]:
    cats = json.loads(COCO.read_bytes())["categories"]
    synonyms = synonyms_for("coco", [c["name"] for c in cats])
    return {c["name"]: {"supercategory": c["supercategory"], "synonyms": synonyms.get(c["name"], [])} for c in cats}


def make(n: int, vocab: dict[str, dict], rng: random.Random) -> tuple[list[Sample], list[str]]:
    """Samples of the four tasks with random answers, and outputs in the styles models use."""
    names = sorted(vocab)
    supers: dict[str, list[str]] = {}
    for c, v in vocab.items():
        supers.setdefault(v["supercategory"], []).append(c)
    samples, outputs = [], []
    for i in range(n):
        task = ("counting", "listing", "common", "odd_one")[i % 4]
        k = rng.randint(2, 8)
        spread = rng.randint(1, k)
        cat = rng.choice(names)
        if task == "counting":
            answer, said = rng.randint(0, 12), rng.randint(0, 12)
            output = rng.choice([str(said), f"There are {said} {cat}s.", f"1 in image 1 and {said} in image 2, so "
                                 f"{said + 1} in total", "I cannot tell."])
        elif task == "listing":
            members = supers[vocab[cat]["supercategory"]]
            answer = sorted(rng.sample(members, rng.randint(1, len(members))))
            said_items = rng.sample(members, rng.randint(1, len(members))) + rng.choice([[], ["unicorn"]])
            output = rng.choice([", ".join(said_items), "\n".join(f"- {x}s" for x in said_items), ""])
        else:
            answer = cat
            output = rng.choice([cat, f"The answer is a {cat}.", f"{cat} and {rng.choice(names)}", "none"])
        gt = ", ".join(answer) if isinstance(answer, list) else str(answer)
        samples.append(Sample(f"{task}-{i}", task, ["x.jpg"] * k, "question?", answer, gt, [cat],
                              {"n_images": k, "spread": spread, "distractors": k - spread,
                               "concepts": rng.randint(1, 3)}, "coco"))
        outputs.append(output)
    return samples, outputs


def main(n: int = 10_000) -> None:
    vocab = vocabulary()
    samples, outputs = make(n, vocab, random.Random(0))
    for official in (False, True):
        t0, c0 = time.perf_counter(), time.process_time()
        rows = [{"id": s.id, **score_output(s, o, vocab, official)} for s, o in zip(samples, outputs, strict=True)]
        t1, c1 = time.perf_counter(), time.process_time()
        build_scores(samples, rows, official, bootstrap=1000)
        t2, c2 = time.perf_counter(), time.process_time()
        mode = "official" if official else "default"
        print(f"{mode:8s} n={n}: score_output {t1 - t0:.2f} s wall / {c1 - c0:.2f} s CPU "
              f"({n / (c1 - c0):,.0f} answers/CPU-s); summarize (1000 bootstrap, 4 controls) "
              f"{t2 - t1:.2f} s wall / {c2 - c1:.2f} s CPU; total {t2 - t0:.2f} s wall")


def bootstrap_side_by_side(n: int = 10_000, replicates: int = 1000) -> None:
    """The distinct-row multinomial bootstrap (metrics._bootstrap_sums) against resampling n row indices."""
    rng = np.random.default_rng(0)
    x = np.stack([rng.integers(0, 2, n), rng.integers(0, 4, n), rng.integers(0, 5, n), np.ones(n)], 1).astype(float)
    t0 = time.process_time()
    idx = rng.integers(0, n, size=(replicates, n)) + (np.arange(replicates) * n)[:, None]
    naive = np.bincount(idx.ravel(), minlength=replicates * n).reshape(replicates, n) @ x
    t1 = time.process_time()
    fast = _bootstrap_sums(x, replicates, rng)
    t2 = time.process_time()
    assert naive.shape == fast.shape
    print(f"bootstrap sums, n={n}, B={replicates}: row indices {t1 - t0:.3f} CPU-s, distinct rows "
          f"{t2 - t1:.3f} CPU-s ({(t1 - t0) / max(t2 - t1, 1e-9):.0f}x)")


if __name__ == "__main__":
    bootstrap_side_by_side()
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
