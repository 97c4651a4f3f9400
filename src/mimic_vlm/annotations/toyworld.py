"""The built-in toy world: small rendered scenes with COCO-format annotations, needing no download.

Why it exists: every command, test and demo must work on a fresh clone. The toy world is shaped like
COCO (supercategories, everyday names, 0-10 instances per category, partial overlaps, crowd regions)
so the whole pipeline runs on it unchanged; objects of one category are drawn identically (shape,
colour, pattern) and differ clearly from every other category, so a VLM can in principle count them.

Everything is drawn from one `numpy.random.Generator` seeded by `seed`: the same seed gives
byte-identical PNGs and JSON. Segmentations are bbox polygons (crowd regions: uncompressed RLE, as
COCO uses for crowds); `area` is the segmentation's area.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from PIL import Image, ImageDraw

from mimic_vlm.errors import MimicError
from mimic_vlm.files import atomic_dir, has_files, write_bytes_atomic
from mimic_vlm.progress import Progress, report

SIZE = 256
Box = tuple[float, float, float, float]  # x0, y0, x1, y1
Draw = Callable[[ImageDraw.ImageDraw, Box], None]


@dataclass(frozen=True)
class ToyCategory:
    name: str
    supercategory: str
    aspect: float
    """width / height of the drawn object."""
    weight: float
    """Relative frequency with which an image contains the category (a few are 'background-ish')."""
    draw: Draw


# ---------------------------------------------------------------- icons (pure drawing, no randomness)

def _sub(box: Box, fx0: float, fy0: float, fx1: float, fy1: float) -> Box:
    """A sub-box given as fractions of `box`."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    return (x0 + fx0 * w, y0 + fy0 * h, x0 + fx1 * w, y0 + fy1 * h)


def _pts(box: Box, *fractions: tuple[float, float]) -> list[tuple[float, float]]:
    x0, y0, x1, y1 = box
    return [(x0 + fx * (x1 - x0), y0 + fy * (y1 - y0)) for fx, fy in fractions]


def _lw(box: Box, frac: float = 0.06) -> int:
    return max(1, round(frac * min(box[2] - box[0], box[3] - box[1])))


def _apple(d: ImageDraw.ImageDraw, b: Box) -> None:
    d.ellipse(_sub(b, 0, 0.2, 1, 1), fill=(205, 25, 30), outline=(120, 10, 10), width=_lw(b, 0.04))
    d.rectangle(_sub(b, 0.46, 0.0, 0.56, 0.28), fill=(100, 60, 20))
    d.ellipse(_sub(b, 0.56, 0.04, 0.86, 0.2), fill=(40, 160, 40))


def _banana(d: ImageDraw.ImageDraw, b: Box) -> None:
    d.arc(_sub(b, 0, -0.9, 1, 1), 20, 160, fill=(250, 220, 40), width=_lw(b, 0.32))
    d.ellipse(_sub(b, 0.02, 0.3, 0.14, 0.44), fill=(90, 60, 20))
    d.ellipse(_sub(b, 0.86, 0.3, 0.98, 0.44), fill=(90, 60, 20))


def _carrot(d: ImageDraw.ImageDraw, b: Box) -> None:
    d.polygon(_pts(b, (0.2, 0.25), (0.8, 0.25), (0.5, 1.0)), fill=(240, 120, 20))
    for f in (0.4, 0.55, 0.7):
        d.line(_pts(b, (0.5 - (1 - f) * 0.3, f), (0.5 + (1 - f) * 0.15, f)), fill=(170, 70, 10), width=_lw(b, 0.04))
    for fx in (0.3, 0.5, 0.7):
        d.line(_pts(b, (0.5, 0.25), (fx, 0.0)), fill=(30, 140, 30), width=_lw(b, 0.08))


