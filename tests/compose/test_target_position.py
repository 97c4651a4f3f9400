"""--target-position: the target-holding images moved first / to the middle / last, positions recorded per
sample and re-derived by validation; answers unchanged (every task's answer is order-invariant)."""

from __future__ import annotations

import pytest

from mimic_vlm.compose.controls import Controls, place_targets
from mimic_vlm.compose.generate import compose_bench
from mimic_vlm.errors import MimicError
from mimic_vlm.schema import TASKS, target_images


def test_place_targets():
    order, holds = [0, 1, 2, 3, 4, 5], [False, True, False, False, True, False]
    assert place_targets(order, holds, "first") == [1, 4, 0, 2, 3, 5]
    assert place_targets(order, holds, "last") == [0, 2, 3, 5, 1, 4]
    assert place_targets(order, holds, "middle") == [0, 2, 1, 4, 3, 5]
    assert place_targets([0, 1, 2, 3], [True, False, False, False], "middle") == [1, 2, 0, 3]  # 2 before, 1 after
    assert place_targets(order, holds, "any") == order


def test_controls_parse_target_position():
    assert Controls.parse(target_position="middle").to_dict()["target_position"] == "middle"
    assert "target_position" not in Controls.parse().to_dict()  # unset: manifests as before
    with pytest.raises(MimicError, match="--target-position 'centre': expected one of first, middle, last, any"):
        Controls.parse(target_position="centre")


@pytest.mark.parametrize("mode", ["first", "middle", "last", "any"])
def test_composed_samples_hold_their_targets_where_asked(catalog, mode):
    controls = Controls.parse(n_images="5", spread="1", target_position=mode)
    plain = compose_bench(catalog, ["counting", "listing"], 12, Controls.parse(n_images="5", spread="1"), seed=3)
    placed = compose_bench(catalog, ["counting", "listing"], 12, controls, seed=3)
    vocab = catalog.vocabulary()
    for a, b in zip(plain, placed, strict=True):
        assert sorted(a.images) == sorted(b.images) and a.answer == b.answer and a.question == b.question
        holds = target_images(b, vocab)
        positions = [j + 1 for j, h in enumerate(holds) if h]
        assert b.controls["target_position"] == mode and b.controls["target_positions"] == positions
        assert len(positions) == 1
        want = {"first": 1, "middle": 3, "last": 5}.get(mode)
        if want is not None:
            assert positions == [want]
        else:
            assert b.images == a.images  # any: the composed (shuffled) order
    assert "target_position" not in plain[0].controls


def test_every_task_validates_with_target_position(catalog):
    from mimic_vlm.bench.validate import check_sample

    members: dict[str, list[str]] = {}
    for c, info in catalog.vocabulary().items():
        members.setdefault(str(info["supercategory"]), []).append(c)
    samples = compose_bench(catalog, list(TASKS), 6, Controls.parse(n_images="4-6", target_position="last"), seed=1)
    for s in samples:
        assert check_sample(s, s.image_objects, s.image_uncertain, members) == []
        broken = s.controls["target_positions"][:-1] + [0]
        s.controls = {**s.controls, "target_positions": broken}
        assert any("target_positions" in p for p in check_sample(s, s.image_objects, s.image_uncertain, members))
