"""Benches of paired designs (`compose/variants.py`): written like any generated bench, reused only when built
with the same design, and the packed/unpacked pair of every sample (F7).

A design bench records its design in the manifest's `command` (`mimic study design {...}` with the design's
canonical JSON), so a rerun can tell whether the bench on disk is the one asked for.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson

from mimic_vlm.annotations.catalog import Catalog
from mimic_vlm.bench.pack import pack_targets
from mimic_vlm.bench.write import write_bench
from mimic_vlm.compose.variants import VARIANT_OF
from mimic_vlm.errors import MimicError
from mimic_vlm.files import atomic_dir, write_json_atomic, write_jsonl_atomic
from mimic_vlm.schema import Sample, file_sha256, read_json
from mimic_vlm.store import GENERATED, IMAGES, MANIFEST, SAMPLES, check_images, link_or_copy, load_bench


def design_command(design: dict[str, Any]) -> str:
    """The manifest `command` of a design bench: the design as canonical JSON."""
    return "mimic study design " + orjson.dumps(design, option=orjson.OPT_SORT_KEYS).decode()


def design_matches(path: Path, design: dict[str, Any], catalog: Catalog) -> bool | None:
    """True when `path` holds the bench of `design` drawn from `catalog`'s files; False when it holds another
    one; None when there is no bench there."""
    if not (path / SAMPLES).is_file() or not (path / MANIFEST).is_file():
        return None
    manifest = read_json(path / MANIFEST)
    files = {Path(p).name: file_sha256(Path(p)) for p in catalog.source_files}
    return isinstance(manifest, dict) and manifest.get("command") == design_command(design) \
        and manifest.get("source_files") == files


def write_design_bench(samples: list[Sample], catalog: Catalog, out: Path, design: dict[str, Any],
                       overwrite: bool = False) -> Path:
    """The samples of a design as a bench (atomically; a generated bench at `out` is replaced with
    `overwrite`)."""
    tasks = sorted({s.task for s in samples})
    return write_bench(samples, catalog, out, controls={}, seed=int(design.get("seed", 0)), tasks=tasks,
                       count=len(samples), copy_images=False, overwrite=overwrite, for_training=False,
                       command=design_command(design), extra_files={})


def write_packed_pairs(bench_path: Path, out: Path, overwrite: bool = False) -> Path:
    """A bench holding every sample of `bench_path` twice: as it is (`<id>~packed=false`) and with its
    target-holding images packed side by side into one (`<id>~packed=true`, bench/pack.py), both recording
    `variant_of: <id>`, so the two are compared on the same content (F7)."""
    bench = load_bench(bench_path)
    check_images(bench)
    with atomic_dir(out, overwrite=overwrite, marker=GENERATED) as tmp:
        samples = []
        for s in bench.samples:
            if s.controls.get("packed"):
                raise MimicError(f"sample {s.id!r}: already packed")
            plain = replace(s, id=f"{s.id}~packed=false", controls={**s.controls, "packed": False},
                            extra={**s.extra, VARIANT_OF: s.id})
            packed = pack_targets(replace(plain, id=f"{s.id}~packed=true"), bench.root, tmp / IMAGES,
                                  bench.vocabulary)
            samples += [plain, packed]
        for s in samples:
            for rel in s.images:
                if not Path(rel).is_absolute() and not (tmp / rel).exists():
                    link_or_copy(bench.root / rel, tmp / rel)
        write_jsonl_atomic(tmp / SAMPLES, [s.to_dict() for s in samples])
        write_json_atomic(tmp / MANIFEST, {**bench.manifest, "packed_from": {
            "bench": str(bench.root), "manifest_hash": bench.manifest_hash, "transform": "packed_pairs"}})
    return out