def _car(d: ImageDraw.ImageDraw, b: Box) -> None:
    d.polygon(_pts(b, (0.22, 0.45), (0.32, 0.1), (0.7, 0.1), (0.8, 0.45)), fill=(120, 170, 240))
    d.rounded_rectangle(_sub(b, 0, 0.4, 1, 0.82), radius=_lw(b, 0.15), fill=(30, 70, 200))
    for fx in (0.12, 0.64):
        d.ellipse(_sub(b, fx, 0.62, fx + 0.24, 1.0), fill=(20, 20, 20))


def _bus(d: ImageDraw.ImageDraw, b: Box) -> None:
    d.rectangle(_sub(b, 0, 0, 1, 0.85), fill=(245, 165, 15), outline=(90, 60, 0), width=_lw(b, 0.04))
    for i in range(5):
        d.rectangle(_sub(b, 0.05 + i * 0.19, 0.12, 0.19 + i * 0.19, 0.42), fill=(170, 215, 245))
    for fx in (0.1, 0.72):
        d.ellipse(_sub(b, fx, 0.68, fx + 0.18, 1.0), fill=(20, 20, 20))


def _bicycle(d: ImageDraw.ImageDraw, b: Box) -> None:
    lw = _lw(b, 0.07)
    for fx in (0.0, 0.56):
        d.ellipse(_sub(b, fx, 0.4, fx + 0.44, 1.0), outline=(15, 15, 15), width=lw)
    frame = _pts(b, (0.22, 0.7), (0.45, 0.35), (0.78, 0.7), (0.5, 0.7), (0.22, 0.7))
    d.line(frame, fill=(220, 20, 60), width=lw)
    d.line(_pts(b, (0.45, 0.35), (0.5, 0.7)), fill=(220, 20, 60), width=lw)
    d.line(_pts(b, (0.7, 0.15), (0.78, 0.7)), fill=(220, 20, 60), width=lw)
    d.line(_pts(b, (0.6, 0.15), (0.8, 0.15)), fill=(15, 15, 15), width=lw)


def _cat(d: ImageDraw.ImageDraw, b: Box) -> None:
    grey = (125, 125, 135)
    d.polygon(_pts(b, (0.05, 0.45), (0.12, 0.0), (0.42, 0.3)), fill=grey)
    d.polygon(_pts(b, (0.95, 0.45), (0.88, 0.0), (0.58, 0.3)), fill=grey)
    d.ellipse(_sub(b, 0.02, 0.15, 0.98, 1.0), fill=grey)
    for fx in (0.25, 0.6):
        d.ellipse(_sub(b, fx, 0.4, fx + 0.15, 0.56), fill=(90, 220, 60))
    d.polygon(_pts(b, (0.44, 0.66), (0.56, 0.66), (0.5, 0.74)), fill=(240, 130, 150))
    for fy in (0.72, 0.8):
        d.line(_pts(b, (0.05, fy), (0.35, 0.74)), fill=(40, 40, 40), width=1)
        d.line(_pts(b, (0.95, fy), (0.65, 0.74)), fill=(40, 40, 40), width=1)


def _fish(d: ImageDraw.ImageDraw, b: Box) -> None:
    teal = (20, 160, 170)
    d.polygon(_pts(b, (0.0, 0.1), (0.3, 0.5), (0.0, 0.9)), fill=teal)
    d.ellipse(_sub(b, 0.2, 0.1, 1.0, 0.9), fill=teal)
    for fx in (0.4, 0.55, 0.7):
        d.line(_pts(b, (fx, 0.2), (fx, 0.8)), fill=(10, 90, 100), width=_lw(b, 0.08))
    d.ellipse(_sub(b, 0.8, 0.35, 0.9, 0.48), fill=(10, 10, 10))


def _bird(d: ImageDraw.ImageDraw, b: Box) -> None:
    purple = (130, 50, 180)
    d.ellipse(_sub(b, 0.0, 0.35, 0.75, 1.0), fill=purple)
    d.ellipse(_sub(b, 0.5, 0.05, 0.9, 0.5), fill=purple)
    d.polygon(_pts(b, (0.88, 0.2), (1.0, 0.3), (0.88, 0.38)), fill=(250, 150, 0))
    d.ellipse(_sub(b, 0.68, 0.18, 0.76, 0.28), fill=(255, 255, 255))
    d.chord(_sub(b, 0.1, 0.45, 0.6, 0.9), 0, 180, fill=(200, 150, 230))


