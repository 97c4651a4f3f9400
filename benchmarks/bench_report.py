"""The report's sample browser at 10,000 samples: build time, file size, and page load / filter times in
headless chromium (Debian's; skipped without it).

    .venv/bin/python benchmarks/bench_report.py --per-task 2500 --toy-images 1000

A toy world, a bench of 4 x per-task samples, two baseline runs (oracle, chance) and `write_report` with every
section; then the browser page is opened over the DevTools pipe (tests/report/cdp.py) and a filter applied.
Writes benchmarks/results/report.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "report"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-task", type=int, default=2500)
    ap.add_argument("--toy-images", type=int, default=1000)
    ap.add_argument("--write", action="store_true", help="write benchmarks/results/report.md")
    args = ap.parse_args()

    from cdp import Browser, chromium_path

    from mimic_vlm.annotations.load import load_catalog
    from mimic_vlm.annotations.toyworld import render_toy_world
    from mimic_vlm.bench.generate import generate_bench
    from mimic_vlm.compose.controls import Controls
    from mimic_vlm.evaluate.runner import run_eval
    from mimic_vlm.models.registry import load_model
    from mimic_vlm.plugins import REPORT_SECTIONS
    from mimic_vlm.report import write_report
    from mimic_vlm.report.browser import browser_data, browser_html
    from mimic_vlm.report.runs import load_runs
    from mimic_vlm.schema import TASKS
    from mimic_vlm.store import load_bench

    tmp = Path(tempfile.mkdtemp(prefix="bench-report-"))
    ann = render_toy_world(tmp / "world", args.toy_images, 0)
    catalog = load_catalog("toy", ann, ann.parent / "images")
    bench = load_bench(generate_bench(catalog, list(TASKS), args.per_task, Controls.parse(n_images="2-8"), 0,
                                      tmp / "bench", copy_images=True))
    runs = []
    for spec in ("oracle", "chance"):
        run_eval(bench, load_model(spec, bench=bench), tmp / spec, command=["bench"])
        runs.append(tmp / spec)
    loaded = load_runs(runs)
    t0 = time.perf_counter()
    data = browser_data(bench, loaded)
    t_data = time.perf_counter() - t0
    page = browser_html(data)
    t0 = time.perf_counter()
    report = write_report(runs, tmp / "report", REPORT_SECTIONS)
    t_report = time.perf_counter() - t0
    size = (report / "report.html").stat().st_size
    lines = [f"{len(bench.samples)} samples, {len(data['thumbs'])} distinct images, 2 runs",
             f"browser data (thumbnails included): {t_data:.1f} s; browser view {len(page) / 1e6:.1f} MB",
             f"write_report, every section: {t_report:.1f} s; report.html {size / 1e6:.1f} MB"]
    binary = chromium_path()
    if binary:
        b = Browser(binary, timeout=300)
        t0 = time.perf_counter()
        b.open(report / "report.html")
        t_load = time.perf_counter() - t0
        rendered = b.js("mimicBrowser.rendered()")
        b.js("document.getElementById('mb-vrun').value = '1'")  # the chance baseline
        t_filter = b.js("(() => {const t = performance.now(); const s = document.getElementById('mb-verdict');"
                        "s.value = 'notright'; s.dispatchEvent(new Event('change')); return performance.now() - t})()")
        shown = b.js("mimicBrowser.shown()")
        errors = list(b.errors)
        b.close()
        lines += [f"chromium: page load {t_load:.1f} s ({rendered} rows drawn of {len(bench.samples)}); "
                  f"a verdict filter over all samples {t_filter:.0f} ms ({shown} match); console errors: "
                  f"{len(errors)}"]
    else:
        lines.append("chromium not installed: page timings skipped")
    print("\n".join(lines))
    if args.write:
        cmd = f".venv/bin/python benchmarks/bench_report.py --per-task {args.per_task} --toy-images {args.toy_images}"
        (ROOT / "benchmarks" / "results" / "report.md").write_text(
            "## Report: the sample browser at scale (#14)\n\n```\n" + cmd + "\n```\n\n"
            + "\n".join(f"- {x}" for x in lines) + "\n")


if __name__ == "__main__":
    main()
