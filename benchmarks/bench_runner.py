"""Runner speed on CPU, measured side by side in one process (issue 3 §7).

1. Runner overhead: `run_eval` (prompts, scoring, durable appends, merge, scores.json) vs a bare loop of
   processor + `model.generate` over the same samples and batches. Target: < 10%.
2. Batched generation: `run_eval` at batch size 8 vs 1 on the same tiny model. Target: >= 2x samples/s.
3. Baselines: `chance` and `oracle` over a 10,000-sample bench, scoring and scores.json included.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_runner.py [--family qwen2_vl] [--per-task 8]
        [--max-pixels 12544]

Each timing is the best of `--repeats` runs (the machines are shared; the minimum is the least disturbed).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from transformers import GenerationConfig

from mimic_vlm.bench.store import Bench, load_bench
from mimic_vlm.cli import main as mimic
from mimic_vlm.evaluate.runner import Prompting, batches, run_eval
from mimic_vlm.models.hf import HFModel
from mimic_vlm.models.images import load_image
from mimic_vlm.models.registry import load_model


def toy_bench(root: Path, per_task: int, toy_images: int) -> Bench:
    mimic(["generate", "--count", str(per_task), "--toy-images", str(toy_images), "--out", str(root),
           "--overwrite"])
    return load_bench(root)


def bare_loop(model: HFModel, bench: Bench, batch_size: int) -> float:
    """What any evaluation must do at least: images, chat template, generate, decode; nothing saved."""
    prompting = Prompting()
    samples = sorted(bench.samples, key=lambda s: (prompting.tokens(s), len(s.images), len(s.question)))
    start = time.perf_counter()
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
    return time.perf_counter() - start


def timed_run(bench: Bench, model, batch_size: int, workdir: Path) -> float:
    out = Path(tempfile.mkdtemp(dir=workdir))
    start = time.perf_counter()
    run_eval(bench, model, out, batch_size=batch_size, progress=False)
    return time.perf_counter() - start


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
        bare, runner, one = [], [], []
        for _ in range(args.repeats):  # interleaved, so load changes hit all three alike
            bare.append(bare_loop(model, bench, 8))
            runner.append(timed_run(bench, model, 8, work))
            one.append(timed_run(bench, model, 1, work))
        n = len(bench.samples)
        print(f"| measurement ({n} toy samples, tiny:{args.family}, max_pixels {args.max_pixels}, 1 thread) "
              "| seconds | samples/s | ratio |")
        print("|---|---|---|---|")
        print(f"| bare processor + generate loop, batch 8 | {min(bare):.2f} | {n / min(bare):.1f} | 1.00 |")
        print(f"| `run_eval`, batch 8 | {min(runner):.2f} | {n / min(runner):.1f} | "
              f"{min(runner) / min(bare):.3f} (overhead {100 * (min(runner) / min(bare) - 1):+.1f}%) |")
        print(f"| `run_eval`, batch 1 | {min(one):.2f} | {n / min(one):.1f} | "
              f"batch 8 is {min(one) / min(runner):.2f}x faster |", flush=True)
        big = toy_bench(work / "big", args.baseline_samples // 4, 200)
        for spec in ("chance", "oracle"):
            sec = min(timed_run(big, load_model(spec, bench=big), None, work) for _ in range(args.repeats))
            print(f"| `{spec}` baseline, {len(big.samples)} samples (scored, scores.json) | {sec:.2f} | "
                  f"{len(big.samples) / sec:.0f} | |", flush=True)

if __name__ == "__main__":
    main()