def _cup(d: ImageDraw.ImageDraw, b: Box) -> None:
    pink = (225, 90, 160)
    d.ellipse(_sub(b, 0.6, 0.25, 1.0, 0.7), outline=pink, width=_lw(b, 0.1))
    d.polygon(_pts(b, (0.0, 0.08), (0.76, 0.08), (0.66, 1.0), (0.1, 1.0)), fill=pink)
    d.rectangle(_sub(b, 0.04, 0.0, 0.72, 0.12), fill=(110, 60, 30))
    d.line(_pts(b, (0.08, 0.45), (0.7, 0.45)), fill=(255, 255, 255), width=_lw(b, 0.08))


def _bottle(d: ImageDraw.ImageDraw, b: Box) -> None:
    green = (30, 140, 60)
    d.rectangle(_sub(b, 0.35, 0.0, 0.65, 0.1), fill=(200, 30, 30))
    d.rectangle(_sub(b, 0.38, 0.08, 0.62, 0.35), fill=green)
    d.rounded_rectangle(_sub(b, 0.0, 0.3, 1.0, 1.0), radius=_lw(b, 0.3), fill=green)
    d.rectangle(_sub(b, 0.0, 0.55, 1.0, 0.75), fill=(245, 245, 235))


def _bowl(d: ImageDraw.ImageDraw, b: Box) -> None:
    d.chord(_sub(b, 0.0, -0.9, 1.0, 1.0), 0, 180, fill=(165, 95, 45))
    d.rectangle(_sub(b, 0.0, 0.0, 1.0, 0.12), fill=(110, 60, 25))
    for fx in (0.25, 0.5, 0.75):
        d.ellipse(_sub(b, fx - 0.05, 0.35, fx + 0.05, 0.5), fill=(245, 220, 180))


def _tree(d: ImageDraw.ImageDraw, b: Box) -> None:
    d.rectangle(_sub(b, 0.42, 0.75, 0.58, 1.0), fill=(110, 70, 30))
    for top, base in ((0.0, 0.4), (0.2, 0.6), (0.4, 0.8)):
        d.polygon(_pts(b, (0.5, top), (0.0, base), (1.0, base)), fill=(15, 100, 35))


def _flower(d: ImageDraw.ImageDraw, b: Box) -> None:
    d.line(_pts(b, (0.5, 0.5), (0.5, 1.0)), fill=(40, 150, 40), width=_lw(b, 0.08))
    cx, cy, r = 0.5, 0.35, 0.2
    for k in range(5):
        a = 2 * math.pi * k / 5 - math.pi / 2
        px, py = cx + r * math.cos(a), cy + r * math.sin(a)
        d.ellipse(_sub(b, px - 0.16, py - 0.16, px + 0.16, py + 0.16), fill=(235, 60, 200))
    d.ellipse(_sub(b, cx - 0.12, cy - 0.12, cx + 0.12, cy + 0.12), fill=(255, 215, 0))


def _stop_sign(d: ImageDraw.ImageDraw, b: Box) -> None:
    octagon = [(0.5 + 0.5 * math.cos(math.pi / 8 + k * math.pi / 4), 0.5 + 0.5 * math.sin(math.pi / 8 + k * math.pi / 4))
               for k in range(8)]
    d.polygon(_pts(b, *octagon), fill=(200, 10, 20), outline=(255, 255, 255), width=_lw(b, 0.06))
    d.rectangle(_sub(b, 0.2, 0.42, 0.8, 0.58), fill=(255, 255, 255))


