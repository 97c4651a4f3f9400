"""Shared test set-up: one torch thread, offline, paths to the shared real-data fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MPLBACKEND", "Agg")

try:
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover
    pass

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def coco_sample() -> Path:
    """The 38 real COCO images with annotations (../shared/data/coco-sample); skipped where absent."""
    d = SHARED_DATA / "coco-sample"
    if not (d / "annotations" / "instances_train2017.json").exists():
        pytest.skip(f"real COCO sample not found at {d} (a fresh clone without ../shared)")
    return d


@pytest.fixture(scope="session")
def openimages_meta() -> Path:
    """Real OpenImages V7 class descriptions and hierarchy; skipped where absent."""
    d = SHARED_DATA / "openimages-v7-meta"
    if not (d / "bbox_labels_600_hierarchy.json").exists():
        pytest.skip(f"OpenImages metadata not found at {d}")
    return d
