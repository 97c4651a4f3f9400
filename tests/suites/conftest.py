"""Small releases of the six benchmarks, written in each one's PUBLISHED layout and field names.

- MuirBench: `data/test-*.parquet`, `image_list` (list of embedded images), `options` list, letter answers.
- BLINK: one folder per sub-task, `val-*.parquet` + `test-*.parquet`, `image_1..image_4` (unused = null),
  `choices`, answers like "(A)", `prompt`, `explanation`.
- MMIU: one json list, `input_image_path` relative to the json, image folders per relationship type,
  `options` as ONE string "A: …\\nB: …", `output` letter (one outside the options, one image missing).
- MIRB: `data/test-*.parquet`, `subset`, `questions`, `answers`, `image_list`, `question_id`.
- Mantis-Eval: `mantis_eval/test-*.parquet`, `question_type`, `images`, options written with labels.
- NLVR2: the original `dev.json` (JSON lines: `identifier`, `sentence`, `label`) + `dev/<pair>-img0.png`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from benchmark_files import S, png, write_parquet  # noqa: F401
from datasets import Features, Image, List

from mimic_vlm.suites.loaders import BLINK_SUBTASKS


@pytest.fixture(scope="session")
def muirbench_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("MUIRBENCH")
    rows = {
        "idx": ["test_Counting_0", "test_Counting_1", "test_Image-Text_Matching_0", "test_Ordering_0"],
        "task": ["Counting", "Counting", "Image-Text Matching", "Ordering"],
        "image_relation": ["Independent", "Independent", "Independent", "Temporal"],
        "image_type": ["Photography", "Photography", "Photography", "Frames"],
        "question": ["How many dogs are in <image> and <image> together?", "How many cats are there?",
                     "Which image shows a red car?", "Order the frames <image> <image> <image>."],
        "options": [["1", "2", "3", "4"], ["0", "5"], ["<image>", "<image>", "None of the choices provided"],
                    ["1-2-3", "3-2-1", "2-1-3"]],
        "answer": ["C", "A", "B", "A"],
        "image_list": [[png(1), png(2)], [png(3)], [png(4), png(5)], [png(6), png(7), png(8)]],
        "counterpart_idx": ["test_Counting_5", None, None, "test_Ordering_9"],
    }
    feats = Features({"idx": S, "task": S, "image_relation": S, "image_type": S, "question": S,
                      "options": List(S), "answer": S, "image_list": List(Image()), "counterpart_idx": S})
    write_parquet(root / "data" / "test-00000-of-00001.parquet", rows, feats)
    return root


@pytest.fixture(scope="session")
def blink_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("BLINK")
    feats = Features({"idx": S, "question": S, "sub_task": S, **{f"image_{i}": Image() for i in range(1, 5)},
                      "choices": List(S), "answer": S, "prompt": S, "explanation": S})
    for t, sub in enumerate(BLINK_SUBTASKS):
        for split in ("val", "test"):
            n_images = 1 + t % 4
            rows = {"idx": [f"{split}_{sub}_{i}" for i in (1, 2)],
                    "question": [f"{sub} question {i}?" for i in (1, 2)],
                    "sub_task": [sub, sub],
                    **{f"image_{k}": [png(t * 8 + k + i) if k <= n_images else None for i in (0, 1)]
                       for k in range(1, 5)},
                    "choices": [["left", "right"], ["yes", "no", "maybe"]],
                    "answer": ["(A)", "(C)"] if split == "val" else ["hidden", "hidden"],
                    "prompt": [f"{sub} question {i}?\nSelect from the following choices.\n(A) ...\n(B) ..."
                               for i in (1, 2)],
                    "explanation": ["", ""]}
            write_parquet(root / sub / f"{split}-00000-of-00001.parquet", rows, feats)
    return root


@pytest.fixture(scope="session")
def mmiu_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("MMIU")
    records = []
    for i in range(4):
        rel = "Low-level-semantic" if i < 2 else "Temporal"
        task = "forensic_detection_blink" if i < 2 else "temporal_ordering"
        paths = [f"./{rel}/{task}/{task}_{i}_{k}.jpg" for k in range(2)]
        for k, p in enumerate(paths):
            if i == 3 and k == 1:
                continue  # a released item whose second image is missing
            (root / p).parent.mkdir(parents=True, exist_ok=True)
            png(10 * i + k).save(root / p, format="JPEG")
        records.append({"task": task, "visual_input_component": "natural image", "source": "blink",
                        "context": "You are given several images." if i == 0 else "",
                        "question": f"Which image is real? ({i})",
                        "options": "A: the first image\nB: the second image\nC: both\nD: neither",
                        "input_image_path": paths,
                        "output": "E" if i == 2 else "AB"[i % 2]})
    (root / "all.json").write_text(json.dumps(records))
    return root


@pytest.fixture(scope="session")
def mirb_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("MIRB")
    rows = {"subset": ["codeu", "count", "arxiv", "count"],
            "questions": ["Which code prints 3?\nA. print(1)\nB. print(3)\nC. print(2)", "How many birds?",
                          "Which paper do these figures come from?", "How many boats?"],
            "answers": ["B", "7", "Attention Is All You Need", "12"],
            "image_list": [[png(1), png(2)], [png(3), png(4), png(5)], [png(6)], [png(7), png(8)]],
            "question_id": ["0", "0", "0", "1"]}
    feats = Features({"subset": S, "questions": S, "answers": S, "image_list": List(Image()), "question_id": S})
    write_parquet(root / "data" / "test-00000-of-00001.parquet", rows, feats)
    return root


@pytest.fixture(scope="session")
def mantis_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("Mantis-Eval")
    rows = {"id": ["1", "2", "3"], "question_type": ["multi-choice", "multi-choice", "short-answer"],
            "question": ["<image> <image> Are these the same dog?", "Which image is brighter?",
                         "<image> <image> What colour is the car in both images?"],
            "images": [[png(1), png(2)], [png(3), png(4)], [png(5), png(6)]],
            "options": [["(A) yes", "(B) no"], ["A. first", "B. second", "C. equal"], []],
            "answer": ["(B)", "A", "red"],
            "data_source": ["mantis", "mantis", "mantis"], "category": ["similarity", "brightness", "colour"]}
    feats = Features({"id": S, "question_type": S, "question": S, "images": List(Image()), "options": List(S),
                      "answer": S, "data_source": S, "category": S})
    write_parquet(root / "mantis_eval" / "test-00000-of-00001.parquet", rows, feats)
    return root


@pytest.fixture(scope="session")
def nlvr2_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two sentences, each paired with two image pairs (identifier = split-set-pair-sentence)."""
    root = tmp_path_factory.mktemp("nlvr2")
    lines = []
    for set_id in (10, 11):
        for pair in (0, 1):
            ident = f"dev-{set_id}-{pair}-0"
            lines.append({"identifier": ident, "sentence": f"There are {set_id - 8} dogs in total.",
                          "label": "True" if pair == 0 else "False", "synset": "dog", "query": "dogs"})
            for k in (0, 1):
                (root / "dev").mkdir(exist_ok=True)
                png(set_id * 4 + pair * 2 + k).save(root / "dev" / f"dev-{set_id}-{pair}-img{k}.png")
    (root / "dev.json").write_text("".join(json.dumps(x) + "\n" for x in lines))
    (root / "train.json").write_text(json.dumps(lines[0]) + "\n")  # another split: must be ignored
    return root