def _ball(d: ImageDraw.ImageDraw, b: Box) -> None:
    d.ellipse(b, fill=(250, 250, 250), outline=(0, 0, 0), width=_lw(b, 0.05))
    pent = [(0.5 + 0.18 * math.cos(-math.pi / 2 + k * 2 * math.pi / 5), 0.5 + 0.18 * math.sin(-math.pi / 2 + k * 2 * math.pi / 5))
            for k in range(5)]
    d.polygon(_pts(b, *pent), fill=(0, 0, 0))
    for x, y in pent:
        d.line(_pts(b, (x, y), (0.5 + (x - 0.5) * 2.6, 0.5 + (y - 0.5) * 2.6)), fill=(0, 0, 0), width=_lw(b, 0.04))


def _kite(d: ImageDraw.ImageDraw, b: Box) -> None:
    c = (0.5, 0.35)
    corners = [(0.5, 0.0), (0.9, 0.35), (0.5, 0.8), (0.1, 0.35)]
    colours = [(230, 30, 30), (30, 90, 230), (250, 210, 0), (30, 170, 60)]
    for k, colour in enumerate(colours):
        d.polygon(_pts(b, c, corners[k], corners[(k + 1) % 4]), fill=colour)
    d.line(_pts(b, (0.5, 0.8), (0.4, 0.9), (0.55, 0.95), (0.45, 1.0)), fill=(20, 20, 20), width=_lw(b, 0.04))


def _racket(d: ImageDraw.ImageDraw, b: Box) -> None:
    head = _sub(b, 0.0, 0.0, 1.0, 0.62)
    d.ellipse(head, fill=(235, 250, 200))
    for f in (0.2, 0.4, 0.6, 0.8):
        d.line(_pts(b, (f, 0.05), (f, 0.57)), fill=(120, 140, 90), width=1)
        d.line(_pts(b, (0.05, f * 0.62), (0.95, f * 0.62)), fill=(120, 140, 90), width=1)
    d.ellipse(head, outline=(20, 20, 20), width=_lw(b, 0.1))
    d.rectangle(_sub(b, 0.42, 0.6, 0.58, 1.0), fill=(20, 20, 20))


TAXONOMY: tuple[ToyCategory, ...] = (
    ToyCategory("apple", "food", 1.0, 1.2, _apple),
    ToyCategory("banana", "food", 1.6, 0.8, _banana),
    ToyCategory("carrot", "food", 0.6, 0.7, _carrot),
    ToyCategory("car", "vehicle", 1.6, 2.2, _car),
    ToyCategory("bus", "vehicle", 1.8, 0.7, _bus),
    ToyCategory("bicycle", "vehicle", 1.5, 0.9, _bicycle),
    ToyCategory("cat", "animal", 1.0, 1.0, _cat),
    ToyCategory("fish", "animal", 1.6, 0.8, _fish),
    ToyCategory("bird", "animal", 1.2, 1.4, _bird),
    ToyCategory("cup", "kitchen", 1.0, 1.0, _cup),
    ToyCategory("bottle", "kitchen", 0.5, 0.9, _bottle),
    ToyCategory("bowl", "kitchen", 1.6, 0.6, _bowl),
    ToyCategory("tree", "outdoor", 0.8, 3.0, _tree),
    ToyCategory("flower", "outdoor", 0.8, 1.6, _flower),
    ToyCategory("stop sign", "outdoor", 1.0, 0.5, _stop_sign),
    ToyCategory("ball", "sports", 1.0, 1.5, _ball),
    ToyCategory("kite", "sports", 0.8, 0.7, _kite),
    ToyCategory("racket", "sports", 0.6, 0.5, _racket),
)

# How many categories an image holds (0..6) and how many instances of one (1..10): mostly few, long tail.
_N_CATEGORIES_P = np.array([0.02, 0.08, 0.22, 0.28, 0.22, 0.12, 0.06])
_COUNT_P = np.array([30, 22, 15, 10, 7, 5, 4, 3, 2, 2], dtype=float) / 100
CROWD_RATE = 0.05
_MAX_OVERLAP = 0.2  # an object may hide at most this fraction of another's box (and of its own)


