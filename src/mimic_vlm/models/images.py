"""Image loading shared by the model back-ends: one place that decides how a bench image reaches a model.

`max_pixels` is per image (as in Qwen-VL and ms-swift), not per prompt: a 10-image prompt at 1 MP per image
stays within 10 MP. Resizing keeps the aspect ratio, so counting and category answers are unaffected.
"""

from __future__ import annotations

import base64
import io
import math
from pathlib import Path

from PIL import Image

from mimic_vlm.errors import MimicError

IMAGE_MARKER = "<image>"
"""A prompt holding one `<image>` per image gets its images at those places; otherwise images come first."""


def layout(text: str, n_images: int, where: str = "prompt") -> list[str | int]:
    """The order of a prompt's parts: text pieces and image indices (images first, or at `<image>` markers).

    Images first, then the question, is the official MIMIC protocol; markers let a template interleave.
    """
    pieces = text.split(IMAGE_MARKER)
    if len(pieces) == 1:
        return [*range(n_images), text]
    if len(pieces) != n_images + 1:
        raise MimicError(f"{where}: {len(pieces) - 1} {IMAGE_MARKER} markers for {n_images} images")
    parts: list[str | int] = []
    for i, piece in enumerate(pieces):
        parts += [i - 1] if i else []
        parts += [piece] if piece else []
    return parts


def fit_pixels(width: int, height: int, max_pixels: int | None) -> tuple[int, int]:
    """The largest size with the same aspect ratio and `w * h <= max_pixels` (unchanged when it fits)."""
    if not max_pixels or width * height <= max_pixels:
        return width, height
    scale = math.sqrt(max_pixels / (width * height))
    w, h = max(1, math.floor(width * scale)), max(1, math.floor(height * scale))
    while w * h > max_pixels:  # floor rounding can still overshoot by a pixel row on extreme ratios
        w, h = (w - 1, h) if w >= h else (w, h - 1)
    return w, h


def load_image(path: Path, max_pixels: int | None = None) -> Image.Image:
    """An RGB image, shrunk to `max_pixels` if larger; a broken file is a MimicError naming it."""
    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
    except (OSError, ValueError) as e:
        raise MimicError(f"{path}: cannot read image ({e})") from None
    size = fit_pixels(*im.size, max_pixels)
    return im if size == im.size else im.resize(size, Image.Resampling.BICUBIC)


def data_url(path: Path, max_pixels: int | None = None) -> str:
    """A base64 data URL for an HTTP API: the original JPEG/PNG bytes when no resize is needed (no
    re-encoding loss), else a lossless PNG of the resized image."""
    try:
        with Image.open(path) as im:
            fmt, size = im.format, im.size
    except (OSError, ValueError) as e:
        raise MimicError(f"{path}: cannot read image ({e})") from None
    if fmt in ("JPEG", "PNG") and fit_pixels(*size, max_pixels) == size:
        data, mime = path.read_bytes(), f"image/{fmt.lower()}"
    else:
        buf = io.BytesIO()
        load_image(path, max_pixels).save(buf, format="PNG")
        data, mime = buf.getvalue(), "image/png"
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
