"""`mimic demo` wall time under three thread settings, interleaved in one run (issue 11 §5).

    .venv/bin/python benchmarks/bench_threads.py --repeats 3

- `default`: OMP_NUM_THREADS and MIMIC_NUM_THREADS unset: the program's own default (`mimic_vlm.threads`);
- `one`: OMP_NUM_THREADS=1, what the Makefile sets;
- `all cores`: MIMIC_NUM_THREADS=<usable CPUs>, the libraries' own default before issue 11.

The target is a ratio: `default` within noise of `one`, and not slower than `all cores`. Prints the markdown
section for benchmarks/results/threads.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mimic_vlm.threads import default_threads, usable_cpus

CPUS = usable_cpus()
SETTINGS = {"default": {}, "one": {"OMP_NUM_THREADS": "1"}, "all cores": {"MIMIC_NUM_THREADS": str(CPUS)}}


def run_demo(extra: dict[str, str], out: Path, images: int, count: int) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MIMIC_NUM_THREADS")}
    env.update(extra, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mimic_vlm", "demo", "--out", str(out), "--toy-images", str(images),
                    "--count", str(count)], env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--count", type=int, default=25)
    args = parser.parse_args()
    times: dict[str, list[float]] = {k: [] for k in SETTINGS}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            for name, extra in SETTINGS.items():  # interleaved: the machine's load hits every setting alike
                times[name].append(run_demo(extra, Path(tmp) / "demo", args.images, args.count))
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"## Thread defaults (`mimic demo`)\n\n```\n.venv/bin/python benchmarks/bench_threads.py --repeats "
          f"{args.repeats} --images {args.images} --count {args.count}\n```\n")
    print(f"{CPUS} usable CPUs, program default {default_threads(CPUS)} thread(s); load average at the end "
          f"{os.getloadavg()[0]:.1f}. Wall seconds, median of {args.repeats} interleaved runs:\n")
    print("| setting | median s | runs | vs `one` |\n|---|---|---|---|")
    for k, v in times.items():
        print(f"| {k} | {med[k]:.1f} | {', '.join(f'{t:.1f}' for t in v)} | {med[k] / med['one']:.2f}x |")


if __name__ == "__main__":
    main()
