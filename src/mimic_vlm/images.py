"""Opening and checking image files: the one place that decides how an image file is read.

Every consumer (catalog loaders, bench writing and export, model back-ends, training) goes through these, so a
missing, truncated or non-image file gives the same clear error everywhere. `max_pixels` is per image (as in
Qwen-VL and ms-swift), not per prompt: a 10-image prompt at 1 MP per image stays within 10 MP. Resizing keeps the
aspect ratio, so counting and category answers are unaffected.
"""

from __future__ import annotations

import base64
import io
import math
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from PIL import Image, UnidentifiedImageError

from mimic_vlm.errors import MimicError

_UNREADABLE = (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning, OSError,
               SyntaxError, ValueError)
"""What opening or decoding a bad file raises: every opener catches all of these."""

warnings.filterwarnings("error", category=Image.DecompressionBombWarning)
"""A decompression bomb (more pixels than PIL's MAX_IMAGE_PIXELS, ~89 M: a few KB that decode to gigabytes) is
refused wherever an image is opened, not decoded after a warning: `Image.open` raises it at the header."""


def open_image(source: str | Path | IO[bytes]) -> Image.Image:
    """`Image.open` (the header only) with a bomb refused by its pixel count, whatever the warning filters (a
    test runner or `-W` may turn PIL's warning back into a mere warning): the one opener every reader uses."""
    im = Image.open(source)
    if im.width * im.height > (Image.MAX_IMAGE_PIXELS or math.inf):
        im.close()
        raise Image.DecompressionBombError(f"{im.width} x {im.height} pixels: more than {Image.MAX_IMAGE_PIXELS:,}, "
                                           "a decompression bomb?")
    return im


def decoded(data: bytes) -> Image.Image:
    """Image bytes from a foreign file (an imported release), decoded in full: a bomb, a truncated JPEG or a file
    that is no image raises one of `_UNREADABLE` here, not later in a model."""
    im = open_image(io.BytesIO(data))
    im.load()
    return im


def verify_image(path: Path) -> None:
    """Open and decode an image fully; a missing, truncated or non-image file raises MimicError."""
    try:
        with open_image(path) as im:
            im.load()
    except FileNotFoundError:
        raise MimicError(f"{path}: image not found") from None
    except _UNREADABLE as e:
        raise MimicError(f"{path}: corrupt or unreadable image ({e})") from None


def check_header(path: Path) -> None:
    """Open an image's header only (no pixel decoding, so thousands cost well under a second): catches a file
    that is no image before a long run starts, where `verify_image` would decode everything."""
    try:
        with open_image(path):
            pass
    except FileNotFoundError:
        raise MimicError(f"{path}: image not found") from None
    except _UNREADABLE as e:
        raise MimicError(f"{path}: corrupt or unreadable image ({e})") from None


def check_listed(images_dir: Path, names: Sequence[str]) -> None:
    """Fail if any image is missing under `images_dir`; one directory listing instead of a stat per image."""
    if not Path(images_dir).is_dir():
        raise MimicError(f"{images_dir}: images folder not found")
    listed = set(os.listdir(images_dir))
    missing = [n for n in names if n not in listed and not (Path(images_dir) / n).is_file()]
    if missing:
        raise MimicError(f"{images_dir}: {len(missing)} of {len(names)} images are missing, first: {missing[0]}")


def fit_pixels(width: int, height: int, max_pixels: int | None) -> tuple[int, int]:
    """The largest size with the same aspect ratio and `w * h <= max_pixels` (unchanged when it fits)."""
    if not max_pixels or width * height <= max_pixels:
        return width, height
    scale = math.sqrt(max_pixels / (width * height))
    w, h = max(1, math.floor(width * scale)), max(1, math.floor(height * scale))
    while w * h > max_pixels:  # floor rounding can still overshoot by a pixel row on extreme ratios
        w, h = (w - 1, h) if w >= h else (w, h - 1)
    return w, h


def open_rgb(path: Path, max_pixels: int | None = None) -> Image.Image:
    """An RGB image, shrunk to `max_pixels` if larger; a broken file is a MimicError naming it."""
    try:
        with open_image(path) as source:
            im = source.convert("RGB")
    except FileNotFoundError:
        raise MimicError(f"{path}: image not found") from None
    except _UNREADABLE as e:
        raise MimicError(f"{path}: cannot read image ({e})") from None
    size = fit_pixels(*im.size, max_pixels)
    return im if size == im.size else im.resize(size, Image.Resampling.BICUBIC)


def data_url(path: Path, max_pixels: int | None = None, jpeg_quality: int | None = None) -> str:
    """A base64 data URL for an HTTP API: the original JPEG/PNG bytes when no resize is needed (no
    re-encoding loss), else a lossless PNG of the resized image; with `jpeg_quality`, always a JPEG at that
    quality (a server's request size limit: 64 images as PNG run to tens of MB)."""
    try:
        with open_image(path) as im:
            fmt, size = im.format, im.size
    except (OSError, ValueError) as e:
        raise MimicError(f"{path}: cannot read image ({e})") from None
    if jpeg_quality is None and fmt in ("JPEG", "PNG") and fit_pixels(*size, max_pixels) == size:
        data, mime = path.read_bytes(), f"image/{fmt.lower()}"
    else:
        buf = io.BytesIO()
        if jpeg_quality is None:
            open_rgb(path, max_pixels).save(buf, format="PNG")
        else:
            open_rgb(path, max_pixels).save(buf, format="JPEG", quality=jpeg_quality)
        data, mime = buf.getvalue(), "image/png" if jpeg_quality is None else "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
