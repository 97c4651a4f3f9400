"""Batched vs batch-size-1 generation of tiny models on a GPU: same outputs? how many samples/s?

Short by design (< 3 min on an H200, most of it imports and the toy bench): builds a toy bench on the CPU,
then runs `run_eval` for each family at batch sizes 1, 8 and 32 and prints one markdown table.

    .venv/bin/python benchmarks/gpu_runner.py                  # on a CUDA machine
    .venv/bin/python benchmarks/gpu_runner.py --device cpu --per-task 2 --families qwen2_vl   # dry run
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from mimic_vlm.cli import main as mimic
from mimic_vlm.evaluate.runner import run_eval
from mimic_vlm.models.registry import load_model
from mimic_vlm.store import load_bench


def outputs(run: Path) -> dict[str, str]:
    return {r["id"]: r["output"] for r in map(json.loads, (run / "predictions.jsonl").read_text().splitlines())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--families", default="qwen2_vl,llava_onevision,idefics3")
    parser.add_argument("--batch-sizes", default="1,8,32")
    parser.add_argument("--per-task", type=int, default=32)
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("no CUDA device; use --device cpu for a dry run")
    sizes = [int(b) for b in args.batch_sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        mimic(["generate", "--count", str(args.per_task), "--toy-images", "60", "--out", str(work / "bench")])
        bench = load_bench(work / "bench")
        for family in args.families.split(","):
            model = load_model(f"tiny:{family}", device=args.device, dtype="float32")
            run_eval(bench, model, work / f"warm-{family}", limit=8)  # kernels, allocator
            ref = None
            for size in sizes:
                out = work / f"{family}-{size}"
                if args.device.startswith("cuda"):
                    torch.cuda.synchronize()
                start = time.perf_counter()
                run_eval(bench, model, out, batch_size=size)
                if args.device.startswith("cuda"):
                    torch.cuda.synchronize()
                seconds = time.perf_counter() - start
                got = outputs(out)
                ref = ref or got
                differ = sum(got[i] != ref[i] for i in ref)
                rows.append((family, size, seconds, len(got) / seconds, differ, len(got)))
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "CPU"
    print(f"\n| family ({name}, {rows[0][5]} toy samples) | batch | seconds | samples/s | vs batch 1 | outputs "
          "differing from batch 1 |")
    print("|---|---|---|---|---|---|")
    base = {}
    for family, size, seconds, rate, differ, n in rows:
        base.setdefault(family, rate)
        print(f"| tiny:{family} | {size} | {seconds:.2f} | {rate:.1f} | {rate / base[family]:.2f}x | {differ} / {n} |")


if __name__ == "__main__":
    main()
