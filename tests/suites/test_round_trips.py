"""Round trips with the harnesses: export a bench, let the harness's own file formats carry the answers back
(lmms-eval `--log_samples` rows built by the exported hooks, VLMEvalKit prediction tables built the way
`vlmeval.run` writes them), and `mimic score` gives exactly the scores of our own predictions file."""

from __future__ import annotations

import json
import pickle
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import yaml
from benchmark_files import load_exported_utils, mimic_bench

from mimic_vlm.bench.export import export_bench
from mimic_vlm.cli import main
from mimic_vlm.errors import MimicError
from mimic_vlm.evaluate.score import score_predictions
from mimic_vlm.store import Bench, load_bench
from mimic_vlm.suites.importer import import_benchmark

REPLIES = ["There are 7 birds.", "B", "(A)", "no idea", "kitten and dog", "3", "dog", "cat, dog", "2"]


@pytest.fixture(scope="module")
def benches(mirb_release: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Bench]:
    root = tmp_path_factory.mktemp("benches")
    import_benchmark("mirb", mirb_release, root / "mirb")
    return [load_bench(root / "mirb"), load_bench(mimic_bench(root / "mimic"))]


def _ours(bench: Bench, path: Path) -> Path:
    path.write_text("".join(json.dumps({"id": s.id, "output": REPLIES[i % len(REPLIES)]}) + "\n"
                            for i, s in enumerate(bench.samples)))
    return path


def _log_samples(bench: Bench, folder: Path, out: Path) -> list[Path]:
    """One `<task>_samples.jsonl` per task, rows shaped as lmms-eval logs them (doc without images)."""
    import datasets

    utils = load_exported_utils(folder)
    replies = {s.id: REPLIES[i % len(REPLIES)] for i, s in enumerate(bench.samples)}
    files = []
    for task_yaml in sorted(folder.glob("mimic_*_*.yaml")):
        config = yaml.safe_load(task_yaml.read_text().replace("!function ", ""))
        task = config["task"].rsplit("_", 1)[-1] if not config["task"].endswith("odd_one") else "odd_one"
        docs = datasets.load_dataset("parquet", data_files=getattr(utils, f"parquet_{task}"), split="train",
                                     cache_dir=str(out / "cache"))
        metric = config["metric_list"][0]["metric"]
        rows = []
        for i, doc in enumerate(docs):
            reply = replies[doc["id"]]
            result = utils.process_results(doc, [reply])
            rows.append({"doc_id": i, "doc": {k: v for k, v in doc.items() if k != "images"}, "target": doc["gt"],
                         "arguments": [[utils.doc_to_text(doc), {"max_new_tokens": 16}]], "resps": [[reply]],
                         "filtered_resps": [reply], metric: result[metric], "doc_hash": "x"})
        path = out / f"{config['task']}_samples.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        files.append(path)
    return files


@pytest.mark.parametrize("which", [0, 1], ids=["mirb", "mimic"])
def test_lmms_eval_log_samples_score_like_our_predictions(benches, which, tmp_path):
    bench = benches[which]
    folder = export_bench(bench.root, "lmms-eval", tmp_path / "lmms")
    logs = _log_samples(bench, folder, tmp_path)
    assert len(logs) == len({s.task for s in bench.samples})
    for official in (False, True):
        rows, scores = score_predictions(bench, logs, official=official, bootstrap=50)
        mine, expected = score_predictions(bench, _ours(bench, tmp_path / "p.jsonl"), official=official, bootstrap=50)
        assert rows == mine and scores == expected
    assert _run(["score", str(bench.root), *[a for p in logs for a in ("--predictions", str(p))],
                 "--out", str(tmp_path / "s.json"), "--bootstrap", "0"]) == 0


def _vlmeval_predictions(bench: Bench, tmp_path: Path) -> pd.DataFrame:
    """What `vlmeval.run` writes: the dataset TSV as VLMEvalKit loads it, minus `image`, plus `prediction`."""
    export_bench(bench.root, "vlmevalkit", tmp_path / "vlm")
    data = pd.read_csv(next((tmp_path / "vlm").glob("*.tsv")), sep="\t")  # VLMEvalKit's own reader
    data["prediction"] = [REPLIES[int(i) % len(REPLIES)] for i in data["index"]]
    return data.drop(columns=["image"])


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".xlsx", ".pkl", ".tsv-without-id"])
def test_vlmevalkit_prediction_files_score_like_our_predictions(benches, suffix, tmp_path):
    bench = benches[0]
    data = _vlmeval_predictions(bench, tmp_path)
    path = tmp_path / f"model_mirb{suffix.split('-')[0]}"
    if suffix == ".csv":
        data.to_csv(path, index=False)
    elif suffix == ".xlsx":  # vlmeval.run's default result file
        data.to_excel(path, index=False)
    elif suffix == ".pkl":
        path.write_bytes(pickle.dumps(dict(zip(data["index"], data["prediction"], strict=True))))
    else:  # matched by index (the bench position) when the id column is gone
        data.drop(columns=["id"] if "without" in suffix else []).to_csv(path, sep="\t", index=False)
    rows, scores = score_predictions(bench, path, bootstrap=50)
    mine, expected = score_predictions(bench, _ours(bench, tmp_path / "p.jsonl"), bootstrap=50)
    assert rows == mine and scores == expected


