"""Image-block mask at real shapes (8 images x 730 tokens + 60 text): one layer, the whole model, a training step.

Every table runs its methods **round-robin in one process** (a warm-up, then `--repeats` rounds, best kept),
so the load of other jobs on a shared machine hits each alike; the ratios are what to read.

- `layer`: one attention layer with LLaVA-OV-0.5B heads (14 / 2 kv, head dim 64): causal SDPA with no mask,
  the official dense `[B, H, L, L]` mask, and ours through each backend's registered attention function
  (`sdpa`, `flex`, `blocks`): stored mask bytes, peak memory during the call, speed vs causal SDPA.
- `shapes`: first-call cost per new sequence length (flex compiles; blocks does not).
- `model`: whole-model prefill of a LLaVA-OV-0.5B-shaped random decoder (24 layers, hidden 896, MLP 4864),
  no mask vs the default backend on layers 12-23 and on all layers, against the FLOP ceiling of the exact
  layout (the `mimic cost` accounting: projections + MLP + attention pairs).
- `train`: a LoRA training step (forward + backward, gradient checkpointing, r 128 as the official run) of the
  same model, mask on the deeper half vs no mask.

    .venv/bin/python benchmarks/bench_mask.py layer shapes --threads 2
    .venv/bin/python benchmarks/bench_mask.py model --threads 2 --repeats 1
    .venv/bin/python benchmarks/bench_mask.py model --images 10 --threads 2 --repeats 1
    .venv/bin/python benchmarks/bench_mask.py train --threads 2 --repeats 1
    .venv/bin/python benchmarks/bench_mask.py layer model train --quick   # small shapes, a smoke run
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable, Sequence
from types import SimpleNamespace

import torch
import torch.nn.functional as F

from mimic_vlm.masking import ImageBlockMask, ImageBlocks, blocks
from mimic_vlm.masking import mask as rules
from mimic_vlm.masking.attention import ATTENTION
from mimic_vlm.masking.cost import KNOWN_MODELS, TextModelShape, layer_flops

SHAPES = {"llava-ov-0.5b": (14, 2, 64), "llava-ov-7b": (28, 4, 128)}  # heads, kv heads, head dim
OV_05B = dict(hidden_size=896, intermediate_size=4864, num_attention_heads=14, num_key_value_heads=2)


def layout_ids(images: int, tokens: int | Sequence[int], text: int, device: str = "cpu") -> torch.Tensor:
    """(1, L) block ids: text/2, then `images` images of `tokens` each (or of `tokens[k]`: unequal images, as
    Qwen2-VL at native resolution; the first and last token of an image are framing text), text/2."""
    sizes = [tokens] * images if isinstance(tokens, int) else list(tokens)
    half = [-1] * (text // 2)
    image = [[-1] + [k] * (size - 2) + [-1] for k, size in enumerate(sizes)]
    return torch.tensor([half + [i for img in image for i in img] + half], device=device)


def kept_pairs(ids: torch.Tensor) -> int:
    """(query, key) pairs the rule keeps in one row: an image query its own image so far, text all before it."""
    row = ids[0]
    total = 0
    for pos, k in enumerate(row.tolist()):
        total += pos + 1 if k < 0 else int((row[: pos + 1] == k).sum())
    return total


def ceiling(shape: TextModelShape, ids: torch.Tensor, masked_layers: int) -> float:
    """The speed-up a kernel that skips every removed pair would reach: decoder FLOPs unmasked / masked."""
    n = ids.shape[1]
    dense, masked = layer_flops(shape, n, n * (n + 1) // 2), layer_flops(shape, n, kept_pairs(ids))
    before = shape.layers * (dense["linear"] + dense["attention"])
    return before / (before - masked_layers * (dense["attention"] - masked["attention"]))


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

        proc, self.peak, self.running = psutil.Process(), 0, True
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


CLOCK = {"clock": time.perf_counter}  # `--clock cpu`: this process's CPU seconds (all its threads)


def call(fn: Callable[[], object], device: str) -> tuple[object, float, int]:
    """(result, seconds, peak bytes) of one call.

    On a shared CPU the wall clock also counts the other jobs' time slices; process CPU time does not, so
    CPU runs are timed with it (`--clock cpu`, with 1 thread: no busy-waiting helpers counted)."""
    clock = CLOCK["clock"]
    with PeakMemory(device) as mem:
        start = clock()
        out = fn()
        if device == "cuda":
            torch.cuda.synchronize()
        seconds = clock() - start
    return out, seconds, mem.bytes


def round_robin(fns: dict[str, Callable[[], object]], device: str, repeats: int,
                warmup: dict[str, Callable[[], object]] | None = None) -> dict[str, dict]:
    """Warm each fn up (on `warmup[name]` if given, e.g. a short input; else a first full call, timed as
    `first_call_s`), then `repeats` rounds in turn. Per name: first output, best seconds, largest peak."""
    out: dict[str, dict] = {}
    for name, fn in fns.items():
        result, seconds, _ = call((warmup or {}).get(name, fn), device)
        out[name] = {"output": result, "first_call_s": seconds, "seconds": float("inf"), "peak_bytes": 0}
    for _ in range(repeats):
        for name, fn in fns.items():
            result, seconds, peak = call(fn, device)
            r = out[name]
            r["output"] = result if warmup else r["output"]
            r["seconds"], r["peak_bytes"] = min(r["seconds"], seconds), max(r["peak_bytes"], peak)
    return out


# ---- one layer -------------------------------------------------------------------------------------------


def qkv(n: int, heads: int, kv_heads: int, head_dim: int, device, dtype, grad: bool) -> tuple[torch.Tensor, ...]:
    """q, k, v `(1, heads, n, D)` laid out as a decoder layer hands them to attention: transposed views of
    `(1, n, heads, D)` projections (CPU SDPA runs slower on them than on contiguous heads-first tensors)."""
    g = torch.Generator(device=device).manual_seed(0)
    return tuple(torch.randn(1, n, h, head_dim, device=device, dtype=dtype, generator=g).transpose(1, 2)
                 .requires_grad_(grad) for h in (heads, kv_heads, kv_heads))


def ours(backend: str, ids: torch.Tensor, module, q, k, v) -> tuple[ImageBlocks, Callable[[], torch.Tensor]]:
    """Our registered attention function for `backend`, with its per-forward carrier (built on first call)."""
    carrier = ImageBlocks(ids, None, frozenset({0}))
    fn = ATTENTION[backend]
    return carrier, lambda: fn(module, q, k, v, None, image_blocks=carrier, scaling=head_scale(q))[0].transpose(1, 2)


def head_scale(q: torch.Tensor) -> float:
    return q.shape[-1] ** -0.5


def stored_bytes(carrier: ImageBlocks | None, dense: torch.Tensor | None = None) -> int:
    """Bytes of what the method keeps for all masked layers: the mask, BlockMask, or the blocks grouping."""
    if dense is not None:
        return dense.numel() * dense.element_size()
    total = 0
    for _, built in (carrier._built.values() if carrier else ()):
        if isinstance(built, torch.Tensor):
            tensors = [built]
        elif isinstance(built, blocks.Plan):
            tensors = [t for g in built.groups for t in (g.rows, g.pos, g.mask, g.flat) if t is not None]
        else:
            tensors = [t for t in built.as_tuple() if isinstance(t, torch.Tensor)]
        total += sum(t.numel() * t.element_size() for t in tensors)
    return total


def bench_layer(shape: str, ids: torch.Tensor, dtype: torch.dtype, backward: bool, repeats: int,
                backends: tuple[str, ...]) -> list[dict]:
    heads, kv_heads, head_dim = SHAPES[shape]
    device, n = ids.device.type, ids.shape[1]
    q, k, v = qkv(n, heads, kv_heads, head_dim, ids.device, dtype, backward)
    groups = heads // kv_heads
    module = SimpleNamespace(layer_idx=0, num_key_value_groups=groups, is_causal=True, training=backward)
    official = official_mask(ids, heads)

    def rep(x: torch.Tensor) -> torch.Tensor:
        return x.repeat_interleave(groups, dim=1)

    methods: dict[str, tuple[Callable[[], torch.Tensor], ImageBlocks | None, torch.Tensor | None]] = {
        "causal sdpa, no mask": (lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True),
                                 None, None),
        "official dense [B,H,L,L]": (lambda: F.scaled_dot_product_attention(q, rep(k), rep(v), attn_mask=official),
                                     None, official),
    }
    for backend in backends:
        carrier, fn = ours(backend, ids, module, q, k, v)
        methods[f"ours {backend}"] = (fn, carrier, None)

    build_s = {}
    for name, (_, carrier, _) in methods.items():  # the per-forward build, once for all masked layers
        if carrier is not None:
            start = CLOCK["clock"]()
            if name == "ours sdpa":
                carrier.mask_for(None, n, n, lambda: rules.restrict_bool(None, ids, n, n))
            elif name == "ours blocks":
                carrier.mask_for(None, n, n, kind="blocks", build=lambda: blocks.plan(ids, None, n, n))
            build_s[name] = CLOCK["clock"]() - start  # flex: built (and compiled) inside its first call

    def step(fn: Callable[[], torch.Tensor]) -> Callable[[], torch.Tensor]:
        def run() -> torch.Tensor:
            out = fn()
            if backward:
                out.float().sum().backward()
            return out.detach().float()
        return run

    runs = round_robin({name: step(fn) for name, (fn, _, _) in methods.items()}, device, repeats)
    ref = runs["official dense [B,H,L,L]"]["output"]
    causal = runs["causal sdpa, no mask"]["seconds"]
    return [{"shape": shape, "method": name, "mask_bytes": stored_bytes(methods[name][1], methods[name][2]),
             "build_s": build_s.get(name), "first_call_s": r["first_call_s"], "seconds": r["seconds"],
             "peak_bytes": r["peak_bytes"], "vs_causal": causal / r["seconds"],
             "max_diff": None if name.startswith(("causal", "official")) else float((r["output"] - ref).abs().max())}
            for name, r in runs.items()]


def layer_table(rows: list[dict], backward: bool) -> str:
    head = ("| shape | method | stored mask | build | " + ("fwd+bwd" if backward else "forward")
            + " (best) | first call | peak memory during the call | speed vs causal sdpa | max abs diff vs official |\n"
            + "|---|---|---|---|---|---|---|---|---|\n")
    return head + "\n".join(
        f"| {r['shape']} | {r['method']} | {r['mask_bytes'] / 2**20:.2f} MiB | "
        + ("-" if r["build_s"] is None else f"{r['build_s'] * 1e3:.0f} ms")
        + f" | {r['seconds'] * 1e3:.0f} ms | {r['first_call_s']:.2f} s | {r['peak_bytes'] / 2**20:.0f} MiB"
        f" | {r['vs_causal']:.2f}x | " + ("-" if r["max_diff"] is None else f"{r['max_diff']:.1e}") + " |"
        for r in rows)


def bench_shapes(images: list[int], tokens: int, text: int, device: str, backends: tuple[str, ...]) -> list[dict]:
    """First and second call of one masked layer at each new length (the mask rebuilt per length)."""
    heads, kv_heads, head_dim = SHAPES["llava-ov-0.5b"]
    module = SimpleNamespace(layer_idx=0, num_key_value_groups=heads // kv_heads, is_causal=True, training=False)
    rows = []
    for n_images in images:
        ids = layout_ids(n_images, tokens, text, device)
        q, k, v = qkv(ids.shape[1], heads, kv_heads, head_dim, ids.device, torch.float32, False)
        for backend in backends:
            _, fn = ours(backend, ids, module, q, k, v)
            _, first, _ = call(fn, device)
            _, second, _ = call(fn, device)
            rows.append({"backend": backend, "tokens": ids.shape[1], "first_s": first, "second_s": second})
    return rows


def shapes_table(rows: list[dict]) -> str:
    return ("| backend | tokens (new length) | first call (mask build + compile) | next call | first-call cost |\n"
            "|---|---|---|---|---|\n" + "\n".join(
                f"| {r['backend']} | {r['tokens']} | {r['first_s']:.2f} s | {r['second_s']:.2f} s | "
                f"{r['first_s'] - r['second_s']:+.2f} s |" for r in rows))


# ---- whole model -----------------------------------------------------------------------------------------


def decoder(layers: int, dims: dict, device: str, dtype: torch.dtype):
    from mimic_vlm.models.tiny import build

    model, _ = build("qwen2_vl", num_layers=layers, **dims)
    return model.to(device, dtype)


def token_ids(ids: torch.Tensor, cfg) -> torch.Tensor:
    """Qwen2-VL input ids for a layout: `<|vision_start|>`, placeholders, `<|vision_end|>` per image."""
    input_ids = torch.full_like(ids, 33)  # text tokens
    image = torch.zeros_like(ids, dtype=torch.bool)
    image[:, 1:-1] = (ids[:, 1:-1] >= 0)
    input_ids[ids >= 0] = cfg.image_token_id
    starts = (ids[:, 1:] >= 0) & (ids[:, :-1] < 0)
    input_ids[:, :-1][starts] = cfg.vision_start_token_id
    ends = (ids[:, :-1] >= 0) & (ids[:, 1:] < 0)
    input_ids[:, 1:][ends] = cfg.vision_end_token_id
    return input_ids


def bench_model(layers: int, dims: dict, ids: torch.Tensor, repeats: int, configs: dict[str, ImageBlockMask | None],
                dtype: torch.dtype = torch.float32) -> list[dict]:
    """Prefill (logits of the last token) with each mask config, round-robin; warm-up on a 2-image prompt
    (flex: at full length, since a new shape compiles)."""
    device = ids.device.type
    model = decoder(layers, dims, device, dtype)
    full = token_ids(ids, model.config)
    short = token_ids(layout_ids(2, 100, 20, device), model.config)

    def prefill(mask: ImageBlockMask | None, input_ids: torch.Tensor) -> Callable[[], None]:
        def run() -> None:
            if mask is not None:
                mask.attach(model)
            with torch.no_grad():
                model(input_ids=input_ids, logits_to_keep=1)
            if mask is not None:
                mask.detach(model)
        return run

    compiled = {label for label, m in configs.items() if m is not None and m.backend == "flex"}  # warm-up: full
    runs = round_robin({label: prefill(m, full) for label, m in configs.items()}, device, repeats,
                       warmup={label: prefill(m, short) for label, m in configs.items() if label not in compiled})
    return [{"method": label, "seconds": r["seconds"], "peak_bytes": r["peak_bytes"]} for label, r in runs.items()]


def model_table(rows: list[dict], ceilings: dict[str, float], title: str) -> str:
    base = rows[0]["seconds"]
    head = (f"| {title} | best | peak memory | speed-up vs no mask | FLOP ceiling | share of the ceiling's gain |\n"
            "|---|---|---|---|---|---|\n")
    lines = []
    for r in rows:
        speed, top = base / r["seconds"], ceilings.get(r["method"], 1.0)
        share = "-" if top == 1.0 else f"{(speed - 1) / (top - 1):.0%} (speed/ceiling {speed / top:.1%})"
        lines.append(f"| {r['method']} | {r['seconds']:.1f} s | {r['peak_bytes'] / 2**20:.0f} MiB | {speed:.3f}x"
                     f" | {top:.3f}x | {share} |")
    return head + "\n".join(lines)


def bench_train(layers: int, dims: dict, ids: torch.Tensor, repeats: int, backend: str, lora_r: int,
                dtype: torch.dtype = torch.float32) -> list[dict]:
    """One LoRA step (forward + backward through every layer) per config, round-robin, checkpointing on."""
    from mimic_vlm.masking.attention import parse_layers
    from mimic_vlm.train.finetune import LoraSettings, prepare

    device = ids.device.type
    model = decoder(layers, dims, device, dtype)
    ImageBlockMask("second-half", backend).attach(model)  # the model's attention: ours; unmasked = no carrier
    model = prepare(model, "lora", lora=LoraSettings(lora_r, 32, 0.0))
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.train()
    full, short = token_ids(ids, model.config), token_ids(layout_ids(2, 100, 20, device), model.config)
    layer_set = parse_layers("second-half", layers)
    none = frozenset()

    def step(input_ids: torch.Tensor, masked: frozenset[int]) -> Callable[[], None]:
        def run() -> None:
            from mimic_vlm.masking import image_block_ids

            carrier = ImageBlocks(image_block_ids(input_ids, model.get_base_model().config), None, masked)
            model(input_ids=input_ids, labels=input_ids, image_blocks=carrier).loss.backward()
            model.zero_grad(set_to_none=True)
        return run

    configs = {"no mask": none, f"{backend}, layers {layers // 2}-{layers - 1}": layer_set}
    runs = round_robin({label: step(full, m) for label, m in configs.items()}, device, repeats,
                       warmup={label: step(short, m) for label, m in configs.items()})
    return [{"method": label, "seconds": r["seconds"], "peak_bytes": r["peak_bytes"]} for label, r in runs.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("parts", nargs="+", choices=("layer", "shapes", "model", "train"))
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=730, help="per image, 2 framing tokens included")
    parser.add_argument("--text", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--layers", type=int, default=24, help="decoder layers (whole model, training step)")
    parser.add_argument("--backend", default="auto", help="the backend of the model and training rows")
    parser.add_argument("--layer-backends", default="sdpa,flex,blocks")
    parser.add_argument("--compare", default="", help="more backends for the model rows, e.g. sdpa,flex")
    parser.add_argument("--shapes", default="llava-ov-0.5b")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                        help="cpu: process CPU seconds (robust to other jobs on a shared machine); wall: elapsed")
    parser.add_argument("--configs", default="no,half,all", help="model rows: no mask, deeper half, all layers")
    parser.add_argument("--quick", action="store_true", help="small shapes, 1 repeat: a smoke run")
    args = parser.parse_args()
    dims, lora_r = OV_05B, 128
    if args.quick:
        args.images, args.tokens, args.repeats, args.layers = 3, 130, 1, 2
        dims, lora_r = dict(hidden_size=112, intermediate_size=256, num_attention_heads=14, num_key_value_heads=2), 8
    torch.set_num_threads(args.threads)
    CLOCK["clock"] = time.process_time if args.clock == "cpu" else time.perf_counter
    ids = layout_ids(args.images, args.tokens, args.text)
    print(f"# {args.images} images x {args.tokens} tokens + {args.text} text = {ids.shape[1]} tokens, fp32 CPU, "
          f"{args.threads} threads, torch {torch.__version__}, times in {args.clock} seconds\n", flush=True)
    backends = tuple(args.layer_backends.split(","))
    if "layer" in args.parts:
        rows = [r for s in args.shapes.split(",") for r in bench_layer(s, ids, torch.float32, False, args.repeats,
                                                                      backends)]
        print(layer_table(rows, backward=False), "\n", flush=True)
    if "shapes" in args.parts:
        counts = [args.images - 2, args.images - 1, args.images]
        print(shapes_table(bench_shapes(counts, args.tokens, args.text, "cpu", backends)), "\n", flush=True)
    shape = TextModelShape(args.layers, dims["num_attention_heads"], dims["num_key_value_heads"],
                           dims["hidden_size"] // dims["num_attention_heads"], dims["hidden_size"],
                           dims["intermediate_size"])
    if "model" in args.parts:
        half = f"{args.backend}, layers {args.layers // 2}-{args.layers - 1}"
        wanted = set(args.configs.split(","))
        configs = {"no mask (sdpa)": None, half: ImageBlockMask("second-half", args.backend),
                   f"{args.backend}, all layers": ImageBlockMask("all", args.backend)}
        configs = {k: v for k, v, c in zip(configs, configs.values(), ("no", "half", "all"), strict=True)
                   if c in wanted or c == "no"}
        ceilings = {half: ceiling(shape, ids, args.layers - args.layers // 2), f"{args.backend}, all layers":
                    ceiling(shape, ids, args.layers)}
        for other in filter(None, args.compare.split(",")):
            label = f"{other}, layers {args.layers // 2}-{args.layers - 1}"
            configs[label], ceilings[label] = ImageBlockMask("second-half", other), ceilings[half]
        title = f"prefill, {args.layers} layers, {ids.shape[1]} tokens"
        print(model_table(bench_model(args.layers, dims, ids, args.repeats, configs), ceilings, title), "\n",
              flush=True)
    if "train" in args.parts:
        rows = bench_train(args.layers, dims, ids, args.repeats, args.backend, lora_r)
        ceilings = {rows[1]["method"]: ceiling(shape, ids, args.layers - args.layers // 2)}
        print(model_table(rows, ceilings, f"LoRA step (fwd+bwd), {args.layers} layers, {ids.shape[1]} tokens"),
              "\n", flush=True)
    assert KNOWN_MODELS["llava-ov-0.5b"] == TextModelShape(24, 14, 2, 64, 896, 4864)  # what OV_05B stands for


if __name__ == "__main__":
    main()
