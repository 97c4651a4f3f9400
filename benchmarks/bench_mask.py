"""Image-block mask: one attention layer and a whole-model prefill at real shapes (8 images x 730 tokens).

Per layer, side by side in one process: causal SDPA with no mask, the official approach (a dense
`[B, H, L, L]` bool mask built with `.repeat` per head, k/v repeated per head as transformers 4.46 did), ours
with sdpa (one `[B, 1, L, L]` bool mask, through the registered attention function) and ours with flex
(compiled FlexAttention + BlockMask). Then a whole-model prefill of a LLaVA-OV-0.5B-shaped random decoder
with the mask on the deeper half, against the same model with no mask.

    .venv/bin/python benchmarks/bench_mask.py --threads 1   # CPU, fp32
    .venv/bin/python benchmarks/bench_mask.py --quick    # small shapes, a smoke run
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable
from functools import partial
from types import SimpleNamespace

import torch
import torch.nn.functional as F
from torch.nn.attention.flex_attention import flex_attention
from transformers.integrations.sdpa_attention import sdpa_attention_forward

from mimic_vlm.masking.mask import block_mask, restrict_bool

SHAPES = {"llava-ov-0.5b": (14, 2, 64), "llava-ov-7b": (28, 4, 128)}  # heads, kv heads, head dim


def layout_ids(images: int, tokens: int, text: int, device: str = "cpu") -> torch.Tensor:
    """(1, L) block ids: text/2, then `images` images of `tokens`, then text/2."""
    half = [-1] * (text // 2)
    return torch.tensor([half + [k for k in range(images) for _ in range(tokens)] + half], device=device)


def official_mask(ids: torch.Tensor, heads: int) -> torch.Tensor:
    """The official construction: causal tril repeated per head, then each image's rows cut before its start."""
    batch, n = ids.shape
    mask = torch.ones(n, n, dtype=torch.bool, device=ids.device).tril().repeat(batch, heads, 1, 1)
    for b in range(batch):
        for k in range(int(ids[b].max()) + 1):
            span = (ids[b] == k).nonzero().flatten()
            start, end = int(span[0]), int(span[-1]) + 1
            mask[b, :, start:end, :start] = False
    return mask


class PeakMemory:
    """Peak memory above the start: CUDA allocator stats, or sampled process RSS on CPU."""

    def __init__(self, device: str) -> None:
        self.device = device

    def __enter__(self) -> PeakMemory:
        if self.device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.start = torch.cuda.memory_allocated()
            return self
        import psutil

        proc, self.start, self.peak, self.running = psutil.Process(), None, 0, True
        self.start = proc.memory_info().rss

        def sample() -> None:
            while self.running:
                self.peak = max(self.peak, proc.memory_info().rss)
                time.sleep(0.002)

        self.thread = threading.Thread(target=sample, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.device == "cuda":
            torch.cuda.synchronize()
            self.bytes = torch.cuda.max_memory_allocated() - self.start
        else:
            self.running = False
            self.thread.join()
            self.bytes = max(self.peak - self.start, 0)


def call(fn: Callable[[], object], device: str) -> tuple[object, float, int]:
    """(result, seconds, peak bytes) of one call."""
    with PeakMemory(device) as mem:
        start = time.perf_counter()
        out = fn()
        if device == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    return out, seconds, mem.bytes


def round_robin(fns: dict[str, Callable[[], object]], device: str, repeats: int) -> dict[str, dict]:
    """Call every fn once (first call: compiles), then `repeats` rounds in turn, so load changes on a shared
    machine hit every method alike. Per name: first output, first-call seconds, best seconds, largest peak."""
    out: dict[str, dict] = {}
    for round_ in range(repeats + 1):
        for name, fn in fns.items():
            result, seconds, peak = call(fn, device)
            if round_ == 0:
                out[name] = {"output": result, "first_call_s": seconds, "seconds": float("inf"), "peak_bytes": 0}
            else:
                r = out[name]
                r["seconds"], r["peak_bytes"] = min(r["seconds"], seconds), max(r["peak_bytes"], peak)
    return out


def layer_methods(ids: torch.Tensor, heads: int, kv_heads: int, head_dim: int, dtype: torch.dtype,
                  backward: bool) -> dict[str, tuple[Callable[[], object], Callable[[object], torch.Tensor]]]:
    """name -> (build the mask, attend with it). Inputs are created once and shared."""
    device, n = ids.device, ids.shape[1]
    g = torch.Generator(device=device).manual_seed(0)
    q = torch.randn(1, heads, n, head_dim, device=device, dtype=dtype, generator=g, requires_grad=backward)
    k, v = (torch.randn(1, kv_heads, n, head_dim, device=device, dtype=dtype, generator=g, requires_grad=backward)
            for _ in range(2))
    groups = heads // kv_heads
    module = SimpleNamespace(layer_idx=0, num_key_value_groups=groups, is_causal=True, training=backward)
    flex = torch.compile(flex_attention)

    def rep(x: torch.Tensor) -> torch.Tensor:
        return x.repeat_interleave(groups, dim=1)

    return {
        "causal sdpa, no mask": (lambda: None, lambda m: F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                                                                         enable_gqa=True)),
        "official dense [B,H,L,L]": (lambda: official_mask(ids, heads),
                                     lambda m: F.scaled_dot_product_attention(q, rep(k), rep(v), attn_mask=m)),
        "ours sdpa [B,1,L,L]": (lambda: restrict_bool(None, ids, n, n),
                                lambda m: sdpa_attention_forward(module, q, k, v, m)[0].transpose(1, 2)),
        "ours flex BlockMask": (lambda: block_mask(ids, None, n, n),
                                lambda bm: flex(q, k, v, block_mask=bm, enable_gqa=True)),
    }


