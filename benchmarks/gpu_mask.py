"""GPU check of the image-block mask: bf16, one attention layer forward + backward at 8 images x 730 tokens
(LLaVA-OV-0.5B and 7B heads), then a whole-model prefill of a LLaVA-OV-0.5B-shaped random decoder
(24 layers) with the mask on layers 12-23 vs no mask. Prints markdown tables. About 2-3 min on an H200.

    python benchmarks/gpu_mask.py | tee gpu_mask.md
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "src")]  # runs from a plain checkout, installed or not
from bench_mask import bench_layer, bench_model, layer_table, layout_ids, model_table  # noqa: E402


def main() -> None:
    if not torch.cuda.is_available():
        sys.exit("gpu_mask.py needs a CUDA device")
    start = time.perf_counter()
    ids = layout_ids(8, 730, 60, device="cuda")
    print(f"# {torch.cuda.get_device_name()}, torch {torch.__version__}, bf16, {ids.shape[1]} tokens\n", flush=True)
    rows = [r for shape in ("llava-ov-0.5b", "llava-ov-7b") for r in bench_layer(shape, ids, torch.bfloat16, True, 5)]
    print(layer_table(rows, backward=True), "\n", flush=True)
    print(model_table(bench_model(24, ids, 5, dtype=torch.bfloat16)))
    print(f"\n(total {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