@dataclass(frozen=True)
class ToyPreset:
    """What varies between toy worlds: the scene size, which categories exist, how many of them an image
    holds and how large they are drawn. Everything else (icons, layout rules, COCO records) is shared."""

    name: str
    size: int
    categories: tuple[str, ...]
    """Names from TAXONOMY, in TAXONOMY order (category ids follow this order)."""
    n_categories_p: tuple[float, ...]
    """P(an image holds k categories), k = 0, 1, ..."""
    count_p: tuple[float, ...]
    """P(a held category has n instances), n = 1, 2, ..."""
    crowd_rate: float
    max_icon: float
    """Largest long side of an icon, px."""
    icon_scale: float
    """Icons shrink as `icon_scale / sqrt(objects + 1)` px in busy scenes."""
    backgrounds: int = 3
    """How many of the background kinds (gradient, horizon, tiles) scenes draw from, in that order."""

    @property
    def taxonomy(self) -> tuple[ToyCategory, ...]:
        return tuple(c for c in TAXONOMY if c.name in self.categories)


PRESETS: dict[str, ToyPreset] = {p.name: p for p in (
    ToyPreset("default", SIZE, tuple(c.name for c in TAXONOMY), tuple(_N_CATEGORIES_P.tolist()),
              tuple(_COUNT_P.tolist()), CROWD_RATE, 70.0, 190.0),
    # A world a model of ~1M parameters can learn on a CPU: 112 px (16 vision tokens for a Qwen2-VL at
    # patch 14 / merge 2), four large, clearly coloured icons in two supercategories (so listing, common and
    # odd_one all work), 0-2 categories and 1-3 instances each, plain gradient backgrounds, no crowds.
    ToyPreset("tiny", 112, ("apple", "banana", "car", "bus"), (0.1, 0.5, 0.4), (0.5, 0.3, 0.2), 0.0,
              40.0, 80.0, backgrounds=1),
    # The `tiny` world drawn twice as large (224 px: 64 vision tokens per image at patch 14 / merge 2, so a
    # pixel cap can vary the tokens per image from 64 down to 9 with the same content), and with few blank
    # scenes (2%, not 10%), so common / odd_one samples rarely hold an image with nothing in it.
    ToyPreset("study", 224, ("apple", "banana", "car", "bus"), (0.02, 0.53, 0.45), (0.5, 0.3, 0.2), 0.0,
              80.0, 160.0, backgrounds=1),
)}
"""Named toy worlds (`mimic toy --toy-preset NAME`); `default` is the original world, byte for byte."""


def get_preset(name: str | ToyPreset, option: str = "--toy-preset") -> ToyPreset:
    """The preset called `name`; an unknown name is a MimicError naming `option`."""
    if isinstance(name, ToyPreset):
        return name
    try:
        return PRESETS[name]
    except KeyError:
        raise MimicError(f"{option} {name!r}: unknown toy world preset; choose one of {', '.join(PRESETS)}") from None


# ---------------------------------------------------------------- scene layout (pure, seeded)

@dataclass(frozen=True)
class _Object:
    category: int
    box: Box
    crowd: bool = False


def _overlap_ok(box: Box, placed: list[Box]) -> bool:
    area = (box[2] - box[0]) * (box[3] - box[1])
    for p in placed:
        iw = min(box[2], p[2]) - max(box[0], p[0])
        ih = min(box[3], p[3]) - max(box[1], p[1])
        if iw > 0 and ih > 0:
            inter = iw * ih
            if inter > _MAX_OVERLAP * min(area, (p[2] - p[0]) * (p[3] - p[1])):
                return False
    return True


