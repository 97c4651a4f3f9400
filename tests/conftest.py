"""Shared test set-up: one torch thread, offline, paths to the shared real-data fixtures, a hand-made bench."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mimic_vlm.files import write_json_atomic, write_jsonl_atomic
from mimic_vlm.schema import Sample

# A test run started in the background of a non-interactive shell (`make test &`) inherits SIGINT ignored, and
# so would every CLI a test starts: the Ctrl-C tests need SIGINT delivered as it is in a terminal.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

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


# ---- a hand-made counting bench (real PNGs, real per-image objects), independent of the generator, so the
# diagnostics and bench transforms are pinned down alone

OBJECTS = [{"dog": 2, "cat": 1}, {"cat": 3}, {"dog": 1}, {"car": 2}]


def make_bench(root: Path, n_samples: int = 2, size: int = 112) -> Path:
    """Counting samples over 4 images (dogs in images 0 and 2): targets and distractors are known."""
    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    names = []
    for i in range(len(OBJECTS)):
        name = f"images/img_{i}.png"
        Image.fromarray(rng.integers(0, 255, (size, size + 14 * i, 3), dtype=np.uint8)).save(root / name)
        names.append(name)
    samples = [Sample(id=f"counting-{k:06d}", task="counting", images=names, question="How many dogs are there?",
                      answer=3, gt="3", targets=["dog"], controls={"n_images": 4, "spread": 2, "distractors": 2,
                                                                    "concepts": 1},
                      source="toy", image_objects=[dict(o) for o in OBJECTS],
                      image_uncertain=[[] for _ in OBJECTS]).to_dict() for k in range(n_samples)]
    write_jsonl_atomic(root / "samples.jsonl", samples)
    write_json_atomic(root / "manifest.json", {"vocabulary": {
        "dog": {"supercategory": "animal"}, "cat": {"supercategory": "animal"}, "car": {"supercategory": "vehicle"}}})
    return root


@pytest.fixture
def bench_dir(tmp_path: Path) -> Path:
    return make_bench(tmp_path / "bench")
