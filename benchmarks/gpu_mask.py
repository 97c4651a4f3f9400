"""GPU check of the image-block mask, one short script (about 3-5 min on an H200; NOT run yet: no GPU so far).

bf16, 8 images x 730 tokens + 60 text (5,900 tokens), LLaVA-OV-0.5B shapes:
1. one attention layer, forward and forward + backward: causal SDPA, the official dense mask, ours through
   `sdpa`, `flex` and `blocks`, with stored mask bytes and peak memory (CUDA allocator); then forward and
   forward + backward with 8 images of unequal lengths (330-1,130 tokens, Qwen2-VL at native resolution),
   where `blocks` runs every image in one varlen flash call;
2. whole-model prefill of the 24-layer random decoder: no mask vs layers 12-23 (auto, sdpa, flex, blocks) and
   all layers, with the FLOP ceiling;
3. a LoRA training step (forward + backward), mask on layers 12-23 (auto, then flex) vs no mask.
What `auto` picks on CUDA (`masking.attention.AUTO`) should follow the fastest exact row of 2 and 3.

    python benchmarks/gpu_mask.py | tee gpu_mask.md
    python benchmarks/gpu_mask.py --smoke   # the same code on a CPU at tiny shapes: a plumbing check only
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "src")]  # runs from a plain checkout, installed or not
from bench_mask import (  # noqa: E402
    OV_05B,
    TextModelShape,
    bench_layer,
    bench_model,
    bench_train,
    ceiling,
    layer_table,
    layout_ids,
    model_table,
)
from mimic_vlm.masking import ImageBlockMask  # noqa: E402

SMOKE = dict(hidden_size=112, intermediate_size=256, num_attention_heads=14, num_key_value_heads=2)


def main() -> None:
    smoke = "--smoke" in sys.argv
    if not smoke and not torch.cuda.is_available():
        sys.exit("gpu_mask.py needs a CUDA device (or --smoke for a CPU plumbing check)")
    start = time.perf_counter()
    device, dtype = ("cpu", torch.float32) if smoke else ("cuda", torch.bfloat16)
    images, tokens, layers, dims, repeats = (3, 130, 2, SMOKE, 1) if smoke else (8, 730, 24, OV_05B, 5)
    ids = layout_ids(images, tokens, 60, device=device)
    name = "CPU smoke run" if smoke else torch.cuda.get_device_name()
    print(f"# {name}, torch {torch.__version__}, {dtype}, {ids.shape[1]} tokens\n", flush=True)
    for backward in (False, True):
        backends = ("sdpa", "blocks") if smoke and backward else ("sdpa", "flex", "blocks")  # no flex bwd on CPU
        rows = bench_layer("llava-ov-0.5b", ids, dtype, backward, repeats, backends)
        print(layer_table(rows, backward=backward), "\n", flush=True)
    sizes = (40, 90, 130, 60) if smoke else (330, 530, 730, 930, 1130, 730, 530, 930)
    unequal = layout_ids(len(sizes), sizes, 60, device=device)
    print(f"unequal images: {', '.join(map(str, sizes))} tokens ({unequal.shape[1]} in all)\n", flush=True)
    for backward in (False, True):
        backends = ("sdpa", "blocks") if smoke and backward else ("sdpa", "flex", "blocks")
        rows = bench_layer("llava-ov-0.5b", unequal, dtype, backward, repeats, backends)
        print(layer_table(rows, backward=backward), "\n", flush=True)
    shape = TextModelShape(layers, 14, 2, dims["hidden_size"] // 14, dims["hidden_size"], dims["intermediate_size"])
    half, full = ceiling(shape, ids, layers - layers // 2), ceiling(shape, ids, layers)
    deep = f"layers {layers // 2}-{layers - 1}"
    configs = {"no mask (sdpa)": None, **{f"{b}, {deep}": ImageBlockMask("second-half", b)
                                          for b in ("auto", "sdpa", "flex", "blocks")},
               "auto, all layers": ImageBlockMask("all", "auto")}
    ceilings = {label: full if "all" in label else half for label in configs if label != "no mask (sdpa)"}
    rows = bench_model(layers, dims, ids, repeats, configs, dtype=dtype)
    print(model_table(rows, ceilings, f"prefill, {layers} layers"), "\n", flush=True)
    for backend in ("auto",) if smoke else ("auto", "flex"):
        rows = bench_train(layers, dims, ids, repeats, backend, 8 if smoke else 128, dtype=dtype)
        print(model_table(rows, {rows[1]["method"]: half}, f"LoRA step (fwd+bwd), {layers} layers"), "\n",
              flush=True)
    print(f"(total {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
