"""Controlled sweeps: one control varies, everything else is fixed, and the score is plotted against it.

Each value gets its own bench (same catalog, task, count, seed and fixed controls; only the varied control
differs; `packed=false,true` compares a bench with its side-by-side packed copy, same information in fewer
images), the model and any baselines are evaluated on it by the runner, and the headline metric with its
bootstrap interval goes into `sweep.json` and `sweep.png`. A model control (`max_pixels=...`: the per-image
pixel cap, hence the vision tokens per image of Qwen-style models) keeps one bench and changes the model
instead. Every point records the mean vision tokens per sample (from the predictions, where the model reports
them), and `sweep_tokens.png` plots the score against them: the paper's finding is about sequence length.

A sweep cannot lie about what it measured: every value is checked (the generator's layouts) before anything is
built; where spread and distractors are both set, n_images is derived from them; a bench is reused only when
its manifest records the requested task, count, seed, controls and source files (else refused, or rebuilt with
`overwrite`, and the runner then refuses or redoes runs scored on the old one). A point is
`{"value": CONTROL VALUE, "score": {"value", "ci"}, "metric", "n", "vision_tokens", "input_tokens",
"model_options", "run"}` (the token means are None where the model does not report them).

```
OUT/
  sweep.json   settings + one point per value for the model and each baseline
  sweep.png    score against the varied control, with intervals; baselines dashed
  sweep_tokens.png  score against the mean vision tokens per sample (when the model reports them)
  benches/<control>=<value>/            the generated benches
  runs/<model>/<control>=<value>/       run folders (predictions.jsonl, scores.json, run.json)
```
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from mimic_vlm.annotations.catalog import Catalog
from mimic_vlm.compose.controls import Controls
from mimic_vlm.errors import MimicError
from mimic_vlm.evaluate.score import headline
from mimic_vlm.files import check_study_folder, write_json_atomic
from mimic_vlm.models.registry import ModelOptions
from mimic_vlm.progress import Progress
from mimic_vlm.ranges import parse_int_list, parse_name_list
from mimic_vlm.report.blocks import label
from mimic_vlm.schema import TASKS

SWEEP_JSON, SWEEP_PNG, TOKENS_PNG = "sweep.json", "sweep.png", "sweep_tokens.png"
SWEEP_FILES = ("toy-world", "benches", "runs", SWEEP_JSON, SWEEP_PNG, TOKENS_PNG)
"""Everything a sweep writes into its folder: a folder holding anything else is not a sweep's."""
PACKED = "packed"
"""Not a generator control: `packed=false,true` evaluates a bench and its side-by-side packed copy."""
MODEL_CONTROLS = ("max_pixels", "pooling")
"""Controls of the model, not of the bench: one bench, and per value the model loaded with that pixel cap
(`max_pixels`) or its vision tokens average-pooled by that factor (`pooling`, probe/pooling.py)."""
CONTROLS = ("n_images", "spread", "distractors", "concepts", "answers", "balance", "target_position", PACKED,
            *MODEL_CONTROLS)
BASELINES = ("chance", "prior", "single-image", "oracle")


def parse_assignment(text: str, option: str) -> tuple[str, str]:
    """'n_images=2,4,6' -> ('n_images', '2,4,6'), checking the control's name."""
    name, sep, value = text.partition("=")
    name = name.strip().replace("-", "_")
    if not sep or not value.strip():
        raise MimicError(f"{option} {text!r}: expected CONTROL=VALUES, e.g. n_images=2,4,6")
    if name not in CONTROLS:
        raise MimicError(f"{option} {text!r}: unknown control {name!r}; known: {', '.join(CONTROLS)}")
    return name, value.strip()


def sweep_values(text: str) -> list[str]:
    """The values a sweep visits, in the given order: '2,4,6' or a range '2-6'."""
    if re.fullmatch(r"\d+-\d+", text):
        return [str(v) for v in parse_int_list(text)]
    values = parse_name_list(text, "--vary values") or []
    if len(values) != len(set(values)):
        raise MimicError(f"--vary values {text!r}: a value is repeated")
    return values


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", name)


