"""Exports: HF parquet loads offline with datasets; the lmms-eval folder's YAML parses and its utils work
on a row (without lmms-eval); the VLMEvalKit TSV reads back with pandas to the same images and answers."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
import pytest
import yaml
from benchmark_files import load_exported_utils

from mimic_vlm import __version__
from mimic_vlm.bench.export import export_bench
from mimic_vlm.cli import main
from mimic_vlm.errors import MimicError
from mimic_vlm.evaluate.tasks import get_task
from mimic_vlm.store import Bench, load_bench
from mimic_vlm.suites.importer import import_benchmark


@pytest.fixture(scope="module")
def mirb(mirb_release: Path, tmp_path_factory: pytest.TempPathFactory) -> Bench:
    """A bench with two task kinds (mcq and open answers)."""
    out = tmp_path_factory.mktemp("mirb") / "mirb"
    import_benchmark("mirb", mirb_release, out)
    return load_bench(out)


def test_hf_parquet_loads_offline_with_datasets(mirb: Bench, tmp_path: Path) -> None:
    import datasets

    out = export_bench(mirb.root, "hf", tmp_path / "hf")
    assert sorted(p.name for p in (out / "data").iterdir()) == ["mcq.parquet", "open.parquet"]
    ds = datasets.load_dataset("parquet", data_files={"test": str(out / "data" / "open.parquet")}, split="test",
                               cache_dir=str(tmp_path / "cache"))
    assert ds.num_rows == 3 and isinstance(ds.features["images"].feature, datasets.Image)
    row = ds[0]
    sample = mirb.by_id()[row["id"]]
    assert [im.size for im in row["images"]] == [(6, 6)] * 3
    assert (row["question"], row["answer"], row["task"]) == (sample.question, "7", "open")
    assert row["prompt"] == get_task("open").prompt(sample) and row["max_new_tokens"] == 64
    assert json.loads(row["controls"]) == sample.controls
    # the dataset card's configs make the folder itself loadable
    one = datasets.load_dataset(str(out), "mcq", split="test", cache_dir=str(tmp_path / "cache"))
    assert one["id"] == ["mirb-codeu-0"]
    whole = datasets.load_dataset(str(out), split="test", cache_dir=str(tmp_path / "cache"))  # config `all`
    assert sorted(whole["id"]) == sorted(s.id for s in mirb.samples)


def _task_yaml(path: Path, utils: ModuleType) -> dict[str, Any]:
    """Parse a task YAML as lmms-eval does: `!function utils.fn` resolves to the hook."""
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("!function", lambda loader, node: getattr(utils, loader.construct_scalar(node).split(".")[1]))
    return yaml.load(path.read_text(), Loader=Loader)  # noqa: S506 - a SafeLoader subclass


def test_lmms_eval_task_folder(mirb: Bench, tmp_path: Path) -> None:
    import datasets

    exported = export_bench(mirb.root, "lmms-eval", tmp_path / "lmms", name="mirb-local")
    out = exported.rename(tmp_path / "moved")  # paths are relative to the task folder: it can move
    assert sorted(p.name for p in out.iterdir()) == ["data", "mimic_mirb_local.yaml", "mimic_mirb_local_mcq.yaml",
                                                     "mimic_mirb_local_open.yaml", "utils.py", "vocabulary.json"]
    utils = load_exported_utils(out)
    assert yaml.safe_load((out / "mimic_mirb_local.yaml").read_text()) == {
        "group": "mimic_mirb_local", "task": ["mimic_mirb_local_mcq", "mimic_mirb_local_open"]}
    assert "utils.parquet_open" in (out / "mimic_mirb_local_open.yaml").read_text()
    config = _task_yaml(out / "mimic_mirb_local_open.yaml", utils)
    assert config["task"] == "mimic_mirb_local_open" and config["doc_to_text"] is utils.doc_to_text
    assert config["generation_kwargs"] == {"max_new_tokens": 64, "temperature": 0, "do_sample": False}
    assert config["metric_list"] == [{"metric": "correct", "aggregation": utils.aggregate, "higher_is_better": True}]
    data_file = Path(config["dataset_kwargs"]["data_files"]["test"])
    assert data_file == (out / "data" / "open.parquet").resolve() and data_file.is_file()
    docs = datasets.load_dataset(config["dataset_path"], data_files=config["dataset_kwargs"]["data_files"],
                                 split=config["test_split"], cache_dir=str(tmp_path / "cache"))
    doc = docs[0]
    assert len(config["doc_to_visual"](doc)) == 3
    assert config["doc_to_text"](doc) == "How many birds?\nAnswer with a single number."
    assert config["doc_to_text"](doc, {"pre_prompt": "<", "post_prompt": ">"}).startswith("<How many birds?")
    right = config["process_results"](doc, ["There are 7 birds."])["correct"]
    wrong = config["process_results"](docs[1], ["no idea"])["correct"]
    assert (right["correct"], wrong["correct"], right["controls"]) == (1.0, 0.0, {"subset": "count", "n_images": 3})
    assert config["metric_list"][0]["aggregation"]([right, wrong]) == 0.5


def test_lmms_eval_utils_says_at_load_time_that_mimic_vlm_is_missing(mirb: Bench, tmp_path: Path) -> None:
    """lmms-eval imports utils.py while it reads the YAMLs: without mimic-vlm that import fails with the fix."""
    import subprocess
    import sys

    out = export_bench(mirb.root, "lmms-eval", tmp_path / "lmms")
    load = ("import importlib.util, sys; s = importlib.util.spec_from_file_location('utils', sys.argv[1]); "
            "m = importlib.util.module_from_spec(s); s.loader.exec_module(m); print(m.parquet_mcq)")
    bare = subprocess.run([sys.executable, "-I", "-S", "-c", load, str(out / "utils.py")], capture_output=True,
                          text=True, env={})  # -S: no site-packages, so no mimic_vlm
    assert bare.returncode == 1
    assert bare.stderr.strip().splitlines()[-1] == (
        f"ImportError: {out.resolve()}: this lmms-eval task folder was exported by mimic-vlm {__version__} and scores with "
        "it; install it where lmms-eval runs (pip install mimic-vlm) and run again")
    ok = subprocess.run([sys.executable, "-c", load, str(out / "utils.py")], capture_output=True, text=True)
    assert ok.stdout.strip() == str((out / "data" / "mcq.parquet").resolve()), ok.stderr


def test_vlmevalkit_tsv_round_trip(mirb: Bench, tmp_path: Path) -> None:
    out = export_bench(mirb.root, "vlmevalkit", tmp_path / "vlm")
    frame = pd.read_csv(out / "mirb.tsv", sep="\t")
    assert list(frame.columns) == ["index", "id", "task", "image", "question", "answer", "category",
                                   "control_n_images", "control_subset"]
    assert list(frame["index"]) == [0, 1, 2, 3]
    for row in frame.to_dict("records"):
        sample = mirb.by_id()[row["id"]]
        images = json.loads(row["image"]) if row["image"].startswith("[") else [row["image"]]
        assert [base64.b64decode(b) for b in images] == [p.read_bytes() for p in mirb.image_paths(sample)]
        assert (str(row["answer"]), row["category"]) == (str(sample.answer), sample.controls["subset"])
        assert row["question"] == (get_task(sample.task).prompt(sample))


def test_vlmevalkit_mcq_columns(muirbench_release: Path, tmp_path: Path) -> None:
    import_benchmark("muirbench", muirbench_release, tmp_path / "muir")
    out = export_bench(tmp_path / "muir", "vlmevalkit", tmp_path / "vlm")
    frame = pd.read_csv(out / "muir.tsv", sep="\t", keep_default_na=False)
    row = frame.set_index("id").loc["muirbench-test_Counting_1"]
    assert (row["A"], row["B"], row["C"], row["D"], row["answer"]) == ("0", "5", "", "", "A")
    assert row["question"] == "How many cats are there?" and row["category"] == "Counting"
    assert row["image"][:4] == "iVBO"  # one image: plain base64 (a PNG)


def test_export_errors(mirb: Bench, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(MimicError, match="--format 'csv'"):
        export_bench(mirb.root, "csv", tmp_path / "x")
    main(["export", str(mirb.root), "--format", "hf", "--out", str(tmp_path / "x")])
    assert "README.md" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["export", str(mirb.root), "--format", "hf", "--out", str(tmp_path / "x")])


def test_lmms_eval_export_of_a_mimic_bench_scores_with_the_vocabulary(tmp_path: Path) -> None:
    import datasets
    from benchmark_files import mimic_bench

    bench = load_bench(mimic_bench(tmp_path / "mimic"))
    out = export_bench(bench.root, "lmms-eval", tmp_path / "lmms")
    utils = load_exported_utils(out)
    assert json.loads((out / "vocabulary.json").read_text()) == bench.vocabulary
    config = _task_yaml(out / "mimic_mimic_listing.yaml", utils)
    assert config["metric_list"][0]["metric"] == "micro_f1"
    docs = datasets.load_dataset("parquet", data_files=config["dataset_kwargs"]["data_files"], split="test",
                                 cache_dir=str(tmp_path / "cache"))
    assert config["doc_to_text"](docs[0]) == get_task("listing").prompt(bench.by_id()[docs[0]["id"]])
    # "kitten" is a synonym of cat: both items found in one answer; the other answer finds one of two
    rows = [config["process_results"](docs[0], ["kitten and dog"])["micro_f1"],
            config["process_results"](docs[1], ["dog"])["micro_f1"]]
    assert (rows[0]["tp"], rows[1]["tp"]) == (2, 1)
    assert config["metric_list"][0]["aggregation"](rows) == pytest.approx(2 * 3 / (3 + 4))
