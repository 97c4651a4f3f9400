"""Same information, fewer images: the target-holding images of a sample pasted side by side into one image.

The paper's control for "more images" versus "longer input" (official `doc_to_visual_test`, paper.md §3.2):
the needles are white-padded to a common height and concatenated left to right; distractors stay separate.
The packed image takes the place of the first target-holding image, so the order of everything else is kept,
and its `image_objects` are the sum of the packed images' objects, so every answer (count, listed members)
is unchanged. Only tasks whose answer does not depend on image boundaries can be packed: counting and
listing. Common (the answer is in every image) and odd-one (in exactly one) would change their answer.

Controls: `packed: true`, `n_images` and `spread` describe the new sample (spread becomes 1), and
`n_images_original` / `spread_original` keep the sample it came from, so reports can split by either.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from PIL import Image

from mimic_vlm.errors import MimicError
from mimic_vlm.files import Marker, atomic_dir, write_json_atomic, write_jsonl_atomic
from mimic_vlm.images import open_rgb
from mimic_vlm.safe_paths import file_stem
from mimic_vlm.schema import Sample, read_json, target_images
from mimic_vlm.store import IMAGES, IS_BENCH, MANIFEST, SAMPLES, Bench, check_images, link_or_copy, load_bench
from mimic_vlm.tasks import MIMIC

PACKABLE = tuple(t.name for t in MIMIC.values() if t.packable)


def side_by_side(images: list[Image.Image]) -> Image.Image:
    """Images left to right on white, each top-aligned, the canvas as tall as the tallest."""
    canvas = Image.new("RGB", (sum(im.width for im in images), max(im.height for im in images)), "white")
    x = 0
    for im in images:
        canvas.paste(im.convert("RGB"), (x, 0))
        x += im.width
    return canvas


def pack_targets(sample: Sample, bench_root: str | Path, out_images_dir: str | Path,
                 vocabulary: dict[str, dict[str, Any]] | None = None) -> Sample:
    """`sample` with its target-holding images replaced by one side-by-side image written to `out_images_dir`.

    Image paths of the result are relative to the parent of `out_images_dir` (the new bench folder) for the
    packed image, and as given (relative to `bench_root`, or absolute) for the others.
    """
    where = f"sample {sample.id!r}"
    if sample.task not in PACKABLE:
        raise MimicError(f"{where}: a {sample.task} sample cannot be packed (its answer depends on image "
                         f"boundaries); pack {' or '.join(PACKABLE)} samples")
    if sample.controls.get("packed"):
        raise MimicError(f"{where}: already packed")
    holds = target_images(sample, vocabulary or {})
    if holds is None:
        raise MimicError(f"{where}: no per-image objects (image_objects), so target images are unknown")
    if not any(holds):
        raise MimicError(f"{where}: no image holds a target of {sample.targets}")
    root, out_dir = Path(bench_root), Path(out_images_dir)
    first = holds.index(True)
    paths = [p if (p := Path(s)).is_absolute() else root / p for s in sample.images]
    packed = [open_rgb(p) for p, h in zip(paths, holds, strict=True) if h]
    name = f"{file_stem(sample.id)}-packed.png"  # an id is data: `../../X` must not become a path
    out_dir.mkdir(parents=True, exist_ok=True)
    side_by_side(packed).save(out_dir / name)
    objects: Counter[str] = Counter()
    uncertain: set[str] = set()
    for i, h in enumerate(holds):
        if h:
            objects.update(sample.image_objects[i])
            uncertain.update(sample.image_uncertain[i] if i < len(sample.image_uncertain) else [])
    keep = [i for i, h in enumerate(holds) if not h]
    order = sorted([first, *keep])
    new_path = f"{out_dir.name}/{name}"
    images = [new_path if i == first else sample.images[i] for i in order]
    image_objects = [dict(sorted(objects.items())) if i == first else sample.image_objects[i] for i in order]
    image_uncertain = ([sorted(uncertain) if i == first else sample.image_uncertain[i] for i in order]
                       if sample.image_uncertain else [])
    controls = {**sample.controls, "packed": True, "n_images": len(images), "spread": 1,
                "n_images_original": len(sample.images), "spread_original": sum(holds)}
    return replace(sample, images=images, image_objects=image_objects, image_uncertain=image_uncertain,
                   controls=controls)


def is_packed_bench(folder: Path) -> bool:
    """What `mimic pack --overwrite` may replace: a bench pack wrote (its manifest names its source), not the
    generated bench it may have been packed from."""
    try:
        return IS_BENCH(folder) and "packed_from" in read_json(folder / MANIFEST)
    except MimicError:
        return False


def packable_samples(bench: Bench, tasks: Sequence[str] | None = None) -> list[Sample]:
    """The samples a packed bench holds: those of `tasks` (default: every packable task of the bench, so a
    `--task all` bench packs its counting and listing samples); a task that cannot be packed, or none to pack,
    is a MimicError."""
    for t in tasks or ():
        if t not in PACKABLE:
            raise MimicError(f"--task {t}: only {' and '.join(PACKABLE)} samples can be packed (the answers of "
                             "common and odd_one depend on image boundaries)")
    wanted = set(tasks or PACKABLE)
    chosen = [s for s in bench.samples if s.task in wanted]
    if not chosen:
        raise MimicError(f"{bench.root}: no {' or '.join(sorted(wanted, key=PACKABLE.index))} samples to pack "
                         f"(the bench holds {', '.join(sorted({s.task for s in bench.samples}))})")
    return chosen


def pack_bench(bench_path: str | Path, out: str | Path, overwrite: bool = False,
               marker: Marker = is_packed_bench, tasks: Sequence[str] | None = None) -> Path:
    """A new bench (written atomically) whose samples are `pack_targets` of `bench_path`'s samples of `tasks`
    (default: all the packable ones; other tasks' samples are left out, and the manifest says how many).

    Unpacked images that the source bench holds (relative paths) are hard-linked or copied along; absolute
    paths stay absolute. `marker`: what `overwrite` may replace (`generate --pack-targets` packs the bench it
    has just written, in place).
    """
    bench = load_bench(bench_path)
    chosen = packable_samples(bench, tasks)
    check_images(bench)  # a deleted image fails here, naming it, before anything is written
    packed_tasks = [t for t in dict.fromkeys(s.task for s in chosen)]
    with atomic_dir(out, overwrite=overwrite, marker=marker) as tmp:
        samples = [pack_targets(s, bench.root, tmp / IMAGES, bench.vocabulary) for s in chosen]
        for s in samples:
            for rel in s.images:
                src, dst = bench.root / rel, tmp / rel
                if not Path(rel).is_absolute() and not dst.exists():
                    link_or_copy(src, dst)
        write_jsonl_atomic(tmp / SAMPLES, [s.to_dict() for s in samples])
        write_json_atomic(tmp / MANIFEST, {**bench.manifest, **({"tasks": packed_tasks} if "tasks" in bench.manifest
                                                                else {}), "packed_from": {
            "bench": str(bench.root), "manifest_hash": bench.manifest_hash, "transform": "pack_targets",
            **({"left_out": len(bench.samples) - len(chosen)} if len(chosen) < len(bench.samples) else {})}})
    return Path(out)