def mask_bytes(mask: object) -> int:
    if isinstance(mask, torch.Tensor):
        return mask.numel() * mask.element_size()
    if mask is None:
        return 0
    return sum(t.numel() * t.element_size() for t in mask.as_tuple() if isinstance(t, torch.Tensor))


def bench_layer(shape: str, ids: torch.Tensor, dtype: torch.dtype, backward: bool, repeats: int) -> list[dict]:
    heads, kv_heads, head_dim = SHAPES[shape]
    device = ids.device.type
    methods = layer_methods(ids, heads, kv_heads, head_dim, dtype, backward)
    masks, build_s = {}, {}
    for name, (build, _) in methods.items():  # ours sdpa: what one forward builds once for all masked layers
        call(build, device)  # may compile
        masks[name], build_s[name], _ = call(build, device)

    def step(name: str) -> torch.Tensor:
        out = methods[name][1](masks[name])
        if backward:
            out.float().sum().backward()
        return out.detach().float()

    runs = round_robin({name: partial(step, name) for name in methods}, device, repeats)
    official = next(r["output"] for name, r in runs.items() if name.startswith("official"))
    return [{"shape": shape, "method": name, "mask_bytes": mask_bytes(masks[name]), "build_s": build_s[name],
             "first_call_s": r["first_call_s"], "seconds": r["seconds"], "peak_bytes": r["peak_bytes"],
             "max_diff_vs_official": None if name.startswith(("causal", "official"))
             else float((r["output"] - official).abs().max())} for name, r in runs.items()]


