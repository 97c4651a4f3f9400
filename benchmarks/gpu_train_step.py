"""One LoRA training step (forward + backward + optimizer) at 8 images x 730 tokens on a LLaVA-OV-0.5B-sized
random model: no image-block mask, our mask through dense SDPA, and our mask through compiled FlexAttention.

Model: `LlavaOnevisionForConditionalGeneration` built from a config (no download) whose language model has
the shape of LLaVA-OV-0.5B's Qwen2-0.5B (24 layers, hidden 896, 14 heads, 2 KV heads, intermediate 4864,
vocab 151,936); random weights, bf16. The vision tower is bypassed: the step feeds `inputs_embeds` for
8 x 730 image positions (729 SigLIP tokens + 1 newline per image, as LLaVA-OV lays out multi-image prompts)
plus text, and hands the mask the image layout directly (`ImageBlocks`), so only the language model runs,
which is where the mask acts. LoRA as the official run (r 128, alpha 32, dropout 0.05, every LM linear),
mask on layers 12-23 (the deeper half), gradient checkpointing on, as in the paper's recipe.

    python benchmarks/gpu_train_step.py            # on a CUDA GPU (< 4 min on an H200)
    python benchmarks/gpu_train_step.py --small    # seconds on a CPU: a plumbing check, numbers mean nothing

Prints a markdown table of median step times (ms) and peak memory.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import transformers as T

from mimic_vlm.masking import ImageBlockMask, ImageBlocks, parse_layers
from mimic_vlm.train.finetune import LoraSettings, prepare

OV_05B = dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
              num_key_value_heads=2, vocab_size=151936)
SMALL = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=4, num_attention_heads=4,
             num_key_value_heads=2, vocab_size=512)


def build(text: dict, device: str, dtype: torch.dtype) -> torch.nn.Module:
    cfg = T.LlavaOnevisionConfig(
        text_config=dict(model_type="qwen2", max_position_embeddings=32768, **text),
        vision_config=dict(model_type="siglip_vision_model", hidden_size=32, intermediate_size=64,
                           num_hidden_layers=1, num_attention_heads=2, image_size=28, patch_size=14))
    torch.manual_seed(0)
    with torch.device(device):  # initialise on the GPU: random init of 0.5B parameters on a CPU is slow
        return T.LlavaOnevisionForConditionalGeneration._from_config(cfg, attn_implementation="sdpa", dtype=dtype)


def layout(n_images: int, per_image: int, text: int) -> torch.Tensor:
    """Block ids of one row: `text // 2` prompt tokens, the images, the rest of the text (-1 = text)."""
    ids = [-1] * (text // 2)
    for i in range(n_images):
        ids += [i] * per_image
    return torch.tensor([ids + [-1] * (text - text // 2)])


def step_times(model, embeds, labels, blocks, steps: int, warmup: int) -> tuple[float, float]:
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    times = []
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    for i in range(warmup + steps):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        t = time.perf_counter()
        kwargs = {"image_blocks": blocks} if blocks is not None else {}
        model(inputs_embeds=embeds, labels=labels, **kwargs).loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        if i >= warmup:
            times.append((time.perf_counter() - t) * 1000)
    peak = torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else float("nan")
    return statistics.median(times), peak


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--small", action="store_true", help="tiny shapes, CPU-friendly plumbing check")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    args = ap.parse_args()
    cuda = torch.cuda.is_available()
    device, dtype = ("cuda", torch.bfloat16) if cuda else ("cpu", torch.float32)
    text_cfg, (n_img, per_img, n_text) = (SMALL, (8, 24, 32)) if args.small else (OV_05B, (8, 730, 64))
    arms = [("no mask (causal SDPA)", None), ("image-block mask, dense SDPA", "sdpa")]
    arms += [("image-block mask, flex (compiled)", "flex")] if cuda else []  # flex has no CPU backward
    ids = layout(n_img, per_img, n_text).to(device)
    rows = []
    for label, backend in arms:
        model = build(text_cfg, device, dtype)
        layers = parse_layers("second-half", text_cfg["num_hidden_layers"])
        if backend:
            ImageBlockMask("second-half", backend).attach(model)
        model = prepare(model, "lora", lora=LoraSettings(128 if not args.small else 8, 32, 0.05))
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.train()
        torch.manual_seed(1)
        embeds = torch.randn(1, ids.shape[1], text_cfg["hidden_size"], device=device, dtype=dtype) * 0.02
        labels = torch.randint(0, text_cfg["vocab_size"], (1, ids.shape[1]), device=device)
        labels[ids >= 0] = -100
        blocks = ImageBlocks(ids, None, layers) if backend else None
        ms, peak = step_times(model, embeds, labels, blocks, args.steps, args.warmup)
        rows.append((label, ms, peak))
        del model
        if cuda:
            torch.cuda.empty_cache()
    name = torch.cuda.get_device_name() if cuda else "CPU"
    print(f"\nLoRA step (fwd+bwd+AdamW), {n_img}x{per_img} image + {n_text} text tokens = {ids.shape[1]} tokens, "
          f"{'LLaVA-OV-0.5B-sized' if not args.small else 'SMALL'} LM, {str(dtype).removeprefix('torch.')}, "
          f"{name}, torch {torch.__version__}\n")
    print("| attention | median step (ms) | speed-up vs no mask | peak memory (GiB) |\n|---|---|---|---|")
    for label, ms, peak in rows:
        print(f"| {label} | {ms:.1f} | {rows[0][1] / ms:.2f}x | {peak:.2f} |")


if __name__ == "__main__":
    main()
