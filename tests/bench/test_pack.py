"""Packing target-holding images side by side keeps every answer and leaves 1 + distractors images."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from mimic_vlm.bench.pack import pack_targets, side_by_side
from mimic_vlm.cli import main
from mimic_vlm.errors import MimicError
from mimic_vlm.files import write_jsonl_atomic
from mimic_vlm.schema import target_images
from mimic_vlm.store import check_images, load_bench


def recount(sample, vocabulary) -> int:
    """The counting answer re-derived from the per-image objects (DESIGN.md ground truth)."""
    return sum(n for objects in sample.image_objects for c, n in objects.items() if c in sample.targets)


def test_side_by_side_pads_to_a_common_height_in_white() -> None:
    a, b = Image.new("RGB", (10, 20), "red"), Image.new("RGB", (5, 8), "blue")
    out = side_by_side([a, b])
    assert out.size == (15, 20)
    assert out.getpixel((12, 4)) == (0, 0, 255) and out.getpixel((12, 15)) == (255, 255, 255)


def test_pack_targets_keeps_the_answer(bench_dir: Path, tmp_path: Path) -> None:
    bench = load_bench(bench_dir)
    s = bench.samples[0]
    packed = pack_targets(s, bench.root, tmp_path / "new" / "images", bench.vocabulary)
    assert len(packed.images) == 3 == 1 + s.controls["distractors"]  # dogs of images 0 and 2 -> one image
    assert packed.images[0] == "images/counting-000000-packed.png" and packed.images[1:] == [s.images[1], s.images[3]]
    assert packed.answer == s.answer == recount(packed, bench.vocabulary) == recount(s, bench.vocabulary)
    assert packed.image_objects[0] == {"cat": 1, "dog": 3}
    assert target_images(packed, bench.vocabulary) == [True, False, False]
    assert packed.controls == {**s.controls, "packed": True, "n_images": 3, "spread": 1, "n_images_original": 4,
                               "spread_original": 2}
    with Image.open(tmp_path / "new" / packed.images[0]) as im, \
            Image.open(bench.root / s.images[0]) as a, Image.open(bench.root / s.images[2]) as b:
        assert im.size == (a.width + b.width, max(a.height, b.height))
    with pytest.raises(MimicError, match="already packed"):
        pack_targets(packed, tmp_path / "new", tmp_path / "again")
    common = type(s)(**{**s.__dict__, "task": "common"})
    with pytest.raises(MimicError, match="common sample cannot be packed"):
        pack_targets(common, bench.root, tmp_path / "x")


def test_pack_cli_writes_a_bench(bench_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "packed"
    main(["pack", str(bench_dir), "--out", str(out)])
    packed = load_bench(out)
    check_images(packed)
    assert [len(s.images) for s in packed.samples] == [3, 3]
    assert packed.manifest["packed_from"]["transform"] == "pack_targets"
    assert packed.vocabulary == load_bench(bench_dir).vocabulary
    rows = [s.to_dict() for s in load_bench(bench_dir).samples]
    rows[1]["image_objects"] = []
    write_jsonl_atomic(bench_dir / "samples.jsonl", rows)
    with pytest.raises(SystemExit) as failed:
        main(["pack", str(bench_dir), "--out", str(tmp_path / "again")])
    assert failed.value.code == 2
    assert "'counting-000001': no per-image objects" in capsys.readouterr().err
    assert not (tmp_path / "again").exists()  # nothing half-written