def _place(rng: np.random.Generator, aspect: float, size: float, placed: list[Box], scene: int = SIZE) -> Box | None:
    """A box of about `size` px (long side) that overlaps `placed` only a little; shrinks when crowded."""
    for _ in range(6):
        w, h = (size, size / aspect) if aspect >= 1 else (size * aspect, size)
        for _ in range(25):
            x, y = rng.random() * (scene - w), rng.random() * (scene - h)
            box = (float(round(x)), float(round(y)), float(round(x + w)), float(round(y + h)))
            if _overlap_ok(box, placed):
                return box
        size *= 0.8
        if size < 12:
            return None
    return None


def _scene(rng: np.random.Generator, preset: ToyPreset) -> list[_Object]:
    """Choose categories and counts, then lay the objects out (a crowd cluster first, if any)."""
    taxonomy, size = preset.taxonomy, preset.size
    weights = np.array([c.weight for c in taxonomy])
    n_categories_p, count_p = np.array(preset.n_categories_p), np.array(preset.count_p)
    k = int(rng.choice(len(n_categories_p), p=n_categories_p))
    chosen = rng.choice(len(taxonomy), size=k, replace=False, p=weights / weights.sum())
    counts = rng.choice(np.arange(1, len(count_p) + 1), size=k, p=count_p)
    objects: list[_Object] = []
    placed: list[Box] = []
    if rng.random() < preset.crowd_rate:
        cat = int(rng.choice(len(taxonomy), p=weights / weights.sum()))
        side = int(rng.integers(55, 90))
        x0, y0 = (int(v) for v in rng.integers(0, size - side, size=2))
        region = (float(x0), float(y0), float(x0 + side), float(y0 + side))
        members = []
        for _ in range(int(rng.integers(12, 22))):
            w = float(rng.integers(12, 18))
            h = max(6.0, round(w / taxonomy[cat].aspect))
            x, y = x0 + rng.random() * (side - w), y0 + rng.random() * (side - h)
            members.append((float(round(x)), float(round(y)), float(round(x + w)), float(round(y + h))))
        objects += [_Object(cat, m, crowd=True) for m in members]
        placed.append(region)
    total = int(counts.sum())
    top = min(preset.max_icon, preset.icon_scale / math.sqrt(total + 1))
    for cat, n in zip(chosen.tolist(), counts.tolist(), strict=True):
        for _ in range(n):
            box = _place(rng, taxonomy[cat].aspect, top * (0.55 + 0.45 * rng.random()), placed, size)
            if box is not None:
                placed.append(box)
                objects.append(_Object(cat, box))
    order = rng.permutation(len(objects))  # drawing order: crowds are not always underneath
    return [objects[i] for i in order]