def controls_for(task: str, vary: str, value: str | None, fixed: dict[str, str]) -> Controls:
    """The generator controls of one value, checked against the task (a MimicError names the value and the
    real cause). Where spread and distractors are both set (fixed or varied) and n_images is not, n_images is
    derived from them (their sums), instead of the generator's default 2-6 refusing a sum beyond it."""
    from mimic_vlm.compose.controls import parse_choice

    asked: dict[str, Any] = {k: v for k, v in fixed.items() if k not in MODEL_CONTROLS}
    if value is not None and vary not in (PACKED, *MODEL_CONTROLS):
        asked[vary] = value
    if "n_images" not in asked and "spread" in asked and "distractors" in asked:
        spread, distractors = parse_choice("spread", asked["spread"]), parse_choice("distractors", asked["distractors"])
        asked["n_images"] = ",".join(str(n) for n in sorted({a + b for a in spread or () for b in distractors or ()}))
    where = f"--vary {vary}={value}" if value is not None and vary in asked else "--fix"
    try:
        controls = Controls.parse(**asked)
        controls.layouts(task)
    except MimicError as e:
        shown = " ".join(f"{k}={asked[k]}" for k in CONTROLS if k in asked)
        raise MimicError(f"{where} ({shown}): {e}") from None
    return controls


def bench_settings(catalog: Catalog, task: str, count: int, controls: Controls, seed: int) -> dict[str, Any]:
    """What a generated bench of a sweep must record (its manifest) to be reused for this request."""
    from mimic_vlm.schema import file_sha256

    return {"tasks": [task], "count_per_task": count, "seed": seed, "controls": controls.to_dict(),
            "source": catalog.source, "source_files": {Path(p).name: file_sha256(Path(p)) for p in catalog.source_files}}


def reusable(path: Path, wanted: dict[str, Any], overwrite: bool) -> bool:
    """True when the bench at `path` was made with exactly `wanted` (manifest fields); False when there is
    none or, with `overwrite`, one of other settings (rebuilt then); a bench of other settings is refused
    without `overwrite`, naming what differs."""
    from mimic_vlm.evaluate.runner import diff
    from mimic_vlm.schema import read_json

    if not (path / "samples.jsonl").is_file():
        return False
    manifest = read_json(path / "manifest.json")
    changes = diff({k: manifest.get(k) for k in wanted}, wanted) if isinstance(manifest, dict) else ["manifest"]
    if not changes:
        return True
    if overwrite:
        return False
    raise MimicError(f"{path}: a bench made with other settings ({'; '.join(changes[:3])}); use --overwrite to "
                     "rebuild it (and rerun its runs) or choose another --out")


def _bench(catalog: Catalog, task: str, count: int, controls: Controls, seed: int, out: Path, vary: str, value: str,
           overwrite: bool = False) -> Path:
    """The bench of one value, reused on reruns only when its manifest records the requested settings;
    `packed=true` packs the `packed=false` one (and is rebuilt when that one changes)."""
    from mimic_vlm.bench.generate import generate_bench
    from mimic_vlm.bench.pack import is_packed_bench, pack_bench
    from mimic_vlm.store import load_bench

    path = out / "benches" / ("base" if vary in MODEL_CONTROLS else f"{vary}={value}")
    if vary == PACKED and value == "true":
        source = load_bench(_bench(catalog, task, count, controls, seed, out, vary, "false", overwrite))
        wanted = {"packed_from": {"bench": str(source.root), "manifest_hash": source.manifest_hash,
                                  "transform": "pack_targets"}}
        if not reusable(path, wanted, True):  # a packed copy of another bench is always remade
            pack_bench(source.root, path, overwrite=True, marker=is_packed_bench)
        return path
    if not reusable(path, bench_settings(catalog, task, count, controls, seed), overwrite):
        generate_bench(catalog, [task], count, controls, seed, path, overwrite=overwrite,
                       command=f"mimic sweep --vary {vary}={value}")
    return path


