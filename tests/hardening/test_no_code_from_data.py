"""issue 23 §1: no code from data. A payload planted in every reader (a prediction pickle, an xlsx, YAML
configs, JSON files, a model folder that declares its own code) runs nothing; each is refused or read as data."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from hardening_helpers import rows

from mimic_vlm import safe_pickle


class Payload:
    """Unpickling this runs a shell command that creates `marker`."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_prediction_pickle_runs_nothing(cli, bench_dir, tmp_path):
    marker = tmp_path / "RAN"
    pkl = tmp_path / "x.pkl"
    pkl.write_bytes(pickle.dumps({0: Payload(marker)}))
    cli("score", bench_dir, "--predictions", pkl, "--bootstrap", "10").one_error_line(
        str(pkl), "not a VLMEvalKit prediction pickle", "refused to load posix.system")
    assert not marker.exists()


@pytest.mark.parametrize("value", [{1: "a", "k": (1.5, None, True)}, [b"x", {1, 2}, frozenset({3})]])
def test_plain_values_still_load(value):
    assert safe_pickle.loads(pickle.dumps(value)) == value


def test_numpy_scalars_load_as_vlmevalkit_writes_them():
    import numpy as np

    assert safe_pickle.loads(pickle.dumps({np.int64(3): "b", np.float32(0.5): "c"})) == {3: "b", 0.5: "c"}


def test_every_other_global_is_refused():
    for value in (Path("x"), print, Payload(Path("x"))):
        with pytest.raises(pickle.UnpicklingError, match="refused to load"):
            safe_pickle.loads(pickle.dumps(value))


def test_an_xlsx_formula_is_never_evaluated(cli, bench_dir, tmp_path):
    """A cell's stored value is read (a formula never computed has none), never the formula run."""
    pytest.importorskip("openpyxl")
    import pandas as pd

    marker = tmp_path / "RAN"
    path = tmp_path / "p.xlsx"
    ids = [r["id"] for r in rows(bench_dir / "samples.jsonl")]
    formula = f"=cmd|' /C touch {marker}'!A0"
    pd.DataFrame({"id": ids, "prediction": [formula, "3"]}).to_excel(path, index=False)
    r = cli("score", bench_dir, "--predictions", path, "--bootstrap", "10", "--scored", tmp_path / "s")
    assert r.code == 0, r.err
    assert [x["output"] for x in rows(tmp_path / "s")] == ["", "3"] and not marker.exists()


def test_yaml_tags_run_nothing(cli, tmp_path):
    marker = tmp_path / "RAN"
    evil = tmp_path / "evil.yaml"
    evil.write_text(f'!!python/object/apply:os.system ["touch {marker}"]\n')
    data = tmp_path / "d.json"
    data.write_text("[]")
    for extra in (["--data", evil], ["--data", data, "--accelerate-config", evil]):
        r = cli("train", "--model", "tiny:qwen2_vl", "--out", tmp_path / "t", *extra)
        r.one_error_line(str(evil))
    assert not marker.exists() and not (tmp_path / "t").exists()


def test_json_strings_are_data(cli, bench_dir, tmp_path):
    """An answer or id that is Python code is parsed and scored as text, never evaluated."""
    marker = tmp_path / "RAN"
    code = f"__import__('os').system('touch {marker}')"
    preds = tmp_path / "p.jsonl"
    ids = [r["id"] for r in rows(bench_dir / "samples.jsonl")]
    preds.write_text("".join(json.dumps({"id": i, "output": code}) + "\n" for i in ids))
    assert cli("score", bench_dir, "--predictions", preds, "--bootstrap", "10").code == 0
    assert not marker.exists()


def test_a_model_folder_with_its_own_code_is_refused_even_with_yes_piped_in(bench_dir, tmp_path):
    """transformers asks `[y/N]` before running a folder's code and reads the answer from stdin: `echo y |`
    answered it. Its code is never run: the folder is refused."""
    from mimic_vlm.models import tiny

    marker = tmp_path / "RAN"
    folder = tmp_path / "evil_model"
    model, processor = tiny.build("qwen2_vl")
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    config = json.loads((folder / "config.json").read_text())
    config.update(model_type="evil_vlm", auto_map={"AutoConfig": "evil.EvilConfig",
                                                   "AutoModelForImageTextToText": "evil.EvilModel",
                                                   "AutoProcessor": "evil.EvilProcessor"})
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "evil.py").write_text(f"import pathlib\npathlib.Path({str(marker)!r}).touch()\n"
                                    "from transformers import PretrainedConfig as EvilConfig\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    r = subprocess.run([sys.executable, "-m", "mimic_vlm", "eval", str(bench_dir), "--model",
                        f"hf:{folder}", "--out", str(tmp_path / "run"), "--no-progress"], input="y\ny\ny\n",
                       capture_output=True, text=True, timeout=300, env=env)
    assert not marker.exists()
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert lines == [f"error: hf:{folder}: the model declares its own Python code (auto_map), which mimic never "
                     "runs; use a model whose architecture transformers ships"]
    assert not (tmp_path / "run").exists()