def _background(rng: np.random.Generator, size: int = SIZE, kinds: int = 3) -> Image.Image:
    """Light gradients, horizons or tiles so that every icon stays visible."""
    a, b = (rng.integers(150, 246, size=3) for _ in range(2))
    kind = int(rng.integers(0, kinds))
    t = np.linspace(0.0, 1.0, size)[:, None, None]
    if kind == 0:  # vertical or horizontal gradient
        img = a + (b - a) * t
        if rng.random() < 0.5:
            img = img.transpose(1, 0, 2)
        img = np.broadcast_to(img, (size, size, 3))
    elif kind == 1:  # sky over ground
        horizon = int(rng.integers(size // 3, 2 * size // 3))
        img = np.where(np.arange(size)[:, None, None] < horizon, a, b) * np.ones((1, size, 1))
    else:  # large soft tiles
        tile = int(rng.integers(32, 65))
        yy, xx = np.mgrid[0:size, 0:size]
        img = np.where((((yy // tile) + (xx // tile)) % 2 == 0)[..., None], a, (a + b) / 2)
    return Image.fromarray(np.ascontiguousarray(img).astype(np.uint8), "RGB")


# ---------------------------------------------------------------- COCO records

def _rle(mask: np.ndarray) -> dict[str, Any]:
    """Uncompressed COCO RLE (column-major run lengths, starting with zeros), as COCO stores crowds."""
    flat = mask.flatten(order="F").astype(np.int8)
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    runs = np.diff(bounds).tolist()
    if flat[0] == 1:
        runs = [0, *runs]
    return {"counts": runs, "size": [int(mask.shape[0]), int(mask.shape[1])]}


def _annotations(objects: list[_Object], image_id: int, first_id: int, size: int = SIZE) -> list[dict[str, Any]]:
    """One annotation per single object; one iscrowd=1 region covering a crowd cluster."""
    out: list[dict[str, Any]] = []
    for o in objects:
        if o.crowd:
            continue
        x0, y0, x1, y1 = o.box
        w, h = x1 - x0, y1 - y0
        out.append({"id": 0, "image_id": image_id, "category_id": o.category + 1,
                    "segmentation": [[x0, y0, x1, y0, x1, y1, x0, y1]], "area": w * h,
                    "bbox": [x0, y0, w, h], "iscrowd": 0})
    crowd = [o for o in objects if o.crowd]
    if crowd:
        mask = np.zeros((size, size), dtype=bool)
        for o in crowd:
            x0, y0, x1, y1 = (int(v) for v in o.box)
            mask[y0:y1, x0:x1] = True
        ys, xs = np.nonzero(mask)
        x0, y0, x1, y1 = float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)
        out.append({"id": 0, "image_id": image_id, "category_id": crowd[0].category + 1,
                    "segmentation": _rle(mask), "area": float(mask.sum()),
                    "bbox": [x0, y0, x1 - x0, y1 - y0], "iscrowd": 1})
    for k, a in enumerate(out):
        a["id"] = first_id + k
    return out


def render_toy_world(out_dir: Path, n_images: int = 500, seed: int = 0, overwrite: bool = False,
                     progress: Progress | None = None, preset: str | ToyPreset = "default") -> Path:
    """Render `n_images` scenes of the `preset` world into `out_dir` (built atomically); return the
    annotations.json path. `progress` hears of each image; it does not affect the output. Worlds other than
    `default` record their preset in `info`.
    """
    p = get_preset(preset)
    if n_images < 1:
        raise MimicError(f"--toy-images: need at least 1 image, got {n_images}")
    rng = np.random.default_rng(seed)
    taxonomy = p.taxonomy
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    with atomic_dir(out_dir, overwrite=overwrite, marker=has_files("annotations.json", "images")) as tmp:
        (tmp / "images").mkdir()
        for i in range(n_images):
            img = _background(rng, p.size, p.backgrounds)
            objects = _scene(rng, p)
            draw = ImageDraw.Draw(img)
            for o in objects:
                taxonomy[o.category].draw(draw, o.box)
            name = f"toy_{i:06d}.png"
            img.save(tmp / "images" / name, format="PNG", compress_level=6)
            images.append({"id": i + 1, "file_name": name, "width": p.size, "height": p.size, "license": 1})
            annotations += _annotations(objects, i + 1, len(annotations) + 1, p.size)
            report(progress, "toy world", i + 1, n_images)
        info: dict[str, Any] = {"description": "mimic-vlm toy world", "version": "1.0", "year": 2026,
                                "contributor": "mimic-vlm", "seed": seed}
        if p.name != "default":
            info["preset"] = p.name
        coco = {
            "info": info,
            "licenses": [{"id": 1, "name": "CC0 1.0", "url": "https://creativecommons.org/publicdomain/zero/1.0/"}],
            "images": images,
            "annotations": annotations,
            "categories": [{"id": k + 1, "name": c.name, "supercategory": c.supercategory}
                           for k, c in enumerate(taxonomy)],
        }
        write_bytes_atomic(tmp / "annotations.json", orjson.dumps(coco))
    return Path(out_dir) / "annotations.json"


def ensure_toy_world(out_dir: Path, n_images: int = 500, seed: int = 0, preset: str | ToyPreset = "default") -> Path:
    """The annotations.json of the toy world in `out_dir`, rendering it first if it is not there yet."""
    ann = Path(out_dir) / "annotations.json"
    return ann if ann.is_file() else render_toy_world(out_dir, n_images, seed, preset=preset)
