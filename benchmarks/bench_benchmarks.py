"""Speed of the existing-benchmark path: import, answer parsing, exports.

A MuirBench-layout release (`data/test-*.parquet`, `image_list` of embedded 224 px JPEGs) with `--rows`
records is written once; then, side by side in one run:
- `mimic import muirbench` (records/s) against the floor of reading the same parquet with pyarrow and
  writing every image's bytes to disk (the least any importer must do);
- MCQ parsing of `--replies` replies (the tricky kinds from the tests) and open-answer scoring;
- the three exports of the imported bench.
Results go to benchmarks/results/benchmarks.md.

    .venv/bin/python benchmarks/bench_benchmarks.py [--rows 2000] [--replies 100000]
"""

from __future__ import annotations

import argparse
import io
import shutil
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
from datasets import Dataset, Features, Image, List, Value
from PIL import Image as PILImage
from rich.console import Console
from rich.table import Table

from mimic_vlm.bench.export import export_bench
from mimic_vlm.evaluate import mcq, openqa
from mimic_vlm.suites.importer import import_benchmark

REPLIES = ["The correct answer is (B)", "Based on the images, the answer is C.", "A", "(C) a dog",
           "I think it's B, no wait, C", "A dog appears in both images", "hot dog", "I cannot tell."]
OPTIONS = ["a cat", "a dog", "a bird", "hot dog"]


def jpeg(k: int) -> bytes:
    buf = io.BytesIO()
    PILImage.new("RGB", (224, 224), ((37 * k) % 256, (91 * k) % 256, (53 * k) % 256)).save(buf, format="JPEG")
    return buf.getvalue()


def write_release(root: Path, rows: int) -> Path:
    s = Value("string")
    feats = Features({"idx": s, "task": s, "image_relation": s, "image_type": s, "question": s,
                      "options": List(s), "answer": s, "image_list": List(Image())})
    images = [jpeg(k) for k in range(16)]

    def gen():  # type: ignore[no-untyped-def]
        for i in range(rows):
            yield {"idx": f"test_{i}", "task": f"task{i % 12}", "image_relation": "Independent",
                   "image_type": "Photography", "question": "Which image shows a dog? <image> <image> <image>",
                   "options": ["first", "second", "third", "none"], "answer": "ABCD"[i % 4],
                   "image_list": [{"bytes": images[(i + k) % 16], "path": f"{i}_{k}.jpg"} for k in range(3)]}

    path = root / "data" / "test-00000-of-00001.parquet"
    path.parent.mkdir(parents=True)
    Dataset.from_generator(gen, features=feats, cache_dir=str(root / "cache")).to_parquet(str(path))
    shutil.rmtree(root / "cache")
    return path


def floor(path: Path, out: Path) -> None:
    """Read the parquet and write every image: the least work an import can do."""
    out.mkdir()
    for batch in pq.ParquetFile(path).iter_batches(batch_size=64):
        for row in batch.to_pylist():
            for k, im in enumerate(row["image_list"]):
                (out / f"{row['idx']}-{k}.jpg").write_bytes(im["bytes"])


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--replies", type=int, default=100_000)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "benchmarks.md")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        parquet = write_release(root / "release", a.rows)
        t_floor = timed(lambda: floor(parquet, root / "floor"))
        t_import = timed(lambda: import_benchmark("muirbench", root / "release", root / "bench"))
        t_circular = timed(lambda: import_benchmark("muirbench", root / "release", root / "circ", circular_eval=True))
        exports = {fmt: timed(lambda f=fmt: export_bench(root / "bench", f, root / f"x-{f}"))
                   for fmt in ("hf", "lmms-eval", "vlmevalkit")}
    replies = (REPLIES * (a.replies // len(REPLIES) + 1))[:a.replies]
    t_mcq = timed(lambda: [mcq.parse_choice(r, OPTIONS) for r in replies])
    t_open = timed(lambda: [openqa.is_correct("7", openqa.candidates(r)) for r in replies])
    rows = [
        ("import muirbench (3 images/record)", f"{a.rows / t_import:,.0f} records/s",
         f"{t_import / t_floor:.2f}x the pyarrow read + image write floor ({a.rows / t_floor:,.0f} records/s)"),
        ("import muirbench --circular", f"{a.rows / t_circular:,.0f} records/s", "4 rotations per record"),
        *[(f"export {fmt}", f"{a.rows / t:,.0f} samples/s", "") for fmt, t in exports.items()],
        ("MCQ parsing", f"{a.replies / t_mcq:,.0f} replies/s", f"{len(REPLIES)} tricky reply kinds"),
        ("open-answer scoring", f"{a.replies / t_open:,.0f} replies/s", "MMMU-style candidates + match"),
    ]
    table = Table(title=f"existing benchmarks: {a.rows} records, {a.replies} replies")
    for col in ("step", "speed", "note"):
        table.add_column(col)
    for r in rows:
        table.add_row(*r)
    Console().print(table)
    cmd = f".venv/bin/python benchmarks/bench_benchmarks.py --rows {a.rows} --replies {a.replies}"
    md = ["## Existing benchmarks (import, parsing, export)", "", f"Command: `{cmd}` (2-core CPU machine).", "",
          "| step | speed | note |", "|---|---|---|", *[f"| {s} | {v} | {n} |" for s, v, n in rows], ""]
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text("\n".join(md))


if __name__ == "__main__":
    main()