def bench_model(layers: int, ids: torch.Tensor, repeats: int, dtype: torch.dtype = torch.float32) -> list[dict]:
    """Prefill of a LLaVA-OV-0.5B-shaped decoder (random weights): no mask vs the mask on the deeper half (and all)."""
    from mimic_vlm.masking import ImageBlockMask
    from mimic_vlm.models.tiny import build

    model, proc = build("qwen2_vl", num_layers=layers, hidden_size=896, intermediate_size=4864,
                        num_attention_heads=14, num_key_value_heads=2)
    model.to(ids.device, dtype)
    cfg, n = model.config, ids.shape[1]
    input_ids = torch.full_like(ids, 33)  # text tokens
    starts = torch.ones_like(ids, dtype=torch.bool)
    starts[:, 1:] = ids[:, 1:] != ids[:, :-1]
    input_ids[ids >= 0] = cfg.image_token_id
    first = (ids >= 0) & starts
    last = (ids >= 0) & torch.roll(starts, -1, 1)
    input_ids[first], input_ids[last] = cfg.vision_start_token_id, cfg.vision_end_token_id  # 728 + 2 framing
    deep = f"layers {layers // 2}-{layers - 1}"
    configs = {"no mask (sdpa)": None, f"ours sdpa, {deep}": ImageBlockMask("second-half", "sdpa"),
               f"ours flex, {deep}": ImageBlockMask("second-half", "flex"),
               "ours flex, all layers": ImageBlockMask("all", "flex")}

    def prefill(mask: ImageBlockMask | None) -> None:
        if mask is not None:
            mask.attach(model)
        with torch.no_grad():
            model(input_ids=input_ids, logits_to_keep=1)
        if mask is not None:
            mask.detach(model)

    runs = round_robin({label: partial(prefill, mask) for label, mask in configs.items()}, ids.device.type, repeats)
    rows = [{"method": label, "layers": layers, "tokens": n, "first_call_s": r["first_call_s"],
             "seconds": r["seconds"], "peak_bytes": r["peak_bytes"]} for label, r in runs.items()]
    return rows


def layer_table(rows: list[dict], backward: bool) -> str:
    head = ("| shape | method | mask memory | mask build | " + ("fwd+bwd" if backward else "forward")
            + " (best) | first call | peak memory | speed vs official | max abs diff vs official |\n"
            + "|---|---|---|---|---|---|---|---|---|\n")
    lines = []
    for r in rows:
        official = next(o for o in rows if o["shape"] == r["shape"] and o["method"].startswith("official"))
        lines.append(f"| {r['shape']} | {r['method']} | {r['mask_bytes'] / 2**20:.2f} MiB | {r['build_s'] * 1e3:.0f} ms"
                     f" | {r['seconds'] * 1e3:.0f} ms | {r['first_call_s']:.1f} s | {r['peak_bytes'] / 2**20:.0f} MiB"
                     f" | {official['seconds'] / r['seconds']:.2f}x | "
                     + ("-" if r["max_diff_vs_official"] is None else f"{r['max_diff_vs_official']:.1e}") + " |")
    return head + "\n".join(lines)


def model_table(rows: list[dict]) -> str:
    base = rows[0]["seconds"]
    head = "| model prefill | layers | tokens | best | first call | peak memory | speed-up |\n|---|---|---|---|---|---|---|\n"
    return head + "\n".join(f"| {r['method']} | {r['layers']} | {r['tokens']} | {r['seconds']:.2f} s | "
                            f"{r['first_call_s']:.1f} s | {r['peak_bytes'] / 2**20:.0f} MiB | {base / r['seconds']:.2f}x |"
                            for r in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=730)
    parser.add_argument("--text", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model-layers", type=int, default=4, help="decoder layers of the whole-model prefill")
    parser.add_argument("--shapes", default="llava-ov-0.5b,llava-ov-7b")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--skip-model", action="store_true")
    parser.add_argument("--skip-layer", action="store_true")
    parser.add_argument("--quick", action="store_true", help="2 images x 200 tokens, 1 repeat")
    args = parser.parse_args()
    if args.quick:
        args.images, args.tokens, args.repeats, args.model_layers = 2, 200, 1, 2
    torch.set_num_threads(args.threads)
    ids = layout_ids(args.images, args.tokens, args.text)
    print(f"# {args.images} images x {args.tokens} tokens + {args.text} text = {ids.shape[1]} tokens, fp32 CPU, "
          f"{args.threads} threads, torch {torch.__version__}\n")
    if not args.skip_layer:
        rows = [r for shape in args.shapes.split(",") for r in bench_layer(shape, ids, torch.float32, False, args.repeats)]
        print(layer_table(rows, backward=False), "\n", flush=True)
    if not args.skip_model:
        print(model_table(bench_model(args.model_layers, ids, args.repeats)))


if __name__ == "__main__":
    main()
