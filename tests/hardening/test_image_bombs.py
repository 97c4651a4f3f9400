"""issue 23 §4-5: images are checked for bombs wherever they are opened (inspect and imports too, as generate,
eval and export already did), an imported truncated JPEG is no image, and a zip bomb in an import is refused."""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from hardening_helpers import rows
from PIL import Image

from mimic_vlm.suites.importer import import_benchmark


def bomb_png(width: int = 20_000, height: int = 20_000) -> bytes:
    """A valid PNG header claiming width x height 1-bit pixels, its data a few bytes: what PIL opens first."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\0" + b"\0" * (width // 8)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(row * 8)) + chunk(b"IEND", b""))


def jpeg(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


@pytest.mark.parametrize("size", [(20_000, 20_000), (10_000, 10_000)], ids=["past-the-error", "past-the-warning"])
def test_inspect_draws_a_bomb_as_unreadable(bench_dir, tmp_path, cli, size):
    image = rows(bench_dir / "samples.jsonl")[0]["images"][0]
    (bench_dir / image).write_bytes(bomb_png(*size))
    r = cli("inspect", bench_dir, "--sheet", tmp_path / "s.png")
    assert r.code == 0 and "Traceback" not in r.err and (tmp_path / "s.png").is_file()
    [line] = [x for x in r.err.splitlines() if x.strip()]
    assert line.startswith("warning:") and image in line
    assert cli("validate", bench_dir).code == 1


def _mirb(folder: Path, images: list[str]) -> Path:
    data = [{"subset": "count", "questions": "How many?", "answers": "2", "question_id": str(i),
             "image_list": [name]} for i, name in enumerate(images)]
    (folder / "mirb.json").write_text(json.dumps(data))
    return folder / "mirb.json"


def test_import_drops_bombs_and_truncated_jpegs(tmp_path):
    (tmp_path / "bomb.png").write_bytes(bomb_png())
    (tmp_path / "cut.jpg").write_bytes(jpeg(0)[:-400])  # the header opens; the pixels end early
    (tmp_path / "good.jpg").write_bytes(jpeg(1))
    report = import_benchmark("mirb", _mirb(tmp_path, ["bomb.png", "cut.jpg", "good.jpg"]), tmp_path / "b")
    assert report.samples == 1
    assert [w.split(": ", 1)[1] for w in report.warnings if ": row " in w] == [
        "row 0: image 1 (bomb.png) is not a readable image (dropped)",
        "row 1: image 1 (cut.jpg) is not a readable image (dropped)"]


def test_import_refuses_a_zip_bomb_member(tmp_path, monkeypatch):
    from mimic_vlm.suites import files

    monkeypatch.setattr(files, "MAX_IMAGE_BYTES", 1 << 20)  # the same check at 1 MiB: a small real zip bomb
    with zipfile.ZipFile(tmp_path / "images.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("big.png", b"\0" * (8 << 20))  # 8 MiB of zeros: 8 KB compressed
        z.writestr("good.jpg", jpeg(1))
    report = import_benchmark("mirb", _mirb(tmp_path, ["big.png", "good.jpg"]), tmp_path / "b")
    assert report.samples == 1
    assert report.warnings[0].endswith("row 0: image 'big.png' inflates to 8,388,608 bytes in "
                                       f"{tmp_path / 'images.zip'}, more than an image holds (1 MiB) (dropped)")
