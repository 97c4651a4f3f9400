"""Composing long image stacks: samples/s at 64 images per sample against 8, per task, one core.

The same synthetic COCO-shaped catalog as `bench_compose.py`; each task composes `--count` samples at
n_images 8 and at 64 (spread/distractors drawn, uniform balance). Results go to benchmarks/results/long.md.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_long_stacks.py [--count 2000] [--out benchmarks/results/long.md]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from mimic_vlm.compose.base import CatalogIndex  # noqa: E402
from mimic_vlm.compose.controls import Controls  # noqa: E402
from mimic_vlm.compose.generate import compose_task  # noqa: E402
from mimic_vlm.compose.synthetic import synthetic_catalog  # noqa: E402
from mimic_vlm.schema import TASKS  # noqa: E402

SIZES = (8, 64)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--out", default="benchmarks/results/long.md")
    args = ap.parse_args()
    catalog = synthetic_catalog()
    index = CatalogIndex(catalog)
    rates: dict[tuple[str, int], float] = {}
    for task in TASKS:
        for n_images in SIZES:
            n = args.count if task != "odd_one" else args.count // 4
            start = time.process_time()
            samples = compose_task(index, task, n, Controls.parse(n_images=str(n_images)), seed=0)
            assert all(len(s.images) == n_images for s in samples)
            rates[task, n_images] = n / (time.process_time() - start)
            print(f"{task:9s} n_images {n_images:2d}: {n} samples {rates[task, n_images]:9.0f}/s", flush=True)
    lines = [
        "## Long image stacks: composing at 64 images", "",
        f"Command: `OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_long_stacks.py --count {args.count}`", "",
        f"Synthetic COCO-shaped catalog ({catalog.n_images:,} images x {catalog.n_categories} categories), uniform "
        "balance, spread/distractors drawn; samples per CPU second (process time), each sample built in full. "
        "`--n-images` goes up to 64 (it stopped at 16).", "",
        "| task | samples | n_images 8 /s | n_images 64 /s | 64 vs 8 | per image, 64 vs 8 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for task in TASKS:
        n = args.count if task != "odd_one" else args.count // 4
        short, long = rates[task, 8], rates[task, 64]
        lines.append(f"| {task} | {n:,} | {short:,.0f} | {long:,.0f} | {long / short:.2f}x | "
                     f"{long * 64 / (short * 8):.2f}x |")
    load = os.getloadavg()[0]
    lines.append(f"\nPython {sys.version.split()[0]}, numpy {np.__version__}; {os.cpu_count()} cores, load average "
                 f"{load:.1f} at the end of the run (process time excludes other jobs' CPU). 'per image' compares "
                 "images placed per second: above 1x, a long stack costs less per image than a short one.")
    with open(args.out, "w") as fh:
        fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
