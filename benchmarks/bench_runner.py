"""Runner speed on CPU, measured side by side in one process (issue 3 §7).

1. Runner overhead: `run_eval` (prompts, scoring, durable appends, merge, scores.json) vs a bare loop of
   processor + `model.generate` over the same samples and batches. Target: < 10%.
2. Batched generation: `run_eval` at batch size 8 vs 1 on the same tiny model. Target: >= 2x samples/s.
3. Baselines: `chance` and `oracle` over a 10,000-sample bench, scoring and scores.json included.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_runner.py [--family qwen2_vl] [--per-task 8]
        [--max-pixels 12544]

Each timing is the best of `--repeats` runs, wall and CPU; ratios use CPU time, which a shared machine
disturbs least (everything runs in this one process, torch on one thread).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from transformers import GenerationConfig

from mimic_vlm.cli import main as mimic
from mimic_vlm.evaluate.runner import Prompting, batches, run_eval
from mimic_vlm.images import open_rgb as load_image
from mimic_vlm.models.hf import HFModel
from mimic_vlm.models.registry import load_model
from mimic_vlm.store import Bench, load_bench


def toy_bench(root: Path, per_task: int, toy_images: int) -> Bench:
    mimic(["generate", "--count", str(per_task), "--toy-images", str(toy_images), "--out", str(root),
           "--overwrite"])
    return load_bench(root)


def bare_loop(model: HFModel, bench: Bench, batch_size: int) -> None:
    """What any evaluation must do at least: images, chat template, generate, decode; nothing saved."""
    prompting = Prompting()
    samples = sorted(bench.samples, key=lambda s: (prompting.tokens(s), len(s.images), len(s.question)))
    with torch.inference_mode():
        for batch in batches(samples, batch_size):
            convs = [[{"role": "user", "content": [
                *({"type": "image", "image": load_image(p, model.max_pixels)} for p in bench.image_paths(s)),
                {"type": "text", "text": prompting.text(s)}]}] for s in batch]
            inputs = model.processor.apply_chat_template(convs, add_generation_prompt=True, tokenize=True,
                                                         return_dict=True, return_tensors="pt",
                                                         processor_kwargs={"padding": True})
            config = GenerationConfig(**model.decoding, max_new_tokens=max(prompting.tokens(s) for s in batch))
            out = model.model.generate(**inputs, generation_config=config)  # the same greedy decoding
            model.tokenizer.batch_decode(out[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)


def full_run(bench: Bench, model, batch_size: int | None, workdir: Path) -> None:
    run_eval(bench, model, tempfile.mkdtemp(dir=workdir), batch_size=batch_size)


def measure(fn: Callable[[], None], repeats: int) -> tuple[float, float]:
    """(wall, CPU) seconds, each the best of `repeats`; CPU time is what a shared machine disturbs least."""
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus)


def row(label: str, n: int, t: tuple[float, float], note: str = "") -> str:
    return f"| {label} | {t[0]:.2f} | {t[1]:.2f} | {n / t[1]:.1f} | {note} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", default="qwen2_vl")
    parser.add_argument("--per-task", type=int, default=8, help="samples per task for the model timings")
    parser.add_argument("--max-pixels", type=int, default=None, help="per-image cap (112*112 = 16 image tokens)")
    parser.add_argument("--baseline-samples", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        bench = toy_bench(work / "bench", args.per_task, 60)
        model = load_model(f"tiny:{args.family}", device="cpu", max_pixels=args.max_pixels)
        n = len(bench.samples)
        bare = measure(lambda: bare_loop(model, bench, 8), args.repeats)
        runner = measure(lambda: full_run(bench, model, 8, work), args.repeats)
        one = measure(lambda: full_run(bench, model, 1, work), args.repeats)
        print(f"| {n} toy samples, tiny:{args.family}, max_pixels {args.max_pixels}, 1 thread | wall s | CPU s "
              "| samples per CPU s | ratio (CPU) |")
        print("|---|---|---|---|---|")
        print(row("bare processor + generate loop, batch 8", n, bare, "1.00"))
        print(row("`run_eval`, batch 8", n, runner, f"{runner[1] / bare[1]:.3f} (overhead "
                                                     f"{100 * (runner[1] / bare[1] - 1):+.1f}%)"))
        print(row("`run_eval`, batch 1", n, one, f"batch 8 is {one[1] / runner[1]:.2f}x faster"), flush=True)
        big = toy_bench(work / "big", args.baseline_samples // 4, 200)
        for spec in ("chance", "oracle"):
            baseline = load_model(spec, bench=big)
            t = measure(lambda b=baseline: full_run(big, b, None, work), args.repeats)
            print(row(f"`{spec}` baseline, {len(big.samples)} samples (scored, scores.json)", len(big.samples), t),
                  flush=True)


if __name__ == "__main__":
    main()
