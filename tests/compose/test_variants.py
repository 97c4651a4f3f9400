"""Paired variants (`compose/variants.py`, `bench/paired.py`): the levels of one control come from the same base
sample and record it; answers and controls stay exact (`mimic validate` re-derives them)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mimic_vlm.annotations.load import load_catalog
from mimic_vlm.annotations.toyworld import render_toy_world
from mimic_vlm.bench.paired import design_matches, write_design_bench, write_packed_pairs
from mimic_vlm.bench.validate import validate_bench
from mimic_vlm.compose.base import CatalogIndex, Stream
from mimic_vlm.compose.controls import Controls
from mimic_vlm.compose.generate import compose_task
from mimic_vlm.compose.variants import concept_levels, distractor_levels, fixed_total_samples, variant_of
from mimic_vlm.errors import MimicError
from mimic_vlm.store import load_bench


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_toy_world(tmp_path_factory.mktemp("w") / "world", n_images=120, seed=3, preset="tiny")


def test_distractor_levels_add_images_to_the_same_targets(world: Path, tmp_path: Path) -> None:
    catalog = load_catalog("toy", world, world.parent / "images")
    index = CatalogIndex(catalog)
    bases = compose_task(index, "counting", 6, Controls.parse(n_images="1-2", spread="1-2", distractors=0), 0)
    rng = Stream(np.random.default_rng(1))
    samples = [v for b in bases for v in distractor_levels(index, b, [2, 4, 8], rng)]
    by_base: dict[str, list] = {}
    for s in samples:
        by_base.setdefault(variant_of(s), []).append(s)
    assert sorted(by_base) == [b.id for b in bases]
    for base in bases:
        levels = by_base[base.id]
        assert [len(s.images) for s in levels] == [2, 4, 8]
        assert {s.answer for s in levels} == {base.answer}  # distractors hold no target
        for small, big in zip(levels, levels[1:], strict=False):  # nested, in the same order
            kept = [i for i in big.images if i in small.images]
            assert kept == small.images
        assert set(base.images) <= set(levels[0].images)
        assert [s.controls["distractors"] for s in levels] == [2 - base.controls["spread"],
                                                               4 - base.controls["spread"], 8 - base.controls["spread"]]
    out = write_design_bench(samples, catalog, tmp_path / "b", {"finding": "F1", "seed": 0})
    assert validate_bench(out, catalog) == [] and validate_bench(out) == []
    assert load_bench(out).samples[0].extra == {"variant_of": bases[0].id}  # the pairing survives the file
    assert design_matches(out, {"finding": "F1", "seed": 0}, catalog) is True
    assert design_matches(out, {"finding": "F1", "seed": 1}, catalog) is False
    assert design_matches(tmp_path / "none", {}, catalog) is None


def test_concept_levels_ask_about_more_targets_on_the_same_images(world: Path, tmp_path: Path) -> None:
    catalog = load_catalog("toy", world, world.parent / "images")
    index = CatalogIndex(catalog)
    bases = compose_task(index, "counting", 4, Controls.parse(n_images="2-3", concepts=3), 0)
    members: dict[str, list[str]] = {}
    for c, info in catalog.vocabulary().items():
        members.setdefault(str(info["supercategory"]), []).append(c)
    samples = [v for b in bases for v in concept_levels(b, [1, 2, 3], members)]
    for base in bases:
        levels = [s for s in samples if variant_of(s) == base.id]
        assert [s.controls["concepts"] for s in levels] == [1, 2, 3]
        assert all(s.images == base.images for s in levels)
        assert levels[-1].answer == base.answer and levels[0].answer >= 1
        assert [len(s.targets) for s in levels] == [1, 2, 3]
    assert validate_bench(write_design_bench(samples, catalog, tmp_path / "c", {"f": 5}), catalog) == []
    with pytest.raises(MimicError, match="fewer than concepts=4"):
        concept_levels(bases[0], [1, 4], members)


def test_fixed_total_holds_the_total_category_and_images(world: Path, tmp_path: Path) -> None:
    catalog = load_catalog("toy", world, world.parent / "images")
    index = CatalogIndex(catalog)
    samples = fixed_total_samples(index, [1, 2, 3], 4, 3, 4, seed=0)
    assert {s.answer for s in samples} == {3} and {len(s.images) for s in samples} == {4}
    for s in (1, 2, 3):
        level = [x for x in samples if x.controls["spread"] == s]
        assert len(level) == 4
        assert [x.targets[0] for x in level] == [x.targets[0] for x in samples if x.controls["spread"] == 1]
    assert validate_bench(write_design_bench(samples, catalog, tmp_path / "t", {"f": 3}), catalog) == []
    with pytest.raises(MimicError, match="no category reaches a total of 40"):
        fixed_total_samples(index, [1, 2], 4, 40, 1, seed=0)


def test_packed_pairs_pair_a_sample_with_its_packed_copy(world: Path, tmp_path: Path) -> None:
    catalog = load_catalog("toy", world, world.parent / "images")
    index = CatalogIndex(catalog)
    bases = compose_task(index, "counting", 3, Controls.parse(n_images=3, spread=2), 0)
    plain = write_design_bench(bases, catalog, tmp_path / "plain", {"f": 7})
    pairs = load_bench(write_packed_pairs(plain, tmp_path / "pairs"))
    assert [s.id for s in pairs.samples[:2]] == [f"{bases[0].id}~packed=false", f"{bases[0].id}~packed=true"]
    for a, b in zip(pairs.samples[::2], pairs.samples[1::2], strict=True):
        assert variant_of(a) == variant_of(b) and a.answer == b.answer
        assert (len(a.images), len(b.images)) == (3, 2) and (a.controls["packed"], b.controls["packed"]) == (False, True)
    assert validate_bench(pairs) == []