def test_vlmevalkit_xlsx_without_openpyxl_is_one_error(benches, tmp_path, monkeypatch):
    path = tmp_path / "model_mirb.xlsx"
    _vlmeval_predictions(benches[0], tmp_path).to_excel(path, index=False)
    monkeypatch.setitem(sys.modules, "openpyxl", None)  # what `import openpyxl` meets where it is not installed
    with pytest.raises(MimicError, match=r"model_mirb.xlsx: reading .xlsx needs openpyxl \(pip install "
                                         r"'mimic-vlm\[xlsx\]'\)"):
        score_predictions(benches[0], path)


@pytest.mark.parametrize(("content", "message"), [
    (b"PK", "not an xlsx workbook (File is not a zip file)"),
    ("zip", "not an xlsx workbook (\"There is no item named '[Content_Types].xml' in the archive\")"),
])
def test_a_broken_xlsx_is_one_error(benches, tmp_path, content, message):
    path = tmp_path / "model_mirb.xlsx"
    if content == "zip":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("notes.txt", "not a workbook")
    else:
        path.write_bytes(content)
    with pytest.raises(MimicError) as e:
        score_predictions(benches[0], path)
    assert str(e.value) == f"{path}: {message}"


@pytest.mark.parametrize(("content", "message"), [
    ("index\tprediction\n7\tB\n", "row 2: index 7 is not a sample of the bench"),
    ("index\tanswer\n0\tB\n", "no 'prediction' column"),
    ("id\tprediction\nnope\tB\n", "row 2: id 'nope' is not a sample"),
    ("index\tprediction\n0\tB\n0\tC\n", "row 3: duplicate id 'mirb-"),
])
def test_vlmevalkit_table_errors(benches, tmp_path, content, message):
    path = tmp_path / "t.tsv"
    path.write_text(content)
    with pytest.raises(MimicError, match=message):
        score_predictions(benches[0], path)


def _run(args: list[str]) -> int:
    with pytest.raises(SystemExit) as e:
        main(args)
        raise SystemExit(0)
    return e.value.code


def test_vlmevalkit_export_numbers_image_markers(muirbench_release: Path, tmp_path: Path) -> None:
    """VLMEvalKit puts every image first: markers become `[image k]`, counted across question and options."""
    import_benchmark("muirbench", muirbench_release, tmp_path / "muir")
    out = export_bench(tmp_path / "muir", "vlmevalkit", tmp_path / "vlm")
    frame = pd.read_csv(out / "muir.tsv", sep="\t").set_index("id")
    assert frame.loc["muirbench-test_Counting_0", "question"] == "How many dogs are in [image 1] and [image 2] together?"
    row = frame.loc["muirbench-test_Image-Text_Matching_0"]
    assert (row["question"], row["A"], row["B"]) == ("Which image shows a red car?", "[image 1]", "[image 2]")
    assert not any("<image>" in str(v) for v in frame.to_numpy().ravel())


def test_lmms_eval_request_failures_count_as_missing(benches, tmp_path):
    """lmms-eval hands a request it gave up on to the scorer as text: no answer (and not the count 5)."""
    bench = benches[1]
    utils = load_exported_utils(export_bench(bench.root, "lmms-eval", tmp_path / "lmms"))
    failed = "[LMMS_EVAL_REQUEST_FAILED after 5 retries] Connection refused"
    s = next(x for x in bench.samples if x.task == "counting")
    (scored,) = utils.process_results({"sample": json.dumps(s.to_dict())}, [failed]).values()
    assert (scored["unparsed"], scored["parsed"], scored["output"]) == (True, None, failed)
    log = tmp_path / "log.jsonl"
    log.write_text(json.dumps({"doc_id": 0, "filtered_resps": failed, "correct": scored}) + "\n")
    rows, scores = score_predictions(bench, log, bootstrap=0)
    assert scores["overall"]["n_missing"] == len(bench.samples)
