"""CLI commands of the annotations area: `mimic toy` renders the built-in toy world."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from mimic_vlm.commands.options import Overwrite, ToyImages, ToyPreset, seed_option
from mimic_vlm.commands.progress import RichProgress


def register(app: typer.Typer) -> None:
    app.command("toy")(toy)


def toy(
    out: Path = typer.Option(..., "--out", help="Folder to create: images/*.png and annotations.json (COCO format)."),
    images: ToyImages = 500,
    seed: int = seed_option("Random seed; the same seed gives byte-identical files."),
    overwrite: Overwrite = False,
    preset: ToyPreset = "default",
) -> None:
    """Render the built-in toy world: COCO-like scenes with exact COCO instance annotations."""
    from mimic_vlm.annotations.load import load_catalog
    from mimic_vlm.annotations.toyworld import get_preset
    from mimic_vlm.api import toy_world

    world = get_preset(preset)  # an unknown preset fails before anything is rendered

    start = time.perf_counter()
    with RichProgress(transient=True) as progress:
        ann = toy_world(out, images, seed, preset=world.name, overwrite=overwrite, progress=progress)
    elapsed = time.perf_counter() - start
    catalog = load_catalog("toy", ann, out / "images")
    table = Table(title=f"toy world in {out}", show_header=False)
    for key, value in (("images", catalog.n_images), ("categories", catalog.n_categories),
                       ("supercategories", len(catalog.supercategory_members)),
                       ("instances", int(catalog.counts.sum())), ("crowd regions", int(catalog.uncertain.sum())),
                       ("seed", seed), ("preset", world.name), ("elapsed", f"{elapsed:.1f} s")):
        table.add_row(key, str(value))
    Console().print(table)
