"""Peak memory of the attention probe against `output_attentions=True` (both eager), 8 images x 256 tokens.

A tiny Qwen2-VL (random weights) with a realistic sequence: 8 images of 448x448 px = 8 x 256 vision tokens
plus the prompt; 24 text layers, 8 heads (head dim 16), as deep as LLaVA-OV-0.5B. Each measurement runs in
a fresh subprocess; the peak resident memory of the forward alone is measured by resetting the kernel's
high-water mark (/proc/self/clear_refs) after the model and inputs are built. On a GPU (`--device cuda`)
`torch.cuda.max_memory_allocated` is used instead.

    .venv/bin/python benchmarks/bench_probe.py [--layers 24] [--images 8] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

MODES = ("sdpa (no probe, reference)", "probe (eager + block sums)", "eager + output_attentions=True")


def rss_kib(field: str) -> int:
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1])
    raise RuntimeError(field)


def measure(mode: int, layers: int, images: int, device: str) -> dict[str, float]:
    import numpy as np
    import torch
    from PIL import Image

    from mimic_vlm.masking import image_block_ids
    from mimic_vlm.models.tiny import build
    from mimic_vlm.probe.attention import AttentionProbe, BlockCollector, collecting, token_groups

    torch.set_num_threads(2)
    model, proc = build("qwen2_vl", num_layers=layers, hidden_size=128, num_attention_heads=8,
                        intermediate_size=256, max_pixels=448 * 448)
    model = model.to(device)
    rng = np.random.default_rng(0)
    ims = [Image.fromarray(rng.integers(0, 255, (448, 448, 3), dtype=np.uint8)) for _ in range(images)]
    msgs = [[{"role": "user", "content": [{"type": "image", "image": im} for im in ims]
              + [{"type": "text", "text": "Question: How many dogs are there in total?\nAnswer:"}]}]]
    inputs = proc.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True, return_dict=True,
                                      return_tensors="pt").to(device)
    seq = inputs["input_ids"].shape[1]
    blocks = image_block_ids(inputs["input_ids"], model)[0]
    queries, keys = token_groups(blocks, slice(seq - 20, seq - 1), images)
    collector = BlockCollector(queries[None], keys[None], images + 2, images + 1)
    if mode == 1:
        AttentionProbe().attach(model)
    if mode == 2:
        model.set_attn_implementation({"text_config": "eager"})
    with torch.inference_mode():
        if device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
        else:
            open("/proc/self/clear_refs", "w").write("5")  # reset the peak RSS to the current RSS
            base = rss_kib("VmRSS") * 1024
        start = time.perf_counter()
        with collecting(collector):
            out = model(**inputs, output_attentions=mode == 2)
        if device == "cuda":
            torch.cuda.synchronize()
            peak = torch.cuda.max_memory_allocated()
        else:
            peak = rss_kib("VmHWM") * 1024
        seconds = time.perf_counter() - start
    assert mode != 1 or len(collector.sums) == layers
    assert mode != 2 or len(out.attentions) == layers
    return {"seq": seq, "peak_mib": (peak - base) / 2**20, "seconds": seconds}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=24)
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one is not None:
        print(json.dumps(measure(a.one, a.layers, a.images, a.device)))
        return
    rows = []
    for mode in range(len(MODES)):
        cmd = [sys.executable, __file__, "--one", str(mode), "--layers", str(a.layers), "--images", str(a.images),
               "--device", a.device]
        rows.append(json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()[-1]))
    seq = rows[0]["seq"]
    print(f"qwen2_vl tiny, {a.layers} layers x 8 heads, {a.images} images x 256 tokens, sequence {seq}, "
          f"device {a.device}; one layer's fp32 attention = {8 * seq * seq * 4 / 2**20:.0f} MiB\n")
    print("| forward | peak extra memory (MiB) | time (s) |\n|---|---|---|")
    for name, r in zip(MODES, rows, strict=True):
        print(f"| {name} | {r['peak_mib']:.0f} | {r['seconds']:.2f} |")
    print(f"\noutput_attentions / probe peak: {rows[2]['peak_mib'] / rows[1]['peak_mib']:.1f}x")


if __name__ == "__main__":
    main()
