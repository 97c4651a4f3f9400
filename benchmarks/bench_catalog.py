"""Catalog load time and peak memory at COCO and OpenImages scale.

Targets (issue 2, section 6): COCO-scale load within 1.5x of a bare `orjson.loads` of the same file
(both timed side by side in one run, read from disk included); OpenImages-scale load under 8 GB peak.
Every measurement runs in a fresh subprocess so its peak RSS is its own.

    .venv/bin/python benchmarks/make_synthetic_annotations.py --scale 1.0
    .venv/bin/python benchmarks/bench_catalog.py --scale 1.0 [--repeats 3] [--only coco|openimages]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_synthetic_annotations import coco_dir, openimages_dir  # noqa: E402


def measure(kind: str, scale: float) -> dict[str, float]:
    """Run one load in this process; return seconds and peak RSS (MB)."""
    if kind in ("orjson", "orjson_nogc"):
        import gc

        import orjson

        path = coco_dir(scale) / "instances.json"
        start = time.perf_counter()
        if kind == "orjson_nogc":  # the stricter baseline: the loader pauses the GC while parsing, too
            gc.disable()
        orjson.loads(path.read_bytes())
    elif kind == "coco":
        from mimic_vlm.annotations.coco import load_coco

        path = coco_dir(scale) / "instances.json"
        start = time.perf_counter()
        load_coco(path, None)
    else:
        from mimic_vlm.annotations.openimages import load_openimages

        d = openimages_dir(scale)
        start = time.perf_counter()
        load_openimages(d / "boxes.csv", d / "class-descriptions.csv", d / "hierarchy.json", None)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _child(kind: str, scale: float) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--measure", kind, "--scale", str(scale)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", choices=("coco", "openimages"))
    parser.add_argument("--measure", choices=("orjson", "orjson_nogc", "coco", "openimages"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.scale)))
        return

    kinds = {"coco": ["orjson", "orjson_nogc", "coco"], "openimages": ["openimages"]}
    runs: dict[str, list[dict[str, float]]] = {}
    for _ in range(args.repeats):  # interleaved, so that both sides see the same machine state
        for group, members in kinds.items():
            if args.only in (None, group):
                for kind in members:
                    runs.setdefault(kind, []).append(_child(kind, args.scale))

    table = Table(title=f"catalog load, scale {args.scale:g}, {args.repeats} runs each (fresh process per run)")
    for col in ("measurement", "median s", "min s", "peak RSS MB"):
        table.add_column(col)
    for kind, rs in runs.items():
        secs = [r["seconds"] for r in rs]
        table.add_row(kind, f"{statistics.median(secs):.2f}", f"{min(secs):.2f}",
                      f"{max(r['peak_rss_mb'] for r in rs):.0f}")
    console = Console()
    console.print(table)
    if "coco" in runs:
        median = {k: statistics.median(r["seconds"] for r in runs[k]) for k in kinds["coco"]}
        console.print(f"COCO load / bare orjson.loads (medians): {median['coco'] / median['orjson']:.2f}x "
                      f"(target <= 1.5x); / orjson.loads with the GC paused: "
                      f"{median['coco'] / median['orjson_nogc']:.2f}x")
    if "openimages" in runs:
        peak = max(r["peak_rss_mb"] for r in runs["openimages"]) / 1024
        console.print(f"OpenImages load peak RSS: {peak:.2f} GB (target < 8 GB)")


if __name__ == "__main__":
    main()
