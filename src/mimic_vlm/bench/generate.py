"""`mimic generate`: compose a controlled bench (or training set) from annotations and write it atomically.

The composers (`compose/`) return samples; this module turns a request into a bench folder: the default toy
world when no annotations are given, the catalog, the samples, the folder, and the side-by-side packing.
"""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from mimic_vlm.annotations.catalog import Catalog
from mimic_vlm.annotations.load import load_catalog
from mimic_vlm.annotations.toyworld import get_preset, render_toy_world
from mimic_vlm.bench.pack import PACKABLE, pack_bench
from mimic_vlm.bench.training import PHRASINGS
from mimic_vlm.bench.write import MAX_TRAINING_IMAGES, write_bench
from mimic_vlm.compose.controls import Controls
from mimic_vlm.compose.generate import compose_bench, task_list
from mimic_vlm.errors import MimicError
from mimic_vlm.files import check_output_folder
from mimic_vlm.progress import Progress
from mimic_vlm.staging import temp_path
from mimic_vlm.store import GENERATED

DEFAULT_TOY_IMAGES = 500


@dataclass(frozen=True)
class Source:
    """Where the samples come from: an annotation source and its files (`annotations` None with `toy`: a default
    toy world of `toy_images` scenes is rendered and shipped inside the bench)."""

    source: str = "toy"
    annotations: Path | None = None
    images_dir: Path | None = None
    min_area: float = 0.0
    oi_classes: Path | None = None
    oi_hierarchy: Path | None = None
    toy_images: int = DEFAULT_TOY_IMAGES
    toy_preset: str = "default"
    """Which toy world the default one is (`mimic toy --toy-preset`)."""

    def catalog(self, check_images: bool = True) -> Catalog:
        return load_catalog(self.source, self.annotations, self.images_dir, min_area=self.min_area,
                            check_images=check_images, class_descriptions=self.oi_classes,
                            hierarchy=self.oi_hierarchy)


def generate_bench(catalog: Catalog, tasks: str | Sequence[str], count: int, controls: Controls, seed: int,
                   out: str | Path, copy_images: bool = False, overwrite: bool = False, for_training: bool = False,
                   command: str = "", progress: Progress | None = None,
                   extra_files: dict[str, Path] | None = None, phrasing: str = "paraphrased") -> Path:
    """Compose and write a bench (or training set) atomically; returns its folder.

    `extra_files` (bench-relative name -> file or folder) are linked in too (the default toy world);
    `phrasing` is how training conversations are worded (bench/training.py).
    """
    check_phrasing(phrasing)
    out = Path(out)
    check_output_folder(out, overwrite, GENERATED)  # refused before any work
    if for_training and controls.n_images[-1] > MAX_TRAINING_IMAGES:
        raise MimicError(f"n_images={controls.to_dict()['n_images']}: training conversations hold at most "
                         f"{MAX_TRAINING_IMAGES} images")
    samples = compose_bench(catalog, tasks, count, controls, seed, progress)
    return write_bench(samples, catalog, out, controls=controls.to_dict(), seed=seed, tasks=task_list(tasks),
                       count=count, copy_images=copy_images, overwrite=overwrite, for_training=for_training,
                       command=command, extra_files=extra_files or {}, phrasing=phrasing)


def generate(source: Source, tasks: Sequence[str], count: int, controls: Controls, seed: int, out: Path, *,
             copy_images: bool = False, overwrite: bool = False, for_training: bool = False,
             pack_targets: bool = False, progress: Progress | None = None, phrasing: str = "paraphrased") -> Path:
    """Everything `mimic generate` does, checked up front: contradictory controls and options fail before a
    toy world is rendered or a catalog read."""
    check_phrasing(phrasing)
    preset = get_preset(source.toy_preset, "--toy-preset")
    for t in tasks:
        controls.layouts(t)
    if pack_targets and set(tasks) - set(PACKABLE):
        raise MimicError(f"--pack-targets: only counting and listing samples can be packed (common and odd_one "
                         f"answers depend on image boundaries), not --task {','.join(tasks)}")
    if pack_targets and controls.target_position is not None:
        raise MimicError("--pack-targets with --target-position: packing merges the target-holding images into "
                         "one, so their positions would not be what the samples record; use one of the two")
    check_output_folder(out, overwrite, GENERATED)  # refused before any work
    command = canonical_command(source, tasks, count, controls, seed, out, copy_images, for_training, pack_targets,
                                phrasing)
    scratch = None
    extra: dict[str, Path] = {}
    try:
        if source.source == "toy" and source.annotations is None:
            out.parent.mkdir(parents=True, exist_ok=True)
            scratch = temp_path(out)
            scratch.mkdir()
            annotations = render_toy_world(scratch / "world", source.toy_images, seed, progress=progress,
                                           preset=preset)
            source = replace(source, annotations=annotations, images_dir=annotations.parent / "images")
            extra = {"toy_annotations.json": annotations, "images": annotations.parent / "images"}
        path = generate_bench(source.catalog(), tasks, count, controls, seed, out, copy_images=copy_images,
                              overwrite=overwrite, for_training=for_training, command=command, progress=progress,
                              extra_files=extra, phrasing=phrasing)
        if pack_targets:
            pack_bench(path, path, overwrite=True, marker=GENERATED)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    return path


def check_phrasing(phrasing: str) -> None:
    if phrasing not in PHRASINGS:
        raise MimicError(f"--training-phrasing {phrasing!r}: expected one of {', '.join(PHRASINGS)}")


def canonical_command(source: Source, tasks: Sequence[str], count: int, controls: Controls, seed: int, out: Path,
                      copy_images: bool, for_training: bool, pack_targets: bool,
                      phrasing: str = "paraphrased") -> str:
    """The command line recorded in the manifest, independent of how the options were spelled."""
    c = controls.to_dict()
    default_world = source.source == "toy" and source.annotations is None
    options: dict[str, object] = {
        "source": source.source, "annotations": source.annotations, "images_dir": source.images_dir,
        "task": "all" if list(tasks) == list(task_list("all")) else ",".join(tasks), "count": count,
        "n_images": c["n_images"], "spread": c["spread"], "distractors": c["distractors"],
        "concepts": c["concepts"], "answers": c["answers"], "balance": c["balance"],
        "target_position": c.get("target_position"), "blank_images": c.get("blank_images"), "seed": seed,
        "out": out,
        "copy_images": copy_images, "min_area": source.min_area, "for": "training" if for_training else "eval",
        "oi_classes": source.oi_classes, "oi_hierarchy": source.oi_hierarchy,
        "toy_images": source.toy_images if default_world else None,
        "toy_preset": source.toy_preset if default_world and source.toy_preset != "default" else None,
        "training_phrasing": phrasing if for_training and phrasing != "paraphrased" else None,
        "pack_targets": pack_targets}
    parts = ["mimic", "generate"]
    for name, value in options.items():
        if value is None or value is False:
            continue
        flag = "--" + name.replace("_", "-")
        parts += [flag] if value is True else [flag, str(value)]
    return shlex.join(parts)
