"""A real 2-process run (torchrun, CPU gloo): ranks shard the samples, rank 0 merges; same lines as 1 process."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

from mimic_vlm.evaluate.runner import run_eval
from mimic_vlm.models.registry import load_model
from mimic_vlm.store import load_bench


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _lines(path: Path) -> list[dict]:
    return [{k: v for k, v in json.loads(line).items() if k != "latency_s"} for line in path.read_text().splitlines()]


def test_two_ranks_shard_and_merge_like_one_process(bench_dir: Path, tmp_path: Path) -> None:
    bench = load_bench(bench_dir)
    run_eval(bench, load_model("chance", bench=bench), tmp_path / "one")
    torchrun = Path(sys.executable).with_name("torchrun")
    done = subprocess.run([str(torchrun), "--nproc-per-node", "2", "--master-addr", "127.0.0.1", "--master-port",
                           str(_free_port()), "-m", "mimic_vlm", "eval", str(bench_dir), "--model", "chance",
                           "--out", str(tmp_path / "two"), "--no-progress"], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["predictions.jsonl", "run.json", "scores.json"]
    assert _lines(tmp_path / "two" / "predictions.jsonl") == _lines(tmp_path / "one" / "predictions.jsonl")
    run = json.loads((tmp_path / "two" / "run.json").read_text())
    assert run["runtime"]["world_size"] == 2
