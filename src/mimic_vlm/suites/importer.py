"""`mimic import BENCHMARK PATH --out BENCH`: a benchmark's released files -> a bench folder.

Known data defects are reported, not hidden: a record without its images (or with an unreadable
option string) is dropped and listed; an MCQ whose gold letter lies outside its options (an MMIU quirk)
is kept — it is how the benchmark is scored elsewhere — flagged in `extra["defects"]`, listed, and
dropped only with `drop_defective`. The list lands in `manifest["warnings"]` and is printed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from mimic_vlm import __version__
from mimic_vlm.errors import MimicError
from mimic_vlm.evaluate import mcq
from mimic_vlm.files import atomic_dir, write_json_atomic, write_jsonl_atomic
from mimic_vlm.progress import Progress, report
from mimic_vlm.schema import Sample
from mimic_vlm.store import MANIFEST, SAMPLES, bench_of_kind
from mimic_vlm.suites import circular
from mimic_vlm.suites.files import Defect, ImageSink, describe_source, find_tables, read_records, split_of
from mimic_vlm.suites.loaders import Benchmark, get_benchmark


@dataclass
class ImportReport:
    bench: Path
    samples: int
    by_task: dict[str, int]
    warnings: list[str] = field(default_factory=list)


def import_benchmark(name: str, source: str | Path, out: str | Path, *, split: str | None = None,
                     circular_eval: bool = False, drop_defective: bool = False, overwrite: bool = False,
                     progress: Progress | None = None) -> ImportReport:
    """Read a benchmark's released files (offline) into the bench folder `out`, atomically."""
    bm = get_benchmark(name)
    source = Path(source).resolve()
    files = find_tables(source, split or bm.split, fallback=split is None)
    split = next((s for f in files if (s := split_of(f))), split or bm.split)
    with atomic_dir(out, overwrite=overwrite, marker=bench_of_kind("benchmark")) as tmp:
        samples, warnings = _convert(bm, files, split, ImageSink(tmp), drop_defective, progress)
        if circular_eval:
            fixed = [s.id for s in samples if not circular.can_rotate(s)]
            if fixed:
                warnings.append(f"circular: {len(fixed)} sample(s) without a rotatable option list stay "
                                f"single (e.g. {fixed[0]})")
            samples = [r for s in samples for r in circular.rotations(s)]
        by_task = dict(sorted(Counter(s.task for s in samples).items()))
        write_jsonl_atomic(tmp / SAMPLES, (s.to_dict() for s in samples))
        write_json_atomic(tmp / MANIFEST, {
            "kind": "benchmark", "benchmark": bm.name, "hub_repo": bm.hub_repo, "split": split,
            "source_files": [describe_source(f, source) for f in files], "circular": circular_eval,
            "drop_defective": drop_defective, "counts": {"samples": len(samples), "by_task": by_task},
            "warnings": warnings, "generator": f"mimic-vlm {__version__}",
        })
    return ImportReport(Path(out), len(samples), by_task, warnings)


def _convert(bm: Benchmark, files: list[Path], split: str | None, sink: ImageSink, drop_defective: bool,
             progress: Progress | None) -> tuple[list[Sample], list[str]]:
    samples: list[Sample] = []
    warnings: list[str] = []
    seen: set[str] = set()
    for k, rec in enumerate(read_records(files, split), 1):
        report(progress, f"importing {bm.name}", k)
        try:
            s = bm.convert(rec, sink)
        except Defect as d:
            warnings.append(f"{rec.where}: {d} (dropped)")
            continue
        if s.id in seen:
            warnings.append(f"{rec.where}: duplicate id {s.id!r} (dropped)")
            continue
        seen.add(s.id)
        if s.task == "mcq" and s.options is not None and str(s.answer) not in mcq.letters(len(s.options)):
            last = mcq.LETTERS[len(s.options) - 1]
            defect = f"gold letter {s.answer} outside the options A-{last}"
            warnings.append(f"{s.id}: {defect}" + (" (dropped)" if drop_defective else " (kept, never correct)"))
            if drop_defective:
                continue
            s.extra["defects"] = [defect]
        samples.append(s)
    missing = sorted(set(bm.categories) - {str(s.controls.get(bm.category)) for s in samples})
    if missing:
        warnings.append(f"{bm.name}: {len(missing)} of {len(bm.categories)} {bm.category} value(s) absent: "
                        f"{', '.join(missing)}")
    if not samples:
        first = f"; first: {warnings[0]}" if warnings else ""
        raise MimicError(f"{files[0]}: no usable {bm.name} records ({len(warnings)} dropped{first})")
    return samples, warnings


def hub_snapshot(name: str, cache_dir: str | None = None) -> Path:
    """Download a benchmark's released files from the Hugging Face Hub (network; `--hub`), unpacking
    zipped image folders (MMIU), and return the local folder the offline importer then reads."""
    import zipfile

    from huggingface_hub import snapshot_download

    bm = get_benchmark(name)
    root = Path(snapshot_download(bm.hub_repo, repo_type="dataset", cache_dir=cache_dir))
    for z in sorted(root.rglob("*.zip")):
        if not (z.parent / z.stem).exists():
            with zipfile.ZipFile(z) as zf:
                zf.extractall(z.parent)
    return root