def run_sweep(catalog: Catalog, *, model: str, task: str, vary: str, values: Sequence[str], fixed: dict[str, str],
              count: int, out: str | Path, seed: int = 0, baselines: Sequence[str] = (),
              model_options: ModelOptions | None = None, progress: Progress | None = None,
              overwrite: bool = False) -> dict[str, Any]:
    """Generate one bench per value of `vary`, evaluate `model` and `baselines` on each, write sweep.json/png.
    Every value is checked, and every bench built, before the first run; rerun into the same folder, it
    resumes; benches and runs of other settings are refused, or rebuilt with `overwrite`."""
    from mimic_vlm.evaluate.runner import run_eval
    from mimic_vlm.models.kinds import kind_of, require
    from mimic_vlm.models.registry import load_model
    from mimic_vlm.store import load_bench

    if task not in TASKS:
        raise MimicError(f"--task {task!r}: a sweep scores one task; choose one of {', '.join(TASKS)}")
    if vary in fixed:
        raise MimicError(f"--fix {vary}=...: {vary} is the control being varied")
    unknown = [b for b in baselines if b not in BASELINES]
    if unknown:
        raise MimicError(f"--baselines {','.join(unknown)}: unknown; choose from {', '.join(BASELINES)}")
    if not values:
        raise MimicError("--vary: no values")
    out = Path(out)
    check_study_folder(out, SWEEP_FILES, "mimic sweep")
    if vary == PACKED and set(values) - {"false", "true"}:
        raise MimicError(f"--vary packed={','.join(values)}: packed takes the values false,true")
    if vary in MODEL_CONTROLS:
        bad = [v for v in values if not v.isdigit() or int(v) < 1]
        if bad:
            what = "pixel count" if vary == "max_pixels" else "pooling factor"
            raise MimicError(f"--vary {vary}={','.join(values)}: {bad[0]!r} is not a positive {what}")
        if vary == "max_pixels" and not kind_of(model).pixel_cap:  # a flat sweep of nothing
            raise MimicError(f"--vary {vary}: --model {model} is a baseline, which no {vary} changes; sweep a "
                             "model (hf:, tiny:, toy:, openai:) and keep baselines in --baselines as reference lines")
    if "pooling" in fixed:
        raise MimicError("--fix pooling=...: pooling is a sweep control only (--vary pooling=1,2,4)")
    if vary == "pooling":
        require(model, "transformers", "--vary pooling")
        require(model, "pooling", "--vary pooling")
    model_options = model_options or ModelOptions()
    if "max_pixels" in fixed:
        model_options = replace(model_options, max_pixels=int(fixed["max_pixels"]))
    controls = {v: controls_for(task, vary, v, fixed) for v in values}  # every value, before anything runs
    benches = {v: load_bench(_bench(catalog, task, count, controls[v], seed, out, vary, v, overwrite)) for v in values}
    loaded: dict[str, Any] = {}
    points: dict[str, list[dict[str, Any]]] = {name: [] for name in (model, *baselines)}
    for value in values:
        bench = benches[value]
        for name in points:
            is_baseline = name in BASELINES
            per_value = not is_baseline and vary == "max_pixels"
            if is_baseline or name not in loaded or per_value:
                options = ModelOptions() if is_baseline else model_options
                if per_value:
                    options = replace(options, max_pixels=int(value))
                loaded[name] = load_model(name, replace(options, bench=bench, seed=seed))
            the_model = loaded[name]
            if vary == "pooling" and not is_baseline:
                the_model = _pooled(the_model, int(value), name)
            run_dir = out / "runs" / _safe(name) / f"{vary}={value}"
            scores = run_eval(bench, the_model, run_dir, progress=progress, command=["mimic", "sweep"],
                              overwrite=overwrite)
            points[name].append(sweep_point(value, scores, task, run_dir, out, the_model.describe()))
    derived = {k: v for k, v in controls[values[0]].to_dict().items() if k == "n_images" and "n_images" not in fixed
               and vary != "n_images"}
    result = {"model": model, "task": task, "vary": vary, "values": list(values), "fixed": fixed,
              "derived": derived, "count": count, "seed": seed, "points": points[model],
              "baselines": {b: points[b] for b in baselines}}
    write_json_atomic(out / SWEEP_JSON, result)
    plot_sweep(result, out / SWEEP_PNG)
    plot_tokens(result, out / TOKENS_PNG)
    return result


