"""The paper's remedies, tested on the shipped tiny VLM (`toy:mimic-tiny`), with the project's own tools.

Question: starting from a model that already counts in 1-4 image `tiny` toy scenes, does LoRA fine-tuning
with the image-block mask on the deeper half of the layers, and/or with extra multi-image data (2-10 images),
change counting accuracy, and how does accuracy depend on the number of images?

Design (every step is a library call that a `mimic` command also makes; each is skipped when its output
exists, so a rerun continues where it stopped):

1. worlds: `render_toy_world(preset="tiny")`, training scenes with the base's training seed (13) and held-out
   scenes with a seed no training saw (14);
2. data (`generate_bench(..., for_training=True, phrasing="eval")`, as `mimic generate --for training
   --training-phrasing eval`): base data = counting on 1-4 images (the base's range); extra = counting on
   2-10 images; held-out bench = counting on 1, 2, 4, 6, 8, 10 images, the same number of samples for each
   (`--balance natural`: answers as the scenes hold them);
3. fine-tuning from the shipped base, LoRA + projector (`mimic train --method lora --train-projector`):
   {no mask, mask on layers 2-3} x {base data, base + extra data} x seeds;
4. `mimic eval` of the base (also with the mask at inference only), the answer-prior baseline and every run on
   the same held-out bench; exact-match accuracy by arm and by number of images (Wilson 95%, pooled over
   seeds; seed spread), paired comparisons on the same samples with the seeds as a level: the accuracy
   difference of seed-matched runs, per seed, and over all seeds with a two-level bootstrap interval (seeds,
   then samples; `evaluate/stats.two_level_bootstrap`) and its bootstrap p-value. Seed-runs are never pooled
   as independent pairs (an exact McNemar test only where one seed pair is compared);
5. `probe attention` (vision-token attention to the own image / other images / text, by layer) on the base and
   on the fine-tuned models of seed 0.

    python benchmarks/remedies.py                    # the full run, two jobs of one thread each; resumable
    python benchmarks/remedies.py --summary          # tables from whatever has finished
    python benchmarks/remedies.py --smoke --out DIR  # the same pipeline at toy sizes (CI, a few seconds)
    python benchmarks/remedies.py --long             # the studyable base, 64 tokens per image (issue 21 item 4)

Stop a run with `kill -- -PGID` (its process group: the fine-tuning jobs are worker processes that outlive a
killed parent); a rerun of the same plan continues, and a finished run of another plan is refused.

Results: benchmarks/_data/remedies/results.md (+ results.json, accuracy_by_images.png, probe/*.json).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent / "_data" / "remedies"


@dataclass(frozen=True)
class Plan:
    train_images: int = 3000
    train_seed: int = 13
    eval_images: int = 600
    eval_seed: int = 14
    base_count: int = 3000
    extra_count: int = 3000
    eval_count: int = 360
    eval_n: str = "1,2,4,6,8,10"
    eval_balance: str = "natural"  # the same number of samples per image count (uniform answers gave 4 on 1)
    seeds: tuple[int, ...] = (0, 1, 2)
    steps: int = 100
    batch: int = 16
    lr: float = 1e-3
    lora_r: int = 16
    lora_alpha: int = 32
    probe_limit: int = 60
    bootstrap: int = 2000
    base: str = ""
    """The base model: a folder (`hf:`), or the name of a packaged model ("" is `toy:mimic-tiny`)."""
    preset: str = "tiny"
    """The toy world the base was trained on (training and held-out scenes are drawn from it)."""
    max_pixels: int = 0
    """Per-image pixel cap in training, evaluation and probes (0: the processor's own)."""
    mask: str = "2-3"
    """The masked layers: the deeper half of the base's text layers."""
    base_n: str = "1-4"
    extra_n: str = "2-10"
    """Images per sample of the base data (the base's range) and of the extra multi-image data."""


SMOKE = Plan(train_images=60, eval_images=40, base_count=8, extra_count=8, eval_count=6, eval_n="1,2,3",
             seeds=(0,), steps=2, batch=2, probe_limit=2, bootstrap=50)
ARMS = {f"{'mask' if m else 'nomask'}-{'extra' if x else 'base'}": (m, x) for x in (False, True) for m in (False, True)}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


LONG = Plan(base="mimic-study", preset="study", train_seed=21, eval_seed=24, max_pixels=224 * 224,
            mask="4-7", base_n="1-2", extra_n="2-8", eval_n="1,2,4,6,8", eval_count=300)
"""Issue 21 item 4: the shipped studyable 8-layer base (`toy:mimic-study`), 64 vision tokens per image (long
image runs, up to 512 vision tokens a sample), the mask on its deeper half; the short plan's training size
(100 steps of 16). CPU, measured: 1-4 s a step on 1-2 image data, 5-8 s with the extra 2-8 image data, so its
12 fine-tunes take about 1.3 hours of one core; on a GPU, minutes."""


def base_folder(plan: Plan) -> Path:
    from mimic_vlm.models.registry import WEIGHTS

    return Path(plan.base) if "/" in plan.base else WEIGHTS / (plan.base or "mimic-tiny")


def labels(plan: Plan) -> dict[str, str]:
    base = f"base `toy:{plan.base or 'mimic-tiny'}`" if "/" not in plan.base else f"base `{Path(plan.base).name}`"
    extra = f"+ extra {plan.extra_n} image data"
    return {"prior": "answer prior (`--model prior`)", "base": base,
            "base+mask": f"base, mask {plan.mask} at inference only", "nomask-base": "LoRA, no mask, base data",
            "mask-base": f"LoRA, mask {plan.mask}, base data", "nomask-extra": f"LoRA, no mask, {extra}",
            "mask-extra": f"LoRA, mask {plan.mask}, {extra}"}


# ---------------------------------------------------------------- 1-2. worlds and data

def world(root: Path, name: str, n: int, seed: int, preset: str) -> Path:
    from mimic_vlm.annotations.toyworld import ensure_toy_world

    return ensure_toy_world(root / "world" / name, n, seed, preset=preset)


def bench(root: Path, name: str, annotations: Path, count: int, n_images: str, seed: int, training: bool,
          balance: str = "uniform") -> Path:
    from mimic_vlm.annotations.load import load_catalog
    from mimic_vlm.bench.generate import generate_bench
    from mimic_vlm.compose.controls import Controls

    out = root / "data" / name
    if not (out / "samples.jsonl").exists():
        catalog = load_catalog("toy", annotations, annotations.parent / "images")
        generate_bench(catalog, ["counting"], count, Controls.parse(n_images=n_images, balance=balance), seed, out,
                       for_training=training, phrasing="eval", overwrite=True,
                       command=f"benchmarks/remedies.py: counting --n-images {n_images} --count {count} --seed {seed} "
                               f"--balance {balance}")
    return out


# ---------------------------------------------------------------- 3-4. fine-tuning and evaluation (one job each)

def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)  # two jobs of one thread beat one of two on a shared 2-core machine


