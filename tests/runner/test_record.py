"""run.json as one typed record: what the runner writes reads back the same; hand-made files are read as written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mimic_vlm.errors import MimicError
from mimic_vlm.evaluate.record import RUN_JSON, RunRecord, is_eval_run, read_run


def test_written_record_reads_back_identically(tmp_path: Path) -> None:
    record = RunRecord({"model": {"kind": "baseline", "model": "oracle"}, "bench_manifest_hash": "abc"},
                       {"batch_size": 8, "world_size": 1}, {"counting": "How many?"}, "/b", "0.1", 2, ["mimic"])
    record.write(tmp_path)
    written = json.loads((tmp_path / RUN_JSON).read_text())
    assert set(written) == {"settings", "runtime", "prompt_examples", "bench", "mimic_version", "permutations",
                           "command"}
    assert read_run(tmp_path) == record and is_eval_run(written)
    assert record.model == {"kind": "baseline", "model": "oracle"} and record.manifest_hash == "abc"
    assert record.bench_path == Path("/b") and record.bench_name == "b"
    assert "permutations" not in RunRecord({}).to_dict() and read_run(tmp_path / "none") is None


def test_hand_made_record_keeps_its_own_keys() -> None:
    record = RunRecord.from_dict({"model": {"model": "m"}, "bench": {"name": "mine"}, "note": 1})
    assert record.model == {"model": "m"} and record.bench_name == "mine" and record.bench_path is None
    assert record.extra == {"model": {"model": "m"}, "note": 1} and not is_eval_run(record.to_dict() | {"settings": 1})
    with pytest.raises(MimicError, match=r"^x/run.json: not a mimic run file \(an object whose 'settings' and "):
        RunRecord.from_dict({"settings": []}, "x/run.json")