MODEL_OPTIONS = ("mask", "pooling", "adapter", "max_pixels", "image_size")
"""The model settings a sweep point records (from the run's model description): a masked or pooled sweep
must not read as a plain one."""


def sweep_point(value: str, scores: dict[str, Any], task: str, run_dir: Path, out: Path,
                described: dict[str, Any]) -> dict[str, Any]:
    """One point: the control value, the headline score with its interval, n, the mean vision tokens per
    sample, the model options, and the run folder."""
    h = headline(scores, task)
    return {"value": value, "score": {"value": h["value"], "ci": h["ci"]}, "metric": h["metric"], "n": h["n"],
            "vision_tokens": mean_tokens(run_dir, "vision_tokens"), "input_tokens": mean_tokens(run_dir, "prompt_tokens"),
            "run": str(run_dir.relative_to(out)),
            "model_options": {k: described.get(k) for k in MODEL_OPTIONS}}


def score_of(point: dict[str, Any]) -> dict[str, Any]:
    """A point's score estimate `{value, ci}` (sweep.json before the control value took `value`: the point)."""
    return point["score"] if isinstance(point.get("score"), dict) else point


def _pooled(model: Any, k: int, spec: str) -> Any:
    """The model with its vision tokens pooled by `k` (transformers models of the pooling families only)."""
    from mimic_vlm.models.hf import HFModel
    from mimic_vlm.probe.pooling import family_of, pooled_model

    if not isinstance(model, HFModel):
        raise MimicError(f"--vary pooling: --model {spec} is not a transformers model")
    family_of(model.model)  # an unsupported family is refused with its name
    return pooled_model(model, k)


def mean_tokens(run_dir: Path, field: str) -> float | None:
    """Mean of a per-sample token count (`vision_tokens`, or `prompt_tokens`: the whole input) over a run's
    predictions; None when the model does not report it."""
    from mimic_vlm.schema import read_jsonl

    counts = [r[field] for r in read_jsonl(run_dir / "predictions.jsonl") if r.get(field)]
    return sum(counts) / len(counts) if counts else None


def plot_tokens(result: dict[str, Any], path: Path) -> Path | None:
    """Score against the mean vision tokens per sample, or the input tokens where a model reports only those (a
    served model: vLLM's usage names no image tokens); the model's points only; None without tokens."""
    from mimic_vlm.report.plots import line_plot

    for key, what in (("vision_tokens", "vision tokens"), ("input_tokens", "input tokens")):
        points = sorted((p for p in result["points"] if p.get(key)), key=lambda p: p[key])
        if len(points) >= 2:
            metric = label(points[0]["metric"])
            return line_plot(path, [p[key] for p in points], {result["model"]: [score_of(p) for p in points]},
                             xlabel=f"{what} per sample (mean)", ylabel=metric, ylim=None,
                             title=f"{result['task']}: {metric} vs {what} ({result['vary']} varied)")
    path.unlink(missing_ok=True)
    return None


def plot_sweep(result: dict[str, Any], path: Path) -> Path:
    """Score against the varied control: the model solid, baselines dashed, 95% intervals as bands."""
    from mimic_vlm.report.plots import line_plot

    numeric = all(re.fullmatch(r"-?\d+(\.\d+)?", v) for v in result["values"])
    x = [float(v) for v in result["values"]] if numeric else list(range(len(result["values"])))
    every = {result["model"]: result["points"], **result["baselines"]}
    series: dict[str, Sequence[dict[str, Any]]] = {name: [score_of(p) for p in pts] for name, pts in every.items()}
    metric = label(result["points"][0]["metric"]) if result["points"] else "score"
    return line_plot(path, x, series, xlabel=result["vary"], ylabel=metric, dashed=set(result["baselines"]),
                     title=f"{result['task']}: {metric} vs {result['vary']}",
                     xticks=None if numeric else result["values"], ylim=None)

