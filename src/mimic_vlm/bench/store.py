"""The bench folder: layout, loading, and the manifest hash that runs record.

```
BENCH/
  samples.jsonl    one Sample per line (DESIGN.md)
  manifest.json    generator version, command, seed, controls, source hashes, counts, vocabulary
  images/          copied or linked images (toy world, --copy-images); else paths point outside
```
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mimic_vlm.errors import MimicError
from mimic_vlm.schema import Sample, read_json, read_jsonl

SAMPLES = "samples.jsonl"
MANIFEST = "manifest.json"
IMAGES = "images"


@dataclass
class Bench:
    root: Path
    samples: list[Sample]
    manifest: dict[str, Any]

    def image_paths(self, sample: Sample) -> list[Path]:
        """Absolute paths of a sample's images (relative ones are relative to the bench folder)."""
        return [p if (p := Path(s)).is_absolute() else self.root / p for s in sample.images]

    @property
    def manifest_hash(self) -> str:
        """sha256 of manifest.json + samples.jsonl: identifies exactly what a run was scored against."""
        h = hashlib.sha256()
        for name in (MANIFEST, SAMPLES):
            h.update((self.root / name).read_bytes())
        return h.hexdigest()

    @property
    def vocabulary(self) -> dict[str, dict[str, Any]]:
        """Category name -> {supercategory, synonyms}; empty for benches imported without one."""
        return self.manifest.get("vocabulary", {})

    def by_id(self) -> dict[str, Sample]:
        return {s.id: s for s in self.samples}


def load_bench(path: str | Path) -> Bench:
    root = Path(path)
    if not (root / SAMPLES).is_file():
        raise MimicError(f"{root}: not a bench (no {SAMPLES})")
    manifest: dict[str, Any] = read_json(root / MANIFEST) if (root / MANIFEST).is_file() else {}
    samples = [Sample.from_dict(d) for d in read_jsonl(root / SAMPLES)]
    seen: set[str] = set()
    for s in samples:
        if s.id in seen:
            raise MimicError(f"{root / SAMPLES}: duplicate sample id {s.id!r}")
        seen.add(s.id)
    return Bench(root=root.resolve(), samples=samples, manifest=manifest)


def check_images(bench: Bench) -> None:
    """Fail before any work starts if an image of the bench is missing (each distinct file checked once)."""
    seen: set[str] = set()
    for s in bench.samples:
        for name in s.images:
            if name in seen:
                continue
            seen.add(name)
            p = Path(name) if Path(name).is_absolute() else bench.root / name
            if not p.is_file():
                raise MimicError(f"{bench.root}: sample {s.id!r} refers to missing image {p}")


def link_or_copy(src: str | Path, dst: str | Path) -> None:
    """Put `src` at `dst` as a hard link where the file system allows, else as a copy."""
    if not Path(src).is_file():
        raise MimicError(f"{src}: image missing on disk")
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)
