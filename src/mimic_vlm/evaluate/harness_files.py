"""Prediction files as the harnesses users already run write them, read as `{bench id: raw output}`.

- ours: JSONL, one `{"id", "output"}` per line.
- lmms-eval `--log_samples` JSONL (one file per task): a row per doc with `filtered_resps` (0.7: a string;
  older: a list, with `resps`); the exported task's `process_results` nests `{"id", "output", ...}` under
  the metric's key, which is where the bench id is (the doc's own `id` is the fallback, the first filtered
  response the output). A request lmms-eval gave up on (`[LMMS_EVAL_REQUEST_FAILED ...]`, which it hands
  to the scorer as if it were the answer) is no prediction: the sample counts as missing.
- VLMEvalKit prediction tables (`vlmeval.run`: `<model>_<dataset>.xlsx`, or csv / tsv, and the `.pkl` of
  `{index: prediction}` it writes on the way): the `prediction` column, matched by the `id` column our
  export writes (kept by VLMEvalKit), else by `index`, the bench position the export gave each row.

Reading never guesses: a row that names no known sample, or a sample named twice, is an error naming the
file and the line or row.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from mimic_vlm import safe_pickle
from mimic_vlm.errors import MimicError, cannot_read, first_line
from mimic_vlm.store import Bench

TABLES = (".csv", ".tsv", ".xlsx", ".pkl")
LMMS_EVAL_FAILED = "[LMMS_EVAL_REQUEST_FAILED"


def read_outputs(bench: Bench, paths: Iterable[str | Path]) -> dict[str, str]:
    """id -> output over every file; a sample predicted in two places is an error."""
    outputs: dict[str, str] = {}
    known = bench.by_id()
    for path in map(Path, paths):
        rows = read_table(bench, path) if path.suffix.lower() in TABLES else read_jsonl_outputs(path)
        for where, sample_id, output in rows:
            if sample_id not in known:
                raise MimicError(f"{where}: id {sample_id!r} is not a sample of the bench {bench.root}")
            if sample_id in outputs:
                raise MimicError(f"{where}: duplicate id {sample_id!r}")
            outputs[sample_id] = output
    return outputs


def _lines(path: Path) -> list[bytes]:
    try:
        return path.read_bytes().splitlines()
    except OSError as e:
        raise cannot_read(e, path) from None


def read_jsonl_outputs(path: Path) -> list[tuple[str, str, str]]:
    """(where, id, output) per line of our JSONL or of lmms-eval's `--log_samples` JSONL."""
    lines = _lines(path)
    if not any(line.strip() for line in lines):
        raise MimicError(f"{path}: no predictions (the file is empty)")
    out = []
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            raise MimicError(f"{path}:{i}: invalid JSON ({e})") from None
        pair = line_prediction(row)
        if pair is not None and pair[1].startswith(LMMS_EVAL_FAILED):
            continue
        if pair is None:
            raise MimicError(f"{path}:{i}: a prediction needs a string 'id' and a string 'output' (or be an "
                             "lmms-eval --log_samples row of an exported task)")
        out.append((f"{path}:{i}", *pair))
    return out


def line_prediction(row: Any) -> tuple[str, str] | None:
    """(id, output) of one JSON line, ours or lmms-eval's; None when it is neither."""
    if not isinstance(row, dict):
        return None
    if isinstance(row.get("id"), str) and isinstance(row.get("output"), str):
        return row["id"], row["output"]
    if "doc_id" not in row or not ("resps" in row or "filtered_resps" in row):
        return None
    nested = [v for v in row.values() if isinstance(v, dict) and isinstance(v.get("id"), str)]
    doc = row["doc"] if isinstance(row.get("doc"), dict) else {}
    sample_id = nested[0]["id"] if nested else doc.get("id")
    output = nested[0].get("output") if nested else None
    if not isinstance(output, str):
        output = _first_text(row.get("filtered_resps", row.get("resps")))
    if not isinstance(sample_id, str) or output is None:
        return None
    return sample_id, output


def _first_text(value: Any) -> str | None:
    """`filtered_resps` is ["text"], `resps` is [["text"]]."""
    while isinstance(value, list) and value:
        value = value[0]
    return value if isinstance(value, str) else None


def read_table(bench: Bench, path: Path) -> list[tuple[str, str, str]]:
    """(where, id, output) per row of a VLMEvalKit prediction file."""
    if not path.is_file():
        raise MimicError(f"{path}: cannot read (no such file)")
    suffix = path.suffix.lower()
    if suffix == ".pkl":
        return _from_pickle(bench, path)
    import pandas as pd

    if suffix == ".xlsx":
        try:
            import openpyxl  # noqa: F401  (pandas' reader; an optional dependency: mimic-vlm[xlsx])
        except ImportError:
            raise MimicError(f"{path}: reading .xlsx needs openpyxl (pip install 'mimic-vlm[xlsx]'); or score the "
                             ".pkl or a csv/tsv of the same predictions") from None
        try:
            frame = pd.read_excel(path, dtype=str, keep_default_na=False, engine="openpyxl")
        except Exception as e:  # noqa: BLE001 - openpyxl raises from deep inside (BadZipFile, KeyError, XML errors)
            raise MimicError(f"{path}: not an xlsx workbook ({first_line(e)})") from None
    else:
        try:
            frame = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", dtype=str, keep_default_na=False,
                                encoding="utf-8-sig")  # a BOM is no part of the first column's name
        except (ValueError, pd.errors.ParserError) as e:
            raise MimicError(f"{path}: not a {suffix[1:]} table ({first_line(e)})") from None
    if frame.empty:
        raise MimicError(f"{path}: no predictions (the table has no rows)")
    if "prediction" not in frame.columns:
        raise MimicError(f"{path}: no 'prediction' column (a VLMEvalKit prediction file has one)")
    key = "id" if "id" in frame.columns else "index"
    if key not in frame.columns:
        raise MimicError(f"{path}: no 'id' or 'index' column to match rows to bench samples")
    out = []
    for row, (k, prediction) in enumerate(zip(frame[key], frame["prediction"], strict=True), 2):
        where = f"{path}: row {row}"
        out.append((where, k if key == "id" else _sample_at(bench, k, where), prediction))
    return out


def _sample_at(bench: Bench, index: Any, where: str) -> str:
    """The id of the sample the export wrote at `index` (its position in the bench)."""
    try:
        i = int(str(index))
    except ValueError:
        raise MimicError(f"{where}: index {index!r} is not a number") from None
    if not 0 <= i < len(bench.samples):
        raise MimicError(f"{where}: index {i} is not a sample of the bench {bench.root} "
                         f"({len(bench.samples)} samples)")
    return bench.samples[i].id


def _from_pickle(bench: Bench, path: Path) -> list[tuple[str, str, str]]:
    data = safe_pickle.load_file(path, "a VLMEvalKit prediction pickle")
    if not isinstance(data, dict):
        raise MimicError(f"{path}: expected a dict {{index: prediction}} (VLMEvalKit's .pkl)")
    return [(f"{path}: index {k}", _sample_at(bench, k, f"{path}: index {k}"), str(v)) for k, v in data.items()]
