"""Image helpers: per-image pixel cap, prompt layout, data URLs."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from PIL import Image

from mimic_vlm.errors import MimicError
from mimic_vlm.images import data_url, fit_pixels
from mimic_vlm.images import open_rgb as load_image
from mimic_vlm.models.base import layout


@pytest.mark.parametrize(("size", "cap", "expected"), [
    ((640, 480), None, (640, 480)), ((640, 480), 640 * 480, (640, 480)), ((640, 480), 160 * 120, (160, 120)),
    ((1000, 10), 500, (223, 2)), ((7, 3), 1, (1, 1)),
])
def test_fit_pixels_keeps_aspect_within_cap(size, cap, expected) -> None:
    assert fit_pixels(*size, cap) == expected
    w, h = fit_pixels(*size, cap)
    assert cap is None or w * h <= cap


def test_layout_images_first_or_at_markers() -> None:
    assert layout("Q?", 2) == [0, 1, "Q?"]
    assert layout("<image><image>Q?", 2) == [0, 1, "Q?"]
    assert layout("a <image> b <image>", 2) == ["a ", 0, " b ", 1]
    with pytest.raises(MimicError, match="sample 'x': 1 <image> markers for 3 images"):
        layout("<image>", 3, "sample 'x'")


def test_load_and_data_url(tmp_path: Path) -> None:
    Image.new("RGB", (400, 100), (255, 0, 0)).save(tmp_path / "a.jpg")
    Image.new("L", (20, 10), 7).save(tmp_path / "b.png")
    assert load_image(tmp_path / "a.jpg", 100 * 25).size == (100, 25)
    assert load_image(tmp_path / "b.png").mode == "RGB"
    assert data_url(tmp_path / "a.jpg") == "data:image/jpeg;base64," + base64.b64encode(
        (tmp_path / "a.jpg").read_bytes()).decode()  # original bytes, no re-encoding
    small = data_url(tmp_path / "a.jpg", 100 * 25)
    assert small.startswith("data:image/png;base64,")
    assert Image.open(io.BytesIO(base64.b64decode(small.split(",", 1)[1]))).size == (100, 25)
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    with pytest.raises(MimicError, match="bad.jpg: cannot read image"):
        load_image(tmp_path / "bad.jpg")
