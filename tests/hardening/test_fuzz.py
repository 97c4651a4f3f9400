"""issue 11: seeded fuzzing of every file a user hands the tool. Malformed samples.jsonl, predictions, run
folders, training data and annotation files (random truncation, wrong types, missing fields, plus extra
fields) fed to validate, eval (a baseline), score, report, export, train and generate: each exits 2 with one
`error:` line and no traceback, and writes nothing. In-process `cli.main` calls, so it takes seconds."""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hardening_helpers import rows

SEEDS = range(4)
WRONG = {  # per field: values of a wrong type or shape (each one invalid for that field)
    "id": [5, None, "", [], {}], "task": [5, None, [], {}], "question": [5, None, [], {}], "gt": [3, None, []],
    "source": [1, [], {}], "images": ["images/img_0.png", None, 5, [5], {}, [["images/img_0.png"]]],
    "answer": ["three", None, -1, True, [1], 2.5, {}], "targets": ["dog", 5, [1], None],
    "controls": [[], 5, "x", None], "image_objects": [{}, [5], [{"dog": "2"}], "x", [{"dog": 1.5}]],
    "image_uncertain": [[5], "x", [[1]], {}], "options": ["A", [1], 5, {}],
}
REQUIRED = ["id", "task", "images", "question", "answer", "gt"]


def _truncate(rng: random.Random, text: str) -> str:
    """Cut one line strictly inside (a strict prefix of a JSON object is never valid JSON)."""
    lines = text.splitlines()
    i = rng.randrange(len(lines))
    lines[i] = lines[i][: rng.randrange(1, len(lines[i]) - 1)]
    return "\n".join(lines[: i + 1]) + ("\n" if rng.random() < 0.5 else "")


def _extra(rng: random.Random, row: dict[str, Any]) -> None:
    for k in range(rng.randrange(3)):
        row[f"x_{k}_{rng.randrange(99)}"] = rng.choice([1, "x", None, [1, {"a": 2}], {"n": [True]}])


def mutate_samples(rng: random.Random, text: str) -> tuple[str, str]:
    """(kind, new text): one breaking change, and extra fields that must not hide it."""
    data = [json.loads(x) for x in text.splitlines()]
    kind = rng.choice(["truncate", "wrong type", "missing", "not an object", "empty"])
    if kind == "truncate":
        return kind, _truncate(rng, text)
    if kind == "empty":
        return kind, rng.choice(["", "\n", "\n\n  \n"])
    row = rng.choice(data)
    _extra(rng, row)
    if kind == "wrong type":
        field = rng.choice(sorted(WRONG))
        row[field] = rng.choice(WRONG[field])
    elif kind == "missing":
        del row[rng.choice(REQUIRED)]
    else:
        data[data.index(row)] = rng.choice([[row], "a string", 5, None])
    return kind, "".join(json.dumps(r) + "\n" for r in data)


def mutate_predictions(rng: random.Random, text: str) -> tuple[str, str]:
    data = [json.loads(x) for x in text.splitlines()]
    kind = rng.choice(["truncate", "wrong type", "missing", "not an object", "unknown id", "duplicate", "empty"])
    if kind == "truncate":
        return kind, _truncate(rng, text)
    if kind == "empty":
        return kind, ""
    row = rng.choice(data)
    _extra(rng, row)
    if kind == "wrong type":
        row[rng.choice(["id", "output"])] = rng.choice([5, None, [], {}, True])
    elif kind == "missing":
        del row[rng.choice(["id", "output"])]
    elif kind == "not an object":
        data[data.index(row)] = rng.choice([[row], "x", 1])
    elif kind == "unknown id":
        row["id"] = f"nope-{rng.randrange(1000)}"
    else:
        data.append(dict(row))
    return kind, "".join(json.dumps(r) + "\n" for r in data)


def _json_mutation(rng: random.Random, text: str, paths: list[tuple[str, ...]], wrong: list[Any]) -> tuple[str, str]:
    """Truncate a JSON file, or give one of the listed (nested) keys a wrong value, or delete it."""
    kind = rng.choice(["truncate", "wrong type", "missing", "top level"])
    if kind == "truncate":
        return kind, text[: rng.randrange(1, len(text) - 2)]
    obj = json.loads(text)
    if kind == "top level":
        return kind, json.dumps(rng.choice([[], "x", 5, None, [obj]]))
    path = rng.choice(paths)
    node = obj
    for key in path[:-1]:
        node = node[key] if not isinstance(node, list) else node[int(key)]
    if kind == "wrong type":
        node[path[-1]] = rng.choice(wrong)
    else:
        del node[path[-1]]
    return kind, json.dumps(obj)


# ------------------------------------------------------------------ fixtures: one of each real input


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, Path]:
    """A generated toy bench, an oracle run over it, a predictions file, training data and COCO annotations."""
    from mimic_vlm.cli import main

    root = tmp_path_factory.mktemp("fuzz")

    def ok(*argv: Any) -> None:
        try:
            main([str(a) for a in argv])
        except SystemExit as e:
            assert not e.code, argv

    ok("toy", "--out", root / "world", "--toy-images", "12", "--seed", "1")
    ok("generate", "--source", "coco", "--annotations", root / "world" / "annotations.json", "--images-dir",
       root / "world" / "images", "--count", "2", "--task", "counting", "--n-images", "2-3", "--out",
       root / "bench", "--copy-images")
    ok("eval", root / "bench", "--model", "oracle", "--out", root / "run", "--no-progress")
    preds = root / "predictions.jsonl"
    preds.write_text("".join(json.dumps({"id": r["id"], "output": r["output"]}) + "\n"
                             for r in rows(root / "run" / "predictions.jsonl")))
    img = next((root / "bench" / "images").iterdir())
    (root / "train").mkdir()
    shutil.copy(img, root / "train" / "a.png")
    (root / "train" / "d.json").write_text(json.dumps([
        {"id": f"t{i}", "image": ["a.png"], "conversations": [{"from": "human", "value": "<image>\nHow many?"},
                                                              {"from": "gpt", "value": "2"}]} for i in range(3)]))
    return {"root": root, "bench": root / "bench", "run": root / "run", "predictions": preds,
            "train": root / "train" / "d.json", "coco": root / "world" / "annotations.json",
            "images": root / "world" / "images"}


