"""Re-deriving every answer and control of a bench, from the annotations or from the samples themselves.

The rules are DESIGN.md's ground truth, written once more independently of the composers (which build
answers constructively): here they are recomputed from per-image object tables, so a composer bug, a
hand-edited line or a changed annotation file shows up as a disagreement.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mimic_vlm.annotations.catalog import Catalog
from mimic_vlm.compose.base import CatalogIndex
from mimic_vlm.compose.templates import gt_string, question
from mimic_vlm.schema import Sample
from mimic_vlm.store import Bench, load_bench
from mimic_vlm.tasks import MIMIC

Objects = list[dict[str, int]]


def derive(sample: Sample, objects: Objects, uncertain: list[list[str]],
           members: dict[str, list[str]]) -> tuple[Any, dict[str, int], list[str]]:
    """(answer, controls, problems) of `sample` recomputed from its images' object tables by its task's rules.

    `members`: supercategory -> categories (listing). Problems name uncertain cells used where they
    matter and answers that are not unique.
    """
    return MIMIC[sample.task].derive(sample.targets, objects, uncertain, members)


def check_sample(sample: Sample, objects: Objects, uncertain: list[list[str]],
                 members: dict[str, list[str]]) -> list[str]:
    """Disagreements between a sample and what its images' object tables imply."""
    if sample.task not in MIMIC:
        return [f"task {sample.task!r} is not a MIMIC task (its answers cannot be re-derived)"]
    answer, controls, problems = derive(sample, objects, uncertain, members)
    if len(set(sample.images)) != len(sample.images):
        problems.append("an image is repeated")
    if sample.answer != answer:
        problems.append(f"answer {sample.answer!r} but the images give {answer!r}")
    if sample.gt != gt_string(answer):
        problems.append(f"gt {sample.gt!r} but the images give {gt_string(answer)!r}")
    for k, v in controls.items():
        if sample.controls.get(k) != v:
            problems.append(f"control {k}={sample.controls.get(k)!r} but the images give {v!r}")
    blank = [j + 1 for j, (o, u) in enumerate(zip(objects, uncertain, strict=True)) if not o and not u]
    if sample.controls.get("blank_images") is False and blank:
        problems.append(f"control blank_images=False but image(s) {', '.join(map(str, blank))} hold no object")
    if "target_positions" in sample.controls:  # --target-position: where the target-holding images sit
        wanted = set(sample.targets) | {m for t in sample.targets for m in members.get(t, [])}
        got = [j + 1 for j, o in enumerate(objects) if any(n > 0 and c in wanted for c, n in o.items())]
        if sample.controls["target_positions"] != got:
            problems.append(f"control target_positions={sample.controls['target_positions']!r} but the images "
                            f"give {got!r}")
    if MIMIC[sample.task].targets_are_answer:
        expected = answer if isinstance(answer, list) else [answer]
        if sample.targets != expected:
            problems.append(f"targets {sample.targets} but the answer is {expected}")
    expected_q = question(sample.task, sample.targets, int(sample.controls.get("answers", 1)))
    if sample.question != expected_q:
        problems.append(f"question {sample.question!r} differs from the fixed phrasing {expected_q!r}")
    return problems


def validate_bench(bench: Bench | str | Path, catalog: Catalog | None = None) -> list[str]:
    """Every disagreement found, as 'sample-id: problem' lines; empty when the bench is consistent."""
    if not isinstance(bench, Bench):
        bench = load_bench(bench)
    vocabulary = catalog.vocabulary() if catalog is not None else bench.vocabulary
    members: dict[str, list[str]] = {}
    for c, info in sorted(vocabulary.items()):
        members.setdefault(str(info["supercategory"]), []).append(c)
    index = CatalogIndex(catalog) if catalog is not None else None
    rows = _rows_by_name(catalog) if catalog is not None else {}
    out: list[str] = []
    seen: dict[tuple[tuple[str, ...], str], str] = {}
    for s in bench.samples:
        objects, uncertain = s.image_objects, s.image_uncertain
        problems: list[str] = []
        if len(objects) != len(s.images) or len(uncertain) != len(s.images):
            problems.append("image_objects / image_uncertain do not match images")
            objects, uncertain = objects[:0], uncertain[:0]
        if index is not None:
            found = [_find_row(rows, p) for p in s.images]
            missing = [p for p, r in zip(s.images, found, strict=True) if r is None]
            if missing:
                problems.append(f"image {missing[0]} is not in the annotations")
            else:
                derived = [index.objects(r) for r in found if r is not None]
                derived_u = [index.uncertain_names(r) for r in found if r is not None]
                if (derived, derived_u) != (objects, uncertain):
                    problems.append("image_objects / image_uncertain disagree with the annotations")
                objects, uncertain = derived, derived_u
        if objects or not s.images:
            problems += check_sample(s, objects, uncertain, members)
        key = (tuple(sorted(s.images)), s.question)
        if key in seen:
            problems.append(f"same images and question as {seen[key]}")
        seen.setdefault(key, s.id)
        out += [f"{s.id}: {p}" for p in problems]
    return out


def _rows_by_name(catalog: Catalog) -> dict[str, int]:
    return {name: i for i, name in enumerate(catalog.images)}


def _find_row(rows: dict[str, int], path: str) -> int | None:
    """The catalog row whose name the bench path ends with (paths keep the source's own file names)."""
    parts = Path(path).parts
    for start in range(len(parts)):
        r = rows.get("/".join(parts[start:]))
        if r is not None:
            return r
    return None
