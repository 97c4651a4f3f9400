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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mimic_vlm.errors import MimicError
from mimic_vlm.files import Marker, has_files
from mimic_vlm.schema import Sample, read_json, read_jsonl_numbered

SAMPLES = "samples.jsonl"
MANIFEST = "manifest.json"
IMAGES = "images"
IS_BENCH = has_files(MANIFEST, SAMPLES)
"""What makes a folder a bench this tool wrote: the only kind `--overwrite` replaces with a bench."""


def bench_of_kind(kind: str | None) -> Marker:
    """A marker: a bench whose manifest `kind` is `kind` (None: `mimic generate`'s; "benchmark": `mimic
    import`'s; "mimic-official": `mimic import-official`'s), so one command's `--overwrite` never takes a
    bench another command made (a training set's conversations, an import's release)."""
    def marker(folder: Path) -> bool:
        if not IS_BENCH(folder):
            return False
        try:
            manifest = read_json(folder / MANIFEST)
        except MimicError:
            return False
        return isinstance(manifest, dict) and manifest.get("kind") == kind

    return marker


GENERATED = bench_of_kind(None)
"""A bench `mimic generate` wrote (its training sets and packed benches included)."""


@dataclass
class Bench:
    root: Path
    samples: list[Sample]
    manifest: dict[str, Any]

    def image_paths(self, sample: Sample) -> list[Path]:
        """Absolute paths of a sample's images (relative ones are relative to the bench folder)."""
        return [self.image_path(name, sample) for name in sample.images]

    def image_path(self, name: str, sample: Sample) -> Path:
        """One image's path, confined: a relative path that climbs out of the bench folder
        (`../../etc/passwd`) is a MimicError, so a bench can never make the tool read files beside it.
        Absolute paths stay as given; readers that send bytes elsewhere (export) decode them first."""
        p = Path(name)
        if p.is_absolute():
            return p
        full = Path(os.path.normpath(self.root / p))
        if not full.is_relative_to(self.root):
            raise MimicError(f"{self.root / SAMPLES}: sample {sample.id!r} names image {name!r}, outside the bench "
                             "folder (relative paths must stay inside it)")
        return full

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
    """The bench at `path`; every line is checked (shape and types) here, so nothing downstream meets a
    malformed sample. A missing manifest, an empty file or a bad line is a MimicError naming file:line."""
    root = Path(path)
    if not (root / SAMPLES).is_file():
        raise MimicError(f"{root}: not a bench (no {SAMPLES})")
    if not (root / MANIFEST).is_file():
        raise MimicError(f"{root}: not a bench (no {MANIFEST}; a bench folder holds both {SAMPLES} and {MANIFEST})")
    manifest = read_json(root / MANIFEST)
    if not isinstance(manifest, dict):
        raise MimicError(f"{root / MANIFEST}: must be a JSON object")
    if not isinstance(manifest.get("vocabulary", {}), dict):
        raise MimicError(f"{root / MANIFEST}: 'vocabulary' must be an object")
    samples = [Sample.from_dict(d, f"{root / SAMPLES}:{i}") for i, d in read_jsonl_numbered(root / SAMPLES)]
    if not samples:
        raise MimicError(f"{root / SAMPLES}: no samples (the file is empty)")
    seen: set[str] = set()
    for s in samples:
        if s.id in seen:
            raise MimicError(f"{root / SAMPLES}: duplicate sample id {s.id!r}")
        seen.add(s.id)
    return Bench(root=root.resolve(), samples=samples, manifest=manifest)


def distinct_images(bench: Bench, samples: Iterable[Sample] | None = None) -> Iterator[tuple[Sample, Path]]:
    """(first sample using it, path) of each distinct image of `samples` (default: the bench's); a path
    outside the bench is a MimicError."""
    seen: set[str] = set()
    for s in bench.samples if samples is None else samples:
        for name in s.images:
            if name not in seen:
                seen.add(name)
                yield s, bench.image_path(name, s)


def missing_images(bench: Bench) -> list[str]:
    """'sample-id: image PATH is missing' for every image file that is not there (each distinct file once)."""
    return [f"{s.id}: image {p} is missing" for s, p in distinct_images(bench) if not p.is_file()]


def unreadable_images(bench: Bench, samples: Iterable[Sample] | None = None) -> list[str]:
    """'sample-id: PATH: corrupt or unreadable image (...)' for every image file of `samples` (default: the
    bench's) that is there but does not decode (each distinct file once): a corrupt image fails a model as
    surely as a missing one."""
    from mimic_vlm.images import verify_image

    out = []
    for s, p in distinct_images(bench, samples):
        if p.is_file():
            try:
                verify_image(p)
            except MimicError as e:
                out.append(f"{s.id}: {e}")
    return out


def check_images(bench: Bench) -> None:
    """Fail before any work starts if an image of the bench is missing or outside the bench (each distinct
    file checked once)."""
    for s, p in distinct_images(bench):
        if not p.is_file():
            raise MimicError(f"{bench.root}: sample {s.id!r} refers to missing image {p}")


def decode_images(bench: Bench) -> None:
    """Decode every image fully before anything leaves the machine (export): a corrupt file, or an absolute
    path to something that is not an image (`/etc/passwd`), is refused, naming the sample."""
    from mimic_vlm.images import verify_image

    for s, p in distinct_images(bench):
        try:
            verify_image(p)
        except MimicError as e:
            raise MimicError(f"sample {s.id!r}: {e}") from None


def link_or_copy(src: str | Path, dst: str | Path) -> None:
    """Put `src` at `dst` as a hard link where the file system allows, else as a copy."""
    if not Path(src).is_file():
        raise MimicError(f"{src}: image missing on disk")
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)
