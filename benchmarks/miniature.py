"""The paper's fine-tuning experiment in miniature, on a CPU, with the project's own tools end to end.

Question: starting from a model that already counts objects across 2-4 images, does LoRA fine-tuning with
the image-block mask (deeper half of the layers) and/or with extra multi-image data (up to 8 images) change
counting accuracy, and how does accuracy depend on the number of images?

Pipeline (every step is a `mimic` command or library call; every step is skipped when its output exists,
so re-running the script continues where it stopped, and interrupted trainings `--resume`):

1. world: 84x84 scenes, 0-4 red squares (annotated, COCO format) + 0-3 blue circles (unannotated clutter),
   as in `../shared/reference/miniature.md`; separate scenes for training and for the held-out bench.
2. data: `mimic generate --source coco --task counting` composes the benches: training 2-4 images, extra
   2-8 images, held-out eval 2-8 images. Training conversations use the runner's own prompt and the bare
   number as the answer, so training and evaluation see the same format.
3. base: a tiny Qwen2-VL (hidden 128, 4 layers, ~0.9M parameters) trained from scratch (`--method full`)
   without the mask on the 2-4 image data until it clearly learned (held-out accuracy on 2-4 images >= 0.5):
   candidates in order (continue a plateaued run, then another seed with a larger lr; see CANDIDATES).
4. fine-tuning from that checkpoint, LoRA (+ projector, as the paper): {no mask, mask layers 2-3} x
   {base data, base + extra 2-8 image data} x seeds.
5. `mimic eval` of everything on the same held-out bench (base also with the mask at inference only), then
   accuracy by arm and by number of images with Wilson 95% intervals (pooled over seeds) and seed spread.

    nohup python benchmarks/miniature.py > benchmarks/_data/miniature.log 2>&1 &
    python benchmarks/miniature.py --summary     # tables from whatever has finished

Results: benchmarks/_data/miniature/results.md (+ results.json, accuracy_by_images.png).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent / "_data" / "miniature"
MIMIC = [sys.executable, "-m", "mimic_vlm"]
SIZE = 84
TINY = {"hidden_size": 128, "intermediate_size": 256, "num_attention_heads": 4, "num_key_value_heads": 2,
        "num_layers": 4, "max_pixels": SIZE * SIZE}
BASE = dict(method="full", steps=1200, lr=2e-3, batch=32)
FINETUNE = dict(steps=150, lr=1e-3, batch=32, lora_r=32, lora_alpha=32)
MASK = "2-3"
LEARNED = 0.5
# Base candidates, tried in order: name -> (continue from, seed, lr). Learning from scratch has a long plateau
# and then a sudden escape whose timing depends on the seed (miniature.md), so a candidate that stays on the
# plateau is continued (a warm restart of the schedule) and a second seed with a larger lr is tried.
CANDIDATES = {"base": (None, 0, 2e-3), "base-r2": ("base", 1, 2e-3),
              "base-alt": (None, 1, 3e-3), "base-alt-r2": ("base-alt", 2, 3e-3), "base-r3": ("base-r2", 2, 2e-3)}
SEEDS = (0, 1, 2)
_SUMMARY_LOCK = threading.Lock()


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run(cmd: list[str], threads: int = 2) -> None:
    log("$ " + " ".join(str(c) for c in cmd))
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    subprocess.run([str(c) for c in cmd], check=True, env=env, stdout=subprocess.DEVNULL)


# ---------------------------------------------------------------- 1. world

def render_world(folder: Path, n: int, seed: int) -> None:
    """COCO-format scenes: red squares are the annotated objects; blue circles are clutter."""
    if (folder / "annotations.json").exists():
        return
    rng = np.random.default_rng(seed)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for i in range(n):
        im = Image.new("RGB", (SIZE, SIZE))
        draw, boxes = ImageDraw.Draw(im), []
        for kind, count in (("square", rng.integers(0, 5)), ("circle", rng.integers(0, 4))):
            for _ in range(count):
                for _try in range(200):  # no overlaps, 2 px gap
                    x, y = (int(v) for v in rng.integers(1, SIZE - 11, 2))
                    if all(x + 12 <= bx or bx + 12 <= x or y + 12 <= by or by + 12 <= y for bx, by in boxes):
                        break
                boxes.append((x, y))
                if kind == "square":
                    draw.rectangle([x, y, x + 9, y + 9], fill=(255, 0, 0))
                    annotations.append({"id": len(annotations) + 1, "image_id": i + 1, "category_id": 1,
                                        "bbox": [x, y, 10, 10], "area": 100.0, "iscrowd": 0})
                else:
                    draw.ellipse([x, y, x + 9, y + 9], fill=(0, 0, 255))
        name = f"{seed}_{i:05d}.png"
        im.save(folder / "images" / name)
        images.append({"id": i + 1, "file_name": name, "width": SIZE, "height": SIZE})
    (folder / "annotations.json").write_text(json.dumps({
        "images": images, "annotations": annotations,
        "categories": [{"id": 1, "name": "square", "supercategory": "shape"}]}))


# ---------------------------------------------------------------- 2. data

def bench(name: str, world: Path, count: int, n_images: str, seed: int) -> Path:
    out = ROOT / "data" / name
    if not (out / "samples.jsonl").exists():
        run([*MIMIC, "generate", "--source", "coco", "--annotations", world / "annotations.json", "--images-dir",
             world / "images", "--task", "counting", "--count", count, "--n-images", n_images, "--seed", seed,
             "--out", out])
    return out


def training_file(bench_dir: Path) -> Path:
    """LLaVA conversations with the runner's prompt and the bare number as the answer."""
    out = bench_dir / "train_eval_format.json"
    if out.exists():
        return out
    from mimic_vlm.bench.store import load_bench
    from mimic_vlm.evaluate.runner import Prompting

    b, prompting = load_bench(bench_dir), Prompting()
    records = [{"id": s.id, "image": list(s.images), "conversations": [
        {"from": "human", "value": "<image>\n" * len(s.images) + prompting.text(s)},
        {"from": "gpt", "value": s.gt}]} for s in b.samples]
    out.write_text(json.dumps(records))
    return out


