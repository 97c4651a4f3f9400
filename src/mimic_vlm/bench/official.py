"""`mimic import-official PATH --out BENCH`: the released MIMIC dataset (`anurag4446/mimic`) as a bench.

The release has configs `counting`, `common`, `oddone`, `listing` (parquet, one folder each, images
embedded) and `counting_unbalanced` (a `save_to_disk` folder whose images are COCO train2017 file
names; pass `images_dir`). Fields: `images`, `question`, `gt`, `task` (a sub-condition label whose values
the paper does not define: kept as the control `official_task`), and `idx` (counting) or `id`.

The config (from the folder name) gives the task; `gt` gives the typed answer: an int for counting, the
sorted `", "`-separated names for listing, a lower-case name for common / odd_one. A COCO annotations
file (`coco_annotations`) adds the vocabulary (supercategories, synonyms) the MIMIC scorers use.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from mimic_vlm import __version__
from mimic_vlm.errors import MimicError
from mimic_vlm.files import atomic_dir, write_json_atomic, write_jsonl_atomic
from mimic_vlm.progress import Progress, report
from mimic_vlm.schema import Answer, Sample, read_json
from mimic_vlm.store import MANIFEST, SAMPLES, bench_of_kind
from mimic_vlm.suites.files import Defect, ImageSink, Record, describe_source, find_tables, read_records
from mimic_vlm.suites.importer import ImportReport
from mimic_vlm.tasks import CONFIGS, MIMIC

HUB_REPO = "anurag4446/mimic"


def config_of(file: Path, root: Path) -> str:
    """The release config a data file belongs to, from its path (`counting/test-….parquet`)."""
    parts = [root.name] + [p.split(".")[0] for p in (file.relative_to(root).parts if file != root else ())]
    for part in reversed(parts):
        for name in CONFIGS:  # counting_unbalanced before counting
            if part == name or part.startswith(f"{name}-"):
                return name
    raise MimicError(f"{file}: cannot tell which MIMIC config ({', '.join(CONFIGS)}) this file holds; "
                     "put it in a folder named after its config or pass --config")


def typed_answer(task: str, gt: Any, where: str) -> tuple[Answer, str]:
    """(typed answer, gt string) from a released `gt` (an int or a string)."""
    text = str(gt).strip()
    try:
        answer = MIMIC[task].released_answer(text)
    except ValueError:
        raise MimicError(f"{where}: {task} gt {gt!r} is not an integer") from None
    if isinstance(answer, int) and answer < 0:  # the bench loader refuses it: a count of objects
        raise MimicError(f"{where}: {task} gt {gt!r} is not a count of objects (0 or more)")
    return answer, text


def convert(rec: Record, config: str, sink: ImageSink, images_dir: Path | None) -> Sample:
    task = CONFIGS[config]
    ident = rec.data.get("id", rec.data.get("idx"))
    if ident is None:
        raise MimicError(f"{rec.where}: missing field 'id' (or 'idx')")
    sid = f"{config}-{ident}"
    answer, gt = typed_answer(task, rec.get("gt"), rec.where)
    base = images_dir or (rec.file if rec.file.is_dir() else rec.file.parent)
    images = sink.save_all(rec.items("images"), sid, base)
    controls: dict[str, Any] = {"n_images": len(images), "config": config}
    if rec.data.get("task") is not None:
        controls["official_task"] = rec.data["task"]
    return Sample(id=sid, task=task, images=images, question=rec.text("question"), answer=answer, gt=gt,
                  targets=[], controls=controls, source="mimic-official")


def coco_vocabulary(annotations: Path) -> dict[str, dict[str, Any]]:
    """Category -> supercategory and synonyms, from the `categories` of a COCO instances file."""
    from mimic_vlm.annotations.synonyms import synonyms_for

    try:
        cats = read_json(annotations)["categories"]
        names = {c["name"]: c["supercategory"] for c in cats}
    except (MimicError, KeyError, TypeError) as e:
        raise MimicError(f"{annotations}: not a COCO instances file with categories ({e})") from None
    syn = synonyms_for("coco", list(names))
    return {n: {"supercategory": s, "synonyms": syn.get(n, [])} for n, s in sorted(names.items())}


def import_official(source: str | Path, out: str | Path, *, split: str | None = "test", config: str | None = None,
                    images_dir: Path | None = None, coco_annotations: Path | None = None,
                    overwrite: bool = False, progress: Progress | None = None) -> ImportReport:
    """Read the released MIMIC files (offline) into the bench folder `out`, atomically."""
    root = Path(source).resolve()
    if config is not None and config not in CONFIGS:
        raise MimicError(f"--config {config!r}: known configs are {', '.join(CONFIGS)}")
    files = find_tables(root, split)
    vocabulary = coco_vocabulary(coco_annotations) if coco_annotations else None
    samples: list[Sample] = []
    warnings: list[str] = []
    with atomic_dir(out, overwrite=overwrite, marker=bench_of_kind("mimic-official")) as tmp:
        sink = ImageSink(tmp)
        for f in files:
            cfg = config or config_of(f, root)
            # counting_unbalanced was saved with split `train`: a save_to_disk folder with one split uses it.
            for rec in read_records([f], split):
                report(progress, "importing MIMIC", len(samples) + len(warnings) + 1)
                try:
                    samples.append(convert(rec, cfg, sink, images_dir))
                except Defect as d:
                    warnings.append(f"{rec.where}: {d} (dropped)")
        ids = Counter(s.id for s in samples)
        if dupes := [i for i, n in ids.items() if n > 1]:
            raise MimicError(f"{root}: duplicate sample id {dupes[0]!r} (two files of the same config?)")
        if not samples:
            first = f"; first: {warnings[0]}" if warnings else ""
            raise MimicError(f"{root}: no usable MIMIC records ({len(warnings)} dropped{first})")
        by_task = dict(sorted(Counter(s.task for s in samples).items()))
        write_jsonl_atomic(tmp / SAMPLES, (s.to_dict() for s in samples))
        write_json_atomic(tmp / MANIFEST, {
            "kind": "mimic-official", "hub_repo": HUB_REPO, "split": split,
            "source_files": [describe_source(f, root) for f in files], "counts": {"samples": len(samples),
                                                                           "by_task": by_task},
            "warnings": warnings, "generator": f"mimic-vlm {__version__}",
            **({"vocabulary": vocabulary} if vocabulary else {}),
        })
    return ImportReport(Path(out), len(samples), by_task, warnings)
