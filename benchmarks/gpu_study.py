"""`mimic study --profile paper` on a real small VLM on one GPU: the paper's findings F1-F7 with the paper's
ranges (up to 10 images), on the 256-px `default` toy world (rendered here; nothing downloaded).

    python benchmarks/gpu_study.py --model hf:Qwen/Qwen2-VL-2B-Instruct --out /tmp/gpu-study
    python benchmarks/gpu_study.py --model hf:llava-hf/llava-onevision-qwen2-0.5b-ov-hf --findings F1,F3,F5,F7

Needs a CUDA device and the model's weights in the local Hugging Face cache (or a local folder: hf:/path);
it refuses, in one line, without them. Resumable like `mimic study` (rerun the same command to continue).
Expected run time (not yet measured): the paper profile evaluates about 10k samples (500 base samples per
design) and probes 100; on one H100 in bfloat16 with batches of 16, about 10-20 minutes for Qwen2-VL-2B
(448² pixel cap = 256 vision tokens per image at the largest budget), less for LLaVA-OneVision 0.5B.
Results: OUT/study.json, OUT/study.md, OUT/figures/, and OUT/gpu_study.json (device, timings); the table goes
into BENCHMARKS.md ("The paper's study on a real model").
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

WORLD_IMAGES, WORLD_SEED = 3000, 2026


def refuse(message: str) -> None:
    print(f"gpu_study: {message}", file=sys.stderr)
    sys.exit(2)


def check_weights(spec: str) -> None:
    """The weights must be local: a folder, or the Hugging Face cache (offline)."""
    kind, _, name = spec.partition(":")
    if kind != "hf":
        refuse(f"--model {spec}: expected hf:ORG/NAME or hf:/local/folder")
    if Path(name).expanduser().is_dir():
        return
    try:
        from huggingface_hub import snapshot_download

        snapshot_download(name, local_files_only=True)
    except Exception as e:  # noqa: BLE001 - any failure means: not in the cache
        refuse(f"{name}: not in the local Hugging Face cache ({type(e).__name__}); download it first, e.g. "
               f"`huggingface-cli download {name}`")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="hf:Qwen/Qwen2-VL-2B-Instruct")
    ap.add_argument("--out", type=Path, default=Path("/tmp/gpu-study"))
    ap.add_argument("--findings", default="all")
    ap.add_argument("--count", type=int, default=None, help="base samples per design (paper profile: 500)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--dtype", default="bfloat16")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch

    if not torch.cuda.is_available():
        refuse("no CUDA device")
    check_weights(args.model)

    from mimic_vlm.annotations.toyworld import ensure_toy_world
    from mimic_vlm.bench.generate import Source
    from mimic_vlm.study.run import study

    start = time.perf_counter()
    world = ensure_toy_world(args.out.parent / f"{args.out.name}-world", WORLD_IMAGES, WORLD_SEED, preset="default")
    rendered = time.perf_counter()
    record = study(args.model, args.out, findings=args.findings, count=args.count, profile="paper",
                   source=Source("toy", world, world.parent / "images"),
                   model_options={"dtype": args.dtype, "device": "cuda", "batch_size": args.batch_size})
    done = time.perf_counter()
    timing = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "python": platform.python_version(),
              "model": args.model, "findings": args.findings, "count": args.count, "world_s": round(rendered - start, 1),
              "study_s": round(done - rendered, 1)}
    (args.out / "gpu_study.json").write_text(json.dumps(timing, indent=2) + "\n")
    print(json.dumps(timing, indent=2))
    for f in record["findings"]:
        e = f["effect"]
        print(f"{f['id']}: {f['verdict']:<15} effect {e['value']} {e['ci']}  {f['reason'][:120]}")


if __name__ == "__main__":
    main()