# ---------------------------------------------------------------- 3-4. training

def train_candidate(name: str, data: Path, eval_bench: Path) -> float:
    """Train one base candidate (skipped when done; resumed when interrupted), evaluate it, and return its
    held-out accuracy on 2-4 image samples (the training range)."""
    import torch

    from mimic_vlm.train import TrainConfig, train

    torch.set_num_threads(1)  # on a shared 2-core machine one thread is faster than two (stack.md §7)
    start, seed, lr = CANDIDATES[name]
    out = ROOT / "runs" / name
    if not (out / "mimic_train.json").exists():
        cfg = TrainConfig(model=f"hf:{ROOT / 'runs' / start}" if start else "tiny:qwen2_vl", data=[str(data)],
                          out=out, method=BASE["method"], lr=lr, max_steps=BASE["steps"], batch_size=BASE["batch"],
                          warmup_ratio=0.03, precision="fp32", gradient_checkpointing=False, save_steps=250,
                          logging_steps=25, seed=seed, base_kwargs={} if start else TINY)
        log(f"train {name}: {cfg}")
        train(cfg, resume=True)
    accuracy = in_range_accuracy(evaluate(name, eval_bench, out, threads=2), eval_bench)
    log(f"{name}: held-out accuracy on 2-4 images {accuracy:.3f}")
    return accuracy


def train_base(data: Path, eval_bench: Path) -> Path:
    """The base model, trained without the mask until it has clearly learned: the first of CANDIDATES (in
    order) whose held-out accuracy on 2-4 images reaches LEARNED; the best one if none does."""
    results = {}
    for name, (start, _, _) in CANDIDATES.items():
        if start and results.get(start, 0.0) >= LEARNED:
            continue
        results[name] = train_candidate(name, data, eval_bench)
        if results[name] >= LEARNED:
            return ROOT / "runs" / name
    return ROOT / "runs" / max(results, key=results.get)


