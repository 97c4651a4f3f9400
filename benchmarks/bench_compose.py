"""Composing speed at COCO scale: samples/s per task on one core.

A synthetic catalog shaped like COCO train2017 (compose/synthetic.py: 118,287 images, 80 categories,
'person' in ~54% of images, a long tail from ~10% down to ~0.2%, ~1% crowd cells) is built in memory; each task then composes `--count` samples with the default
controls (n_images 2-6) under both balances. Results go to benchmarks/results/compose.md.

    .venv/bin/python benchmarks/bench_compose.py [--count 20000] [--out benchmarks/results/compose.md]
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

TARGETS = {"counting": 10_000, "listing": 10_000, "common": 10_000, "odd_one": 1_000}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=20_000)
    ap.add_argument("--out", default="benchmarks/results/compose.md")
    args = ap.parse_args()
    t0 = time.perf_counter()
    catalog = synthetic_catalog()
    t1 = time.perf_counter()
    index = CatalogIndex(catalog)
    t2 = time.perf_counter()
    rows = []
    for balance in ("uniform", "natural"):
        controls = Controls.parse(n_images="2-6", balance=balance)
        for task in TASKS:
            n = args.count if task != "odd_one" else args.count // 4
            start = time.process_time()
            compose_task(index, task, n, controls, seed=0)
            rate = n / (time.process_time() - start)
            rows.append((task, balance, n, rate, TARGETS[task]))
            print(f"{task:9s} {balance:8s} {n:6d} samples {rate:9.0f}/s (target {TARGETS[task]})", flush=True)
    lines = [
        "## Composing speed (COCO scale, one core)", "",
        f"Command: `OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_compose.py --count {args.count}`", "",
        f"Synthetic COCO-shaped catalog: {catalog.n_images:,} images x {catalog.n_categories} categories, "
        f"{int(catalog.present.sum()):,} image-category cells, {int(catalog.counts.sum(dtype=np.int64)):,} "
        f"instances; built in {t1 - t0:.2f} s, composer index in {t2 - t1:.2f} s. "
        "Controls: n_images 2-6 (spread/distractors drawn), concepts 1, answers 1. Rates are samples per CPU "
        "second (process time, so other load on the machine does not count) and include every sample's full "
        "construction (image_objects, question, dedup) and the per-image caches filling up.", "",
        "| task | balance | samples | samples/s | target | met |", "|---|---|---:|---:|---:|---|",
    ]
    lines += [f"| {t} | {b} | {n:,} | {r:,.0f} | {g:,} | {'yes' if r >= g else 'NO'} |" for t, b, n, r, g in rows]
    load = os.getloadavg()[0]
    lines.append(f"\nPython {sys.version.split()[0]}, numpy {np.__version__}; {os.cpu_count()} cores, load average "
                 f"{load:.1f} at the end of the run (other jobs share the machine; process time excludes their "
                 "CPU but not their cache pressure).")
    with open(args.out, "w") as fh:
        fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