def _copy_bench(world: dict[str, Path], dst: Path) -> Path:
    shutil.copytree(world["bench"], dst, symlinks=True)
    return dst


Case = Callable[[dict[str, Path], Path, random.Random], tuple[str, list[Any], Path]]


def bench_case(command: str) -> Case:
    def case(world: dict[str, Path], tmp: Path, rng: random.Random) -> tuple[str, list[Any], Path]:
        bench = _copy_bench(world, tmp / "bench")
        kind, text = mutate_samples(rng, (bench / "samples.jsonl").read_text())
        (bench / "samples.jsonl").write_text(text)
        out = tmp / "out"
        argv = {"validate": ["validate", bench],
                "eval": ["eval", bench, "--model", rng.choice(["chance", "prior", "single-image",
                                                                          "oracle"]), "--out", out],
                "score": ["score", bench, "--predictions", world["predictions"], "--out", out],
                "export": ["export", bench, "--format", rng.choice(["vlmevalkit", "lmms-eval", "hf"]), "--out", out],
                }[command]
        return kind, argv, out

    return case


def predictions_case(world, tmp, rng):
    kind, text = mutate_predictions(rng, world["predictions"].read_text())
    (tmp / "p.jsonl").write_text(text)
    return kind, ["score", world["bench"], "--predictions", tmp / "p.jsonl", "--out", tmp / "out"], \
        tmp / "out"


def report_case(world, tmp, rng):
    run = tmp / "run"
    shutil.copytree(world["run"], run)
    target = rng.choice(["scores.json", "run.json", "predictions.jsonl"])
    text = (run / target).read_text()
    if target == "predictions.jsonl":
        kind, text = mutate_predictions(rng, text)
        kind = "predictions: " + kind
        if kind.endswith(("unknown id", "duplicate", "empty")):  # a report reads predictions as they are
            kind, text = "predictions: truncate", _truncate(rng, (run / target).read_text())
    elif target == "scores.json":
        kind, text = _json_mutation(rng, text, [("tasks",), ("tasks", "counting"), ("overall",),
                                                ("tasks", "counting", "metrics"), ("tasks", "counting", "n"),
                                                ("tasks", "counting", "headline")], [5, "x", [], None, [1, 2]])
    else:  # run.json's keys are optional (a run folder made elsewhere may lack them): only wrong shapes
        kind, text = _json_mutation(rng, text, [("settings",), ("settings", "model")], [5, [], "x"])
        if kind == "missing":
            kind, text = "truncate", text[: rng.randrange(1, len(text) - 2)]
    (run / target).write_text(text)
    return f"{target}: {kind}", ["report", run, world["run"], "--out", tmp / "out"], tmp / "out"


def train_case(world, tmp, rng):
    shutil.copy(world["train"].parent / "a.png", tmp / "a.png")
    paths = [("0", "image"), ("0", "conversations"), ("1", "conversations", "0", "value"),
             ("2", "conversations", "1", "from"), ("0", "id")]
    kind, text = _json_mutation(rng, world["train"].read_text(), paths[:4], [5, {}, [5], None, [[1]], True])
    (tmp / "d.json").write_text(text)
    return kind, ["train", "--model", "tiny:qwen2_vl", "--data", tmp / "d.json", "--out", tmp / "out"], tmp / "out"


def annotations_case(world, tmp, rng):
    paths = [("images",), ("annotations",), ("categories",), ("images", "0", "id"), ("images", "1", "file_name"),
             ("annotations", "0", "image_id"), ("annotations", "1", "category_id"), ("annotations", "2", "bbox"),
             ("categories", "0", "id"), ("categories", "1", "name")]
    kind, text = _json_mutation(rng, world["coco"].read_text(), paths, ["x", None, {}, [[1]], -5.5, [1, "a"]])
    (tmp / "a.json").write_text(text)
    return kind, ["generate", "--source", "coco", "--annotations", tmp / "a.json", "--images-dir", world["images"],
                  "--count", "2", "--task", "counting", "--n-images", "2-3", "--out", tmp / "out"], tmp / "out"


CASES: dict[str, Case] = {
    "validate": bench_case("validate"), "eval": bench_case("eval"), "score-bench": bench_case("score"),
    "export": bench_case("export"), "score-predictions": predictions_case, "report": report_case,
    "train": train_case, "generate": annotations_case,
}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_input_is_one_line_and_exit_2(world, tmp_path, cli, name, seed):
    rng = random.Random(f"{name}-{seed}")
    for k in range(2):
        tmp = tmp_path / str(k)
        tmp.mkdir()
        kind, argv, out = CASES[name](world, tmp, rng)
        r = cli(*argv)
        assert r.code == 2, (name, kind, r.code, r.err[-2000:])
        r.one_error_line()
        assert not out.exists(), (name, kind)