def in_range_accuracy(run: Path, eval_bench: Path, most: int = 4) -> float:
    from mimic_vlm.schema import read_jsonl

    n = {s["id"]: len(s["images"]) for s in read_jsonl(eval_bench / "samples.jsonl")}
    hits = [bool(r["correct"]) for r in read_jsonl(run / "predictions.jsonl") if n[r["id"]] <= most]
    return sum(hits) / len(hits)


def finetune(name: str, base: Path, data: list[Path], mask: bool, seed: int) -> Path:
    out = ROOT / "runs" / name
    if not (out / "mimic_train.json").exists():
        cmd = [*MIMIC, "train", "--model", f"hf:{base}", "--out", out, "--method", "lora", "--train-projector",
               "--lora-r", FINETUNE["lora_r"], "--lora-alpha", FINETUNE["lora_alpha"], "--lora-dropout", 0.05,
               "--lr", FINETUNE["lr"], "--max-steps", FINETUNE["steps"], "--batch-size", FINETUNE["batch"],
               "--precision", "fp32", "--no-gradient-checkpointing", "--save-steps", 50, "--logging-steps", 25,
               "--seed", seed, "--resume"]
        for d in data:
            cmd += ["--data", d]
        run(cmd + (["--mask-layers", MASK] if mask else []), threads=1)
    return out


def evaluate(name: str, eval_bench: Path, base: Path, adapter: Path | None = None, mask: bool = False,
             threads: int = 1) -> Path:
    out = ROOT / "evals" / name
    if not (out / "scores.json").exists():
        run([*MIMIC, "eval", "--model", f"hf:{base}", "--bench", eval_bench, "--out", out, "--device", "cpu",
             "--no-progress", "--batch-size", 16, *(["--adapter", adapter] if adapter else []),
             *(["--mask-layers", MASK] if mask else [])], threads=threads)
    return out


def baseline(kind: str, eval_bench: Path) -> None:
    """The runner's answer-prior baseline: what knowing the answer distribution alone scores."""
    out = ROOT / "evals" / f"baseline-{kind}"
    if not (out / "scores.json").exists():
        run([*MIMIC, "eval", "--model", kind, "--bench", eval_bench, "--out", out, "--no-progress"])


# ---------------------------------------------------------------- 5. summary

def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (math.nan, math.nan)
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (max(0.0, c - h), min(1.0, c + h))


def arm_of(run_name: str) -> tuple[str, int | None]:
    if run_name.startswith("ft-"):
        arm, _, seed = run_name.rpartition("-s")
        return arm, int(seed)
    return run_name, None


