"""No vacuous common / odd_one samples: by default every image of such a sample holds an annotated object (a
blank image makes "every other category is in at least two images" hold for free); `--blank-images` lets
blank images in again, and the choice is recorded per sample and re-derived by `mimic validate`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from mimic_vlm.annotations.catalog import Catalog
from mimic_vlm.annotations.load import load_catalog
from mimic_vlm.annotations.toyworld import render_toy_world
from mimic_vlm.bench.generate import generate_bench
from mimic_vlm.bench.validate import validate_bench
from mimic_vlm.compose.controls import Controls
from mimic_vlm.compose.generate import compose_bench
from mimic_vlm.schema import Sample
from mimic_vlm.store import load_bench


@pytest.fixture(scope="module")
def tiny_world(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """The `tiny` preset: about one scene in ten is blank."""
    ann = render_toy_world(tmp_path_factory.mktemp("tiny") / "world", 200, seed=3, preset="tiny")
    return load_catalog("toy", ann, ann.parent / "images")


def blank_images(catalog: Catalog, sample: Sample) -> int:
    names = [Path(p).name for p in catalog.images]
    rows = [names.index(Path(p).name) for p in sample.images]  # a written bench holds its own image paths
    return int((~(catalog.present[rows] | catalog.uncertain[rows]).any(1)).sum())


def test_the_world_has_blank_scenes(tiny_world: Catalog) -> None:
    blank = int((~(tiny_world.present | tiny_world.uncertain).any(1)).sum())
    assert 5 <= blank <= 40  # the premise of the tests below


@pytest.mark.parametrize("task", ["common", "odd_one"])
def test_no_blank_image_by_default(tiny_world: Catalog, task: str) -> None:
    samples = compose_bench(tiny_world, [task], 40, Controls.parse(n_images="2-4"), seed=0)
    assert len(samples) == 40
    assert all(blank_images(tiny_world, s) == 0 for s in samples)
    assert all(s.controls["blank_images"] is False for s in samples)


def test_blank_images_come_back_when_allowed(tiny_world: Catalog) -> None:
    samples = compose_bench(tiny_world, ["odd_one"], 40, Controls.parse(n_images="2-4", blank_images=True), seed=0)
    assert sum(blank_images(tiny_world, s) > 0 for s in samples) >= 5  # the vacuous samples the default avoids
    assert all(s.controls["blank_images"] is True for s in samples)


def test_counting_and_listing_keep_blank_distractors(tiny_world: Catalog) -> None:
    samples = compose_bench(tiny_world, ["counting"], 60, Controls.parse(n_images="3-4", spread="1"), seed=0)
    assert "blank_images" not in samples[0].controls
    assert any(blank_images(tiny_world, s) for s in samples)


def test_recorded_and_validated(tiny_world: Catalog, tmp_path: Path) -> None:
    out = generate_bench(tiny_world, ["odd_one"], 12, Controls.parse(n_images="2-3", blank_images=True), 0,
                         tmp_path / "b")
    bench = load_bench(out)
    assert bench.manifest["controls"]["blank_images"] is True
    assert validate_bench(bench, tiny_world) == []
    vacuous = [s for s in bench.samples if blank_images(tiny_world, s)]
    assert vacuous
    vacuous[0].controls["blank_images"] = False  # as if it claimed no blank image
    problems = validate_bench(bench, tiny_world)
    assert len(problems) == 1 and "control blank_images=False but image(s)" in problems[0]
    default = load_bench(generate_bench(tiny_world, ["odd_one"], 12, Controls.parse(n_images="2-3"), 0,
                                        tmp_path / "d"))
    assert "blank_images" not in default.manifest["controls"]
    assert validate_bench(default, tiny_world) == []


def test_real_coco_samples_unchanged_where_every_image_is_annotated(coco_sample: Path) -> None:
    """On the real COCO sample (2 of its 32 train images have no annotation): with the unannotated images left
    out, the rule changes nothing but the recorded control; with them in, no sample uses them."""
    catalog = load_catalog("coco", coco_sample / "annotations/instances_train2017.json", None, min_area=5000,
                           check_images=False)
    annotated = (catalog.present | catalog.uncertain).any(1)
    assert int((~annotated).sum()) == 2
    keep = np.flatnonzero(annotated)
    dense = dataclasses.replace(catalog, images=[catalog.images[i] for i in keep], counts=catalog.counts[keep],
                                uncertain=catalog.uncertain[keep])
    for task in ("common", "odd_one"):
        new = compose_bench(dense, [task], 5, Controls.parse(n_images="2-3"), seed=0)
        old = compose_bench(dense, [task], 5, Controls.parse(n_images="2-3", blank_images=True), seed=0)
        assert [(s.images, s.answer) for s in new] == [(s.images, s.answer) for s in old]
        assert all(blank_images(catalog, s) == 0
                   for s in compose_bench(catalog, [task], 5, Controls.parse(n_images="2-3"), seed=0))
