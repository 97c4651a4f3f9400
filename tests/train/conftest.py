"""Toy multi-image conversations with a learnable answer (how many of the images are red), in both layouts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

RED, BLUE = (220, 20, 20), (20, 20, 220)


def write_toy(folder: Path, n: int = 8) -> dict[str, Path]:
    """`n` samples of 1-3 small images; the answer is the number of red images. Returns the data files."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "images").mkdir(exist_ok=True)
    llava, messages = [], []
    for i in range(n):
        colours = [RED if (i >> j) & 1 else BLUE for j in range(1 + i % 3)]
        paths = []
        for j, c in enumerate(colours):
            Image.new("RGB", (56, 56), c).save(folder / f"images/{i}_{j}.png")
            paths.append(f"images/{i}_{j}.png")
        q, a = "How many red images?", str(colours.count(RED))
        llava.append({"id": f"toy-{i}", "image": paths, "conversations": [
            {"from": "human", "value": "<image>\n" * len(paths) + q}, {"from": "gpt", "value": a}]})
        messages.append({"id": f"toy-{i}", "images": paths, "messages": [
            {"role": "user", "content": [{"type": "image"}] * len(paths) + [{"type": "text", "text": q}]},
            {"role": "assistant", "content": [{"type": "text", "text": a}]}]})
    (folder / "train_llava.json").write_text(json.dumps(llava))
    (folder / "train_messages.jsonl").write_text("".join(json.dumps(m) + "\n" for m in messages))
    return {"llava": folder / "train_llava.json", "messages": folder / "train_messages.jsonl"}


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> dict[str, Path]:
    return write_toy(tmp_path_factory.mktemp("toy"))