def summarize() -> str:
    from mimic_vlm.schema import read_jsonl

    eval_bench = ROOT / "data" / "eval"
    n_images = {s["id"]: len(s["images"]) for s in read_jsonl(eval_bench / "samples.jsonl")}
    per_run: dict[str, dict[str, bool]] = {}
    for d in sorted((ROOT / "evals").glob("*")):
        if (d / "scores.json").exists():
            per_run[d.name] = {r["id"]: bool(r["correct"]) for r in read_jsonl(d / "predictions.jsonl")}
    arms: dict[str, list[dict[str, bool]]] = {}
    for name, preds in per_run.items():
        arms.setdefault(arm_of(name)[0], []).append(preds)
    sizes = sorted(set(n_images.values()))
    lines = ["| arm | runs | accuracy [Wilson 95%, pooled] | seed mean ± sd | "
             + " | ".join(f"{n} img" for n in sizes) + " |", "|---|---|---|---|" + "---|" * len(sizes)]
    table = {}
    for arm, runs in arms.items():
        flat = [c for p in runs for c in p.values()]
        lo, hi = wilson(sum(flat), len(flat))
        accs = [sum(p.values()) / len(p) for p in runs]
        sd = float(np.std(accs, ddof=1)) if len(accs) > 1 else 0.0
        by_n = {}
        for n in sizes:
            c = [ok for p in runs for i, ok in p.items() if n_images[i] == n]
            by_n[n] = (sum(c) / len(c) if c else math.nan, *wilson(sum(c), len(c)))
        table[arm] = {"runs": len(runs), "acc": sum(flat) / len(flat), "ci": [lo, hi], "seed_accs": accs,
                      "by_images": {str(n): list(v) for n, v in by_n.items()}}
        lines.append(f"| {arm} | {len(runs)} | {sum(flat) / len(flat):.3f} [{lo:.3f}, {hi:.3f}] | "
                     f"{np.mean(accs):.3f} ± {sd:.3f} | "
                     + " | ".join(f"{a:.2f} [{lo_:.2f}, {hi_:.2f}]" for a, lo_, hi_ in by_n.values()) + " |")
    counts = {n: sum(v == n for v in n_images.values()) for n in sizes}
    text = ("Held-out bench: " + ", ".join(f"{c} samples with {n} images" for n, c in counts.items())
            + ".\n\n" + "\n".join(lines) + "\n")
    (ROOT / "results.md").write_text(text)
    (ROOT / "results.json").write_text(json.dumps(table, indent=2))
    _plot(table, sizes)
    return text


def _plot(table: dict, sizes: list[int]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for arm, row in sorted(table.items()):
        ys = [row["by_images"][str(n)][0] for n in sizes]
        ax.plot(sizes, ys, marker="o", label=f"{arm} ({row['runs']} run(s))")
    ax.set_xlabel("images in the sample")
    ax.set_ylabel("exact-match accuracy")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title("Toy counting miniature: accuracy by number of images")
    fig.tight_layout()
    fig.savefig(ROOT / "accuracy_by_images.png", dpi=120)


# ---------------------------------------------------------------- main

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--summary", action="store_true", help="only summarise what has finished")
    ap.add_argument("--jobs", type=int, default=2, help="fine-tuning runs in parallel (one thread each)")
    ap.add_argument("--candidate", choices=list(CANDIDATES), help="only train and evaluate this base candidate "
                    "(to run candidates in parallel; the data must exist)")
    args = ap.parse_args()
    if args.summary:
        print(summarize())
        return
    if args.candidate:
        train_candidate(args.candidate, ROOT / "data" / "base" / "train_eval_format.json", ROOT / "data" / "eval")
        return
    ROOT.mkdir(parents=True, exist_ok=True)
    log("world")
    render_world(ROOT / "world" / "train", 4000, seed=0)
    render_world(ROOT / "world" / "eval", 800, seed=1)
    base_data = training_file(bench("base", ROOT / "world" / "train", 24000, "2-4", seed=0))
    extra_data = training_file(bench("extra", ROOT / "world" / "train", 8000, "2-8", seed=1))
    eval_bench = bench("eval", ROOT / "world" / "eval", 280, "2-8", seed=2)
    baseline("prior", eval_bench)
    base = train_base(base_data, eval_bench)
    evaluate(f"{base.name}+mask-at-inference", eval_bench, base, mask=True, threads=2)
    summarize()
    jobs = [(f"ft-{'mask' if m else 'nomask'}-{'extra' if x else 'base'}-s{s}", m, x, s)
            for s in SEEDS for x in (False, True) for m in (False, True)]

    def job(spec):
        name, mask, extra, seed = spec
        adapter = finetune(name, base, [base_data, extra_data] if extra else [base_data], mask, seed)
        evaluate(name, eval_bench, base, adapter=adapter)
        log(f"done {name}")
        with _SUMMARY_LOCK:
            summarize()

    with ThreadPoolExecutor(args.jobs) as pool:
        list(pool.map(job, jobs))
    print(summarize())


if __name__ == "__main__":
    main()