def finetune(root: Path, plan: Plan, arm: str, seed: int, data: list[str]) -> Path:
    from mimic_vlm.train import TrainConfig, train
    from mimic_vlm.train.engine import last_checkpoint
    from mimic_vlm.train.finetune import LoraSettings

    _one_thread()
    out = root / "runs" / f"{arm}-s{seed}"
    _check_finished_run(out, plan, arm, seed)
    if not (out / "mimic_train.json").exists():
        cfg = TrainConfig(model=f"hf:{base_folder(plan)}", data=data, out=out, method="lora",
                          lora=LoraSettings(plan.lora_r, plan.lora_alpha, 0.05), train_projector=True,
                          mask_layers=plan.mask if ARMS[arm][0] else None, max_pixels=plan.max_pixels or None,
                          max_steps=plan.steps, batch_size=plan.batch,
                          lr=plan.lr, warmup_ratio=0.05, precision="fp32", gradient_checkpointing=False,
                          save_steps=max(plan.steps // 2, 1), logging_steps=max(plan.steps // 10, 1), seed=seed)
        train(cfg, resume=last_checkpoint(out / "checkpoints") is not None)  # continue a killed run
    return out


def _check_finished_run(out: Path, plan: Plan, arm: str, seed: int) -> None:
    """A finished run is reused only when it was trained as this plan trains it; a run of another plan (other
    steps, batch, mask or seed) in the folder is refused, never scored as this plan's."""
    try:
        done = json.loads((out / "mimic_train.json").read_text())
    except (OSError, ValueError):
        return
    want = {"steps": plan.steps, "batch_size": plan.batch, "mask_layers": plan.mask if ARMS[arm][0] else None,
            "seed": seed}
    have = {k: done.get(k) for k in want}
    if have != want:
        raise SystemExit(f"{out}: trained with {have}, this plan trains {want}; move it away or use another --out")


def evaluate(root: Path, plan: Plan, name: str, eval_bench: Path, spec: str, adapter: Path | None = None,
             mask: str | None = None) -> Path:
    from mimic_vlm.evaluate.runner import run_eval
    from mimic_vlm.masking import mask_from_options
    from mimic_vlm.models.registry import load_model
    from mimic_vlm.store import load_bench

    _one_thread()
    out = root / "evals" / name
    if not (out / "scores.json").exists() or _bench_of(out) != str(eval_bench.resolve()):
        b = load_bench(eval_bench)
        model = load_model(spec, bench=b, device="cpu", batch_size=16, adapter=str(adapter) if adapter else None,
                           mask=mask_from_options(mask, "sdpa") if mask else None,
                           max_pixels=plan.max_pixels or None)
        run_eval(b, model, out, overwrite=True,
                 command=["benchmarks/remedies.py", spec, *(["--adapter", str(adapter)] if adapter else [])])
    return out


def _bench_of(run: Path) -> str | None:
    """The bench an existing eval ran on: a run on another held-out bench is redone, never reused."""
    try:
        return json.loads((run / "run.json").read_text())["bench"]
    except (OSError, ValueError, KeyError):
        return None


def job(root: Path, plan: Plan, arm: str, seed: int, data: list[str], eval_bench: Path) -> str:
    run = finetune(root, plan, arm, seed, data)
    evaluate(root, plan, f"{arm}-s{seed}", eval_bench, f"hf:{base_folder(plan)}", adapter=run)
    return f"{arm}-s{seed}"


def probe(root: Path, plan: Plan, name: str, eval_bench: Path, adapter: Path | None = None,
          mask: str | None = None) -> Path:
    """Attention shares of one model; a masked run is probed with its mask (eager: it returns the weights)."""
    from mimic_vlm.files import write_json_atomic
    from mimic_vlm.masking import mask_from_options
    from mimic_vlm.models.registry import load_model
    from mimic_vlm.probe.attention import probe_bench
    from mimic_vlm.store import load_bench

    out = root / "probe" / f"{name}.json"
    if not out.exists():
        b = load_bench(eval_bench)
        multi = [s for s in b.samples if len(s.images) >= 2]
        b.samples = multi
        hf = load_model(f"hf:{base_folder(plan)}", bench=b, device="cpu", dtype="float32",
                        adapter=str(adapter) if adapter else None,
                        mask=mask_from_options(mask, "eager") if mask else None, max_pixels=plan.max_pixels or None)
        result = probe_bench(hf, b, limit=plan.probe_limit, n_boot=plan.bootstrap)
        out.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(out, result)
    return out


# ---------------------------------------------------------------- 5. statistics

def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (math.nan, math.nan)
    p, d = k / n, 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (max(0.0, c - h), min(1.0, c + h))


def seed_level_difference(matched: list[tuple[dict[str, bool], dict[str, bool]]], ids: list[str], only_a: int,
                          only_b: int, n_boot: int, key: str) -> tuple[float, float, float, float, list[float]]:
    """(A - B, interval low, high, p, per-seed A - B) of seed-matched runs on the same samples, the seeds a
    level: a two-level bootstrap (seeds, then samples) keeps the seed-to-seed variance in the interval, and
    its p-value comes from the same replicates. With one seed pair: the paired bootstrap and exact McNemar."""
    from mimic_vlm.evaluate.stats import bootstrap_p, mcnemar_exact, paired_difference, two_level_bootstrap

    table = np.array([[float(pa[i]) - float(pb[i]) for i in ids] for pa, pb in matched])
    per_seed = [float(x) for x in table.mean(axis=1)]
    if len(matched) == 1:  # paired_difference gives its second argument minus its first: A - B here
        one, _ = paired_difference([float(matched[0][1][i]) for i in ids], [float(matched[0][0][i]) for i in ids],
                                   n_boot, seed=0, key=key)
        assert one.value is not None and one.ci is not None
        return one.value, one.ci[0], one.ci[1], mcnemar_exact(only_a, only_b), per_seed
    est, reps = two_level_bootstrap(table, n_boot, seed=0, key=key)
    assert est.value is not None and est.ci is not None
    return est.value, est.ci[0], est.ci[1], bootstrap_p(reps) or 1.0, per_seed


def load_runs(root: Path) -> dict[str, dict[str, bool]]:
    from mimic_vlm.schema import read_jsonl

    out = {}
    for d in sorted((root / "evals").glob("*")):
        if (d / "scores.json").exists():
            out[d.name] = {r["id"]: bool(r["correct"]) for r in read_jsonl(d / "predictions.jsonl")}
    return out


def arm_of(name: str) -> tuple[str, int | None]:
    arm, sep, seed = name.rpartition("-s")
    return (arm, int(seed)) if sep and arm in ARMS and seed.isdigit() else (name, None)


COMPARISONS = (("mask-base", "nomask-base"), ("mask-extra", "nomask-extra"), ("nomask-extra", "nomask-base"),
               ("mask-extra", "mask-base"), ("nomask-base", "base"), ("nomask-extra", "base"), ("base+mask", "base"))


def summarize(root: Path, plan: Plan) -> str:
    from mimic_vlm.schema import read_jsonl

    eval_bench = root / "data" / f"eval-{plan.eval_balance}"
    n_images = {s["id"]: len(s["images"]) for s in read_jsonl(eval_bench / "samples.jsonl")}
    ids = sorted(n_images)
    runs = load_runs(root)
    arms: dict[str, dict[int | None, dict[str, bool]]] = {}
    for name, preds in runs.items():
        arm, seed = arm_of(name)
        arms.setdefault(arm, {})[seed] = preds
    sizes = sorted(set(n_images.values()))
    names = labels(plan)
    order = [a for a in names if a in arms] + sorted(set(arms) - set(names))
    lines = ["| arm | runs | accuracy [Wilson 95%, pooled] | seed mean ± sd (min-max) | "
             + " | ".join(f"{n} img" for n in sizes) + " |", "|---|---|---|---|" + "---|" * len(sizes)]
    table: dict[str, dict] = {}
    for arm in order:
        seeds = arms[arm]
        flat = [p[i] for p in seeds.values() for i in ids if i in p]
        lo, hi = wilson(sum(flat), len(flat))
        accs = [sum(p.values()) / len(p) for p in seeds.values()]
        sd = float(np.std(accs, ddof=1)) if len(accs) > 1 else 0.0
        by_n = {}
        for n in sizes:
            c = [p[i] for p in seeds.values() for i in ids if n_images[i] == n and i in p]
            by_n[n] = (sum(c) / len(c) if c else math.nan, *wilson(sum(c), len(c)))
        table[arm] = {"runs": len(seeds), "acc": sum(flat) / len(flat), "ci": [lo, hi], "seed_accs": accs,
                      "by_images": {str(n): list(v) for n, v in by_n.items()}}
        spread = f"{np.mean(accs):.3f} ± {sd:.3f} ({min(accs):.3f}-{max(accs):.3f})" if len(accs) > 1 else "-"
        lines.append(f"| {names.get(arm, arm)} | {len(seeds)} | {sum(flat) / len(flat):.3f} [{lo:.3f}, {hi:.3f}] | "
                     f"{spread} | " + " | ".join(f"{a:.2f} [{lo_:.2f}, {hi_:.2f}]" for a, lo_, hi_ in by_n.values())
                     + " |")
    pairs = ["| comparison (A vs B) | seed pairs | A - B per seed | only A right / only B right (all seeds) | "
             "accuracy A - B [two-level bootstrap 95%: seeds, then samples] | p (one seed pair: exact McNemar p; "
             "several: two-level bootstrap) |", "|---|---|---|---|---|---|"]
    paired = []
    for a, b in COMPARISONS:
        if a not in arms or b not in arms:
            continue
        matched = [(arms[a][s], arms[b][s if s in arms[b] else None]) for s in arms[a]
                   if s in arms[b] or None in arms[b]]
        only_a = sum(pa[i] and not pb[i] for pa, pb in matched for i in ids)
        only_b = sum(pb[i] and not pa[i] for pa, pb in matched for i in ids)
        d, dlo, dhi, p, per_seed = seed_level_difference(matched, ids, only_a, only_b, plan.bootstrap, f"{a}-{b}")
        paired.append({"a": a, "b": b, "pairs": len(matched), "only_a": only_a, "only_b": only_b, "p": p,
                       "diff": [d, dlo, dhi], "per_seed": per_seed,
                       "test": "exact McNemar" if len(matched) == 1 else "two-level bootstrap"})
        pairs.append(f"| {names.get(a, a)} vs {names.get(b, b)} | {len(matched)} | "
                     f"{', '.join(f'{x:+.3f}' for x in per_seed)} | {only_a} / {only_b} | "
                     f"{d:+.3f} [{dlo:+.3f}, {dhi:+.3f}] | {p:.3g} |")
    counts = {n: sum(v == n for v in n_images.values()) for n in sizes}
    text = ("Held-out bench: " + ", ".join(f"{c} samples with {n} image(s)" for n, c in counts.items())
            + ".\n\n" + "\n".join(lines) + "\n\n" + "\n".join(pairs) + "\n" + step_time_table(root, names)
            + probe_table(root, names))
    (root / "results.md").write_text(text)
    (root / "results.json").write_text(json.dumps({"plan": asdict(plan), "arms": table, "paired": paired}, indent=2))
    plot(root, table, sizes, names, plan)
    return text


def step_time_table(root: Path, names: dict[str, str]) -> str:
    """Training seconds per step by arm (mimic_train.json `timing`), and the masked over the unmasked runs of the
    same data and seed: the mask's training cost, measured run against run on this machine."""
    timed: dict[str, dict[int | None, float]] = {}
    for f in sorted((root / "runs").glob("*/mimic_train.json")) if (root / "runs").is_dir() else []:
        per_step = (json.loads(f.read_text()).get("timing") or {}).get("seconds_per_step")
        if per_step:
            arm, seed = arm_of(f.parent.name)
            timed.setdefault(arm, {})[seed] = per_step
    if not timed:
        return ""
    rows = ["\nTraining time per step (`timing` in each run's mimic_train.json; runs of one arm differ only in "
            "seed):\n", "| arm | runs | s / step, mean (min-max) | masked / unmasked, same data and seed |",
            "|---|---|---|---|"]
    for arm, seeds in timed.items():
        ratio = "-"
        partner = timed.get(arm.replace("mask-", "nomask-")) if arm.startswith("mask-") else None
        if partner:
            ratios = [seeds[s] / partner[s] for s in seeds if s in partner]
            ratio = f"{np.mean(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})" if ratios else "-"
        values = list(seeds.values())
        rows.append(f"| {names.get(arm, arm)} | {len(values)} | {np.mean(values):.2f} ({min(values):.2f}-"
                    f"{max(values):.2f}) | {ratio} |")
    return "\n".join(rows) + "\n"


def probe_table(root: Path, names: dict[str, str]) -> str:
    files = sorted((root / "probe").glob("*.json")) if (root / "probe").is_dir() else []
    if not files:
        return ""
    results = {f.stem: json.loads(f.read_text()) for f in files}
    layers = [row["layer"] for row in next(iter(results.values()))["layers"]]
    head = ("\nVision-token attention by layer (`probe attention`, multi-image held-out samples): share to other "
            "images / to the own image, mean [95% bootstrap].\n\n| model | samples | "
            + " | ".join(f"layer {k}: other / own" for k in layers) + " |\n|---|---|" + "---|" * len(layers) + "\n")
    rows = []
    for name, r in results.items():
        cells = [_share(row["vision.other"]) + f" / {row['vision.own']['value']:.3f}" for row in r["layers"]]
        rows.append(f"| {names.get(arm_of(name)[0], name)}{'' if arm_of(name)[1] is None else ' (seed 0)'} | "
                    f"{r['samples']} | " + " | ".join(cells) + " |")
    return head + "\n".join(rows) + "\n"


def _share(entry: dict) -> str:
    ci = entry.get("ci") or (math.nan, math.nan)
    return f"{entry['value']:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"


def plot(root: Path, table: dict, sizes: list[int], names: dict[str, str], plan: Plan) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for arm, row in table.items():
        ys = [row["by_images"][str(n)][0] for n in sizes]
        # clipped at 0: a Wilson bound at p = 1 can round a hair below the point
        lo = [max(0.0, row["by_images"][str(n)][0] - row["by_images"][str(n)][1]) for n in sizes]
        hi = [max(0.0, row["by_images"][str(n)][2] - row["by_images"][str(n)][0]) for n in sizes]
        ax.errorbar(sizes, ys, yerr=[lo, hi], marker="o", capsize=2, label=f"{names.get(arm, arm)} ({row['runs']})")
    ax.set_xlabel(f"images in the sample (base data {plan.base_n}, extra data {plan.extra_n})")
    ax.set_ylabel("counting exact match")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6)
    ax.set_title(f"Remedies from the {names['base'].replace('`', '')}: accuracy by number of images")
    fig.tight_layout()
    fig.savefig(root / "accuracy_by_images.png", dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------- main

def run_all(root: Path, plan: Plan, jobs: int) -> str:
    root.mkdir(parents=True, exist_ok=True)
    log(f"plan {plan}")
    train_world = world(root, "train", plan.train_images, plan.train_seed, plan.preset)
    eval_world = world(root, "eval", plan.eval_images, plan.eval_seed, plan.preset)
    base_data = bench(root, "base", train_world, plan.base_count, plan.base_n, plan.train_seed + 100, True)
    extra_data = bench(root, "extra", train_world, plan.extra_count, plan.extra_n, plan.train_seed + 200, True)
    eval_bench = bench(root, f"eval-{plan.eval_balance}", eval_world, plan.eval_count, plan.eval_n,
                       plan.eval_seed + 300, False, plan.eval_balance)
    evaluate(root, plan, "prior", eval_bench, "prior")
    evaluate(root, plan, "base", eval_bench, f"hf:{base_folder(plan)}")
    evaluate(root, plan, "base+mask", eval_bench, f"hf:{base_folder(plan)}", mask=plan.mask)
    log("base evaluated")
    specs = [(arm, seed, [str(base_data / "train_llava.json")]
              + ([str(extra_data / "train_llava.json")] if extra else []))
             for seed in plan.seeds for arm, (_, extra) in ARMS.items()]
    if jobs > 1:
        with ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as pool:
            futures = [pool.submit(job, root, plan, arm, seed, data, eval_bench) for arm, seed, data in specs]
            for f in futures:
                log(f"done {f.result()}")
    else:
        for arm, seed, data in specs:
            log(f"done {job(root, plan, arm, seed, data, eval_bench)}")
    probe(root, plan, "base", eval_bench)
    for arm in ARMS:
        probe(root, plan, f"{arm}-s{plan.seeds[0]}", eval_bench, adapter=root / "runs" / f"{arm}-s{plan.seeds[0]}",
              mask=plan.mask if ARMS[arm][0] else None)
    return summarize(root, plan)


def override(plan: Plan, items: list[str]) -> Plan:
    """`FIELD=VALUE` strings -> a Plan with those fields replaced (ints, floats, or comma-separated seeds)."""
    from dataclasses import fields, replace

    types = {f.name: f.type for f in fields(Plan)}
    changes: dict[str, object] = {}
    for item in items:
        name, _, value = item.partition("=")
        if name not in types:
            raise SystemExit(f"--set {item}: unknown field; known: {', '.join(types)}")
        kind = types[name]
        changes[name] = (tuple(int(v) for v in value.split(",")) if name == "seeds" else
                         float(value) if kind in (float, "float") else value if kind in (str, "str") else int(value))
    return replace(plan, **changes)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--summary", action="store_true", help="only summarise what has finished")
    ap.add_argument("--smoke", action="store_true", help="toy sizes: the whole pipeline in seconds (CI)")
    ap.add_argument("--out", type=Path, default=None, help=f"results folder (default {ROOT})")
    ap.add_argument("--long", action="store_true",
                    help="issue 21 item 4: the studyable base at 64 vision tokens per image (see LONG; GPU advised)")
    ap.add_argument("--jobs", type=int, default=2, help="fine-tuning jobs in parallel (one thread each)")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="override a Plan field, e.g. --set steps=40 --set seeds=0,1,2 (recorded in results.json)")
    args = ap.parse_args(argv)
    plan = override(SMOKE if args.smoke else LONG if args.long else Plan(), args.set)
    root = args.out or (ROOT.with_name("remedies-long") if args.long else ROOT)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.summary:
        print(summarize(root, plan))
        return
    print(run_all(root, plan, 1 if args.smoke else args.jobs))


if __name__ == "__main__":
    main()
