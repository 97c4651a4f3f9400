"""Writing a bench folder: check every image first, then build the folder atomically.

Images: copied (hard-linked where the file system allows) into `BENCH/images/<catalog name>` for the
toy world and with `copy_images`; otherwise samples point at the source images by absolute path.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path
from typing import Any

from mimic_vlm import __version__
from mimic_vlm.annotations.catalog import Catalog
from mimic_vlm.errors import MimicError
from mimic_vlm.files import atomic_dir, write_json_atomic, write_jsonl_atomic
from mimic_vlm.images import verify_image
from mimic_vlm.safe_paths import stays_inside
from mimic_vlm.schema import Sample, file_sha256
from mimic_vlm.store import GENERATED, IMAGES, MANIFEST, SAMPLES, link_or_copy

MAX_TRAINING_IMAGES = 10


def control_counts(samples: list[Sample]) -> dict[str, dict[str, dict[str, int]]]:
    """task -> control -> value -> number of samples."""
    out: dict[str, dict[str, Counter[str]]] = {}
    for s in samples:
        per = out.setdefault(s.task, {})
        for k, v in s.controls.items():
            per.setdefault(k, Counter())[str(v)] += 1
    return {t: {k: dict(sorted(c.items())) for k, c in per.items()} for t, per in out.items()}


def write_bench(samples: list[Sample], catalog: Catalog, out: Path, *, controls: dict[str, Any], seed: int,
                tasks: list[str], count: int, copy_images: bool, overwrite: bool, for_training: bool,
                command: str, extra_files: dict[str, Path], phrasing: str = "paraphrased") -> Path:
    """samples.jsonl + manifest.json (+ images, + training files, + `extra_files`); all or nothing.

    `extra_files` maps bench-relative names to files or folders linked in as they are (the default toy
    world: its annotations and all its images, so the bench holds the whole world it was drawn from).
    """
    row = {name: i for i, name in enumerate(catalog.images)}
    used = sorted({name for s in samples for name in s.images})
    sources = {name: catalog.image_path(row[name]) for name in used}
    for n in used:  # every image exists and decodes fully (a truncated file too), before anything is written
        verify_image(sources[n])
    copy = copy_images or catalog.source == "toy"
    if copy:
        check_copy_names(used, catalog)
    where = {n: f"{IMAGES}/{n}" if copy else str(sources[n].resolve()) for n in used}
    placed = [_placed(s, where) for s in samples]
    manifest: dict[str, Any] = {
        "generator": "mimic-vlm", "version": __version__, "command": command, "seed": seed, "tasks": tasks,
        "count_per_task": count, "controls": controls, "source": catalog.source,
        "source_files": {Path(p).name: file_sha256(Path(p)) for p in catalog.source_files},
        "images": "copied" if copy else "external", "for_training": for_training,
        **({"training_phrasing": phrasing} if for_training else {}),
        "counts": {"tasks": dict(Counter(s.task for s in samples)), "controls": control_counts(samples)},
        "vocabulary": catalog.vocabulary(),
    }
    with atomic_dir(out, overwrite=overwrite, marker=GENERATED) as tmp:
        for name, src in sorted(extra_files.items()):
            if src.is_dir():
                shutil.copytree(src, tmp / name, copy_function=link_or_copy)
            else:
                link_or_copy(src, tmp / name)
        if copy:
            for n in used:
                if not (tmp / IMAGES / n).exists():
                    link_or_copy(sources[n], tmp / IMAGES / n)
        write_jsonl_atomic(tmp / SAMPLES, (s.to_dict() for s in placed))
        if for_training:
            from mimic_vlm.bench.training import write_training

            write_training(tmp, placed, seed, phrasing)
        write_json_atomic(tmp / MANIFEST, manifest)
    return out


def check_copy_names(names: list[str], catalog: Catalog) -> None:
    """Copied images land at `images/<file_name>`: a name from the annotations that would climb out of the bench
    (`../../../E.png`, an absolute path) is refused before anything is written."""
    for n in names:
        if not stays_inside(n):
            where = ", ".join(Path(p).name for p in catalog.source_files) or catalog.source
            raise MimicError(f"{where}: image file_name {n!r} would be copied outside the bench's {IMAGES} "
                             "folder; --copy-images needs plain relative names (or leave it out to point at "
                             "the images where they are)")


def _placed(sample: Sample, where: dict[str, str]) -> Sample:
    d = sample.to_dict()
    d["images"] = [where[n] for n in sample.images]
    return Sample.from_dict(d)
