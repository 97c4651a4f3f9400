"""The Python API: what the `mimic` commands do, as functions that take `str` or `Path` and return small typed
objects reading and writing the same files (bench folders, run folders, scores.json, compare.json, reports).

```python
>>> import mimic_vlm as mv
>>> annotations = mv.toy_world(tmp / "w", images=40, seed=3, preset="tiny")
>>> bench = mv.generate(tmp / "b", source="toy", annotations=annotations, task="all", count=4, n_images="2-3")
>>> sorted({s.task for s in bench.samples})
['common', 'counting', 'listing', 'odd_one']
>>> run = mv.evaluate(bench, "oracle", out=tmp / "r")
>>> run.scores.mimic_score, run.scores.tasks["counting"].headline
(1.0, 'correct')
>>> mv.load_run(tmp / "r").scores.mimic_score
1.0
>>> mv.compare(mv.evaluate(bench, "chance", out=tmp / "c"), run).tasks["counting"].broken
0

```

The commands call these functions (`mimic toy`, `generate`, `eval`, `score`, `compare`, `report`), so the API
and the CLI are one implementation. Heavy modules (torch, transformers, matplotlib) load only when a function
that needs them runs.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mimic_vlm.errors import MimicError
from mimic_vlm.schema import TASKS

if TYPE_CHECKING:
    from mimic_vlm.masking import ImageBlockMask
    from mimic_vlm.progress import Progress
    from mimic_vlm.report.runs import RunData
    from mimic_vlm.store import Bench

__all__ = ["Bench", "Comparison", "Metric", "PairedDiff", "Run", "Scores", "TaskScores", "compare", "evaluate",
           "evaluate_scores", "generate", "load_bench", "load_run", "report", "score", "study", "tasks_of",
           "toy_world"]

PathLike = str | Path
Choice = str | int | Sequence[int]
"""A control value as `mimic generate` takes it: `5`, `"2-4"`, `"2,4,8"`, or a list of ints."""


# ---- results -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    """One aggregate of scores.json: its value (None where nothing was measured) and its 95% interval."""

    value: float | None
    ci: tuple[float, float] | None = None

    @classmethod
    def from_json(cls, m: Mapping[str, Any] | None) -> Metric:
        m = m or {}
        ci = m.get("ci")
        return cls(m.get("value"), (float(ci[0]), float(ci[1])) if ci and None not in ci else None)


@dataclass(frozen=True)
class TaskScores:
    """One task of scores.json: `metrics["accuracy"].value`, and `value` = its headline metric's value."""

    n: int
    headline: str
    metrics: dict[str, Metric]
    by_control: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict, repr=False)
    """control -> value -> {"n", "metrics"} as scores.json holds it."""

    @property
    def value(self) -> float | None:
        return self.metrics[self.headline].value if self.headline in self.metrics else None


@dataclass(frozen=True)
class Scores:
    """scores.json as an object; `raw` is the file's content, unchanged."""

    mimic_score: float | None
    """Mean of the four tasks' headline metrics (None for a bench without the MIMIC tasks)."""
    mimic_ci: tuple[float, float] | None
    tasks: dict[str, TaskScores]
    n: int
    n_unparsed: int
    n_missing: int
    official: bool
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_json(cls, scores: Mapping[str, Any]) -> Scores:
        mimic = Metric.from_json(scores.get("mimic_score"))
        overall = scores.get("overall") or {}
        from mimic_vlm.evaluate.metrics import task_order

        given = scores.get("tasks") or {}
        tasks = {name: TaskScores(n=int(t["n"]), headline=str(t["headline"]),
                                  metrics={k: Metric.from_json(m) for k, m in t["metrics"].items()},
                                  by_control=dict(t.get("by_control") or {}))
                 for name in task_order(given) for t in [given[name]]}
        return cls(mimic.value, mimic.ci, tasks, int(overall.get("n", 0)), int(overall.get("n_unparsed", 0)),
                   int(overall.get("n_missing", 0)), bool(scores.get("official", False)), dict(scores))

    @classmethod
    def load(cls, path: PathLike) -> Scores:
        """A scores.json file (`mimic eval`'s, `mimic score --out`'s)."""
        from mimic_vlm.report.runs import scores_problem
        from mimic_vlm.schema import read_json

        scores = read_json(Path(path))
        problem = scores_problem(scores)
        if problem:
            raise MimicError(f"{path}: {problem}")
        return cls.from_json(scores)


@dataclass(frozen=True)
class Run:
    """A scored run folder (`mimic eval --out`): its scores, its run.json and its predictions."""

    path: Path
    name: str
    model: str
    """The model spec as given (`toy:mimic-tiny`), with ` + adapter` / ` + mask` where the run had them."""
    scores: Scores
    record: dict[str, Any] = field(repr=False)
    """run.json's content (settings, runtime, bench, command); empty for a folder made by hand."""
    predictions: list[dict[str, Any]] = field(repr=False)

    @classmethod
    def from_data(cls, data: RunData) -> Run:
        from mimic_vlm.report.runs import run_title

        return cls(Path(data.path), data.name, run_title(data), Scores.from_json(data.scores), data.settings,
                   data.predictions)

    @property
    def bench(self) -> Path | None:
        """The bench folder the run was scored on, as run.json records it."""
        bench = self.record.get("bench")
        return Path(bench) if isinstance(bench, str) else None

    def data(self) -> RunData:
        """The report's view of this run (`report/runs.py`)."""
        from mimic_vlm.report.runs import RunData

        return RunData(self.name, self.path, self.scores.raw, self.record, self.predictions)


@dataclass(frozen=True)
class PairedDiff:
    """B − A of a headline metric on the shared samples, with its paired 95% interval and the verdict counts."""

    n: int
    a: float | None
    b: float | None
    diff: float | None
    ci: tuple[float, float] | None
    fixed: int
    broken: int
    both_right: int
    both_wrong: int
    mcnemar_p: float | None

    @classmethod
    def from_json(cls, e: Mapping[str, Any]) -> PairedDiff:
        ci = e.get("ci")
        return cls(int(e["n"]), e.get("a"), e.get("b"), e.get("diff"), (float(ci[0]), float(ci[1])) if ci else None,
                   int(e["fixed"]), int(e["broken"]), int(e["both_right"]), int(e["both_wrong"]), e.get("mcnemar_p"))


@dataclass(frozen=True)
class Comparison:
    """`mimic compare A B`: B against A on their shared samples; `raw` is the entry compare.json holds."""

    a: str
    b: str
    n_shared: int
    mimic_diff: float | None
    mimic_ci: tuple[float, float] | None
    tasks: dict[str, PairedDiff]
    """Per task, the whole set (per control value: `raw["tasks"][task]["by_control"]`)."""
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_json(cls, r: Mapping[str, Any]) -> Comparison:
        m = r.get("mimic_score") or {}
        ci = m.get("ci")
        return cls(str(r["a"]), str(r["b"]), int(r["n_shared"]), m.get("diff"),
                   (float(ci[0]), float(ci[1])) if ci else None,
                   {t: PairedDiff.from_json(e["all"]) for t, e in r["tasks"].items()}, dict(r))


# ---- the pipeline --------------------------------------------------------------------------------------------


def tasks_of(task: str | Sequence[str] | None) -> list[str]:
    """`"all"`, `["all"]`, `None` -> the four MIMIC tasks; `"counting,listing"` or a list -> those, checked."""
    if task is None:
        return list(TASKS)
    names = [t.strip() for t in task.split(",")] if isinstance(task, str) else [str(t) for t in task]
    if not names or any(not t for t in names):
        raise MimicError(f"--task {task!r}: name at least one task ({', '.join(TASKS)} or all)")
    if "all" in names:
        if len(names) > 1:
            raise MimicError(f"--task {task!r}: 'all' stands alone")
        return list(TASKS)
    for t in names:
        if t not in TASKS:
            raise MimicError(f"--task {t!r}: expected one of {', '.join(TASKS)} or all")
    if len(set(names)) < len(names):
        raise MimicError(f"--task {task!r}: a task is named twice")
    return names


def _choice(value: Choice | None) -> str | int | None:
    if value is None or isinstance(value, (str, int)):
        return value
    return ",".join(str(int(v)) for v in value)


def toy_world(out: PathLike, images: int = 500, seed: int = 0, preset: str = "default", overwrite: bool = False,
              progress: Progress | None = None) -> Path:
    """Render the built-in toy world (`mimic toy`): `out/images/*.png` and COCO-format `out/annotations.json`,
    whose path is returned. The same seed gives byte-identical files."""
    from mimic_vlm.annotations.toyworld import get_preset, render_toy_world

    return render_toy_world(Path(out), images, seed, overwrite=overwrite, progress=progress,
                            preset=get_preset(preset))


def generate(out: PathLike, *, source: str = "toy", annotations: PathLike | None = None,
             images_dir: PathLike | None = None, task: str | Sequence[str] = "all", count: int = 100,
             n_images: Choice = "2-6", spread: Choice | None = None, distractors: Choice | None = None,
             concepts: Choice = 1, answers: Choice = 1, balance: str = "uniform", target_position: str | None = None,
             blank_images: bool = False, seed: int = 0, copy_images: bool = False, overwrite: bool = False,
             min_area: float = 0.0,
             for_training: bool = False, training_phrasing: str = "paraphrased", toy_preset: str = "default",
             oi_classes: PathLike | None = None, oi_hierarchy: PathLike | None = None, toy_images: int | None = None,
             pack_targets: bool = False, progress: Progress | None = None) -> Bench:
    """Compose a controlled multi-image bench (`mimic generate`) and return it loaded. `count` samples per task;
    controls take `N`, `"A-B"`, `"a,b,c"` or a list. `source="toy"` without `annotations` renders a default toy
    world inside the bench."""
    from mimic_vlm.bench.generate import DEFAULT_TOY_IMAGES, Source
    from mimic_vlm.bench.generate import generate as generate_to
    from mimic_vlm.compose.controls import Controls
    from mimic_vlm.store import load_bench as load

    tasks = tasks_of(task)
    if count < 1:
        raise MimicError(f"--count {count}: must be at least 1")
    controls = Controls.parse(n_images=_choice(n_images) or "", spread=_choice(spread),
                              distractors=_choice(distractors), concepts=_choice(concepts) or "",
                              answers=_choice(answers) or "", balance=balance, target_position=target_position,
                              blank_images=blank_images)
    spec = Source(source, _path(annotations), _path(images_dir), min_area, _path(oi_classes), _path(oi_hierarchy),
                  DEFAULT_TOY_IMAGES if toy_images is None else toy_images, toy_preset)
    path = generate_to(spec, tasks, count, controls, seed, Path(out), copy_images=copy_images, overwrite=overwrite,
                       for_training=for_training, pack_targets=pack_targets, progress=progress,
                       phrasing=training_phrasing)
    return load(path)


def _path(p: PathLike | None) -> Path | None:
    return None if p is None else Path(p)


def load_bench(path: PathLike) -> Bench:
    """A bench folder (samples.jsonl + manifest.json), every line checked."""
    from mimic_vlm.store import load_bench as load

    return load(path)


def _bench(bench: Bench | PathLike) -> Bench:
    return load_bench(bench) if isinstance(bench, (str, Path)) else bench


def evaluate_scores(bench: Bench | PathLike, model: str, out: PathLike, *, limit: int | None = None,
                    tasks: str | Sequence[str] | None = None, ids: Sequence[str] | None = None,
                    batch_size: int | None = None, official: bool = False, overwrite: bool = False,
                    prompt_template: str | None = None, system_prompt: str | None = None,
                    max_new_tokens: int | None = None, reasoning: bool = False,
                    reasoning_tags: str | tuple[str, str] = "<think>,</think>", mask_layers: str | None = None,
                    mask_backend: str = "auto", permutations: int = 0, seed: int = 0,
                    command: Sequence[str] | None = None, progress: Progress | None = None,
                    **model_options: Any) -> dict[str, Any]:
    """What `evaluate` does, returning scores.json's content (an empty dict on ranks other than 0 under
    `accelerate launch` / torchrun, which write no scores)."""
    from mimic_vlm.evaluate.reasoning import parse_tags
    from mimic_vlm.evaluate.runner import Prompting, run_eval
    from mimic_vlm.models.registry import load_model
    from mimic_vlm.progress import library_bars

    mask = eval_mask(model, mask_layers, mask_backend)  # a bad option fails before the bench and the model load
    task_list = None if tasks is None or tasks == "all" or list(tasks) == ["all"] else (
        [t.strip() for t in tasks.split(",")] if isinstance(tasks, str) else list(tasks))
    loaded = _bench(bench)
    tags = parse_tags(reasoning_tags) if isinstance(reasoning_tags, str) else reasoning_tags
    prompting = Prompting(template=prompt_template, system=system_prompt, max_new_tokens=max_new_tokens,
                          reasoning=reasoning, reasoning_tags=tags)
    if prompting.template and loaded.samples:  # a bad template fails here, before the model loads
        prompting.text(loaded.samples[0])
    with library_bars(progress is not None):  # no progress asked: none from transformers either
        the_model = load_model(model, bench=loaded, batch_size=batch_size, mask=mask, seed=seed, **model_options)
        return run_eval(loaded, the_model, Path(out), limit=limit, tasks=task_list, ids=ids, batch_size=batch_size,
                        official=official, overwrite=overwrite, prompting=prompting,
                        command=list(command) if command is not None else _python_command("evaluate", model, out),
                        progress=progress, permutations=permutations)


def eval_mask(model: str, mask_layers: str | None, mask_backend: str) -> ImageBlockMask | None:
    """The image-block mask `mask_layers` asks for, refused unless the model kind takes one."""
    if not mask_layers:
        return None
    from mimic_vlm.masking import mask_from_options
    from mimic_vlm.models.kinds import require

    require(model, "mask", "--mask-layers")
    return mask_from_options(mask_layers, mask_backend)


def study(model: str, out: PathLike, *, findings: str | Sequence[str] | None = None, count: int | None = None,
          profile: str = "quick", source: str = "toy", annotations: PathLike | None = None,
          images_dir: PathLike | None = None, seed: int = 0, overwrite: bool = False,
          progress: Progress | None = None, **model_options: Any) -> dict[str, Any]:
    """The paper's study on `model` (`mimic study`): each finding's paired design evaluated once, with verdicts
    and intervals, into the resumable folder `out`; returns study.json's content. Without `annotations`, a toy
    world in the model's preset is rendered into `out`. `model_options`: dtype, device, adapter, max_pixels,
    image_size, batch_size (as `evaluate`)."""
    from mimic_vlm.bench.generate import Source
    from mimic_vlm.study.run import study as run_study

    return run_study(model, Path(out), findings=findings, count=count, profile=profile, seed=seed,
                     source=Source(source, _path(annotations), _path(images_dir)), model_options=model_options,
                     overwrite=overwrite, progress=progress)


def _python_command(function: str, model: str, out: PathLike) -> list[str]:
    """run.json's `command` for a run made from Python: which call made it, and from which program."""
    return ["python", sys.argv[0] if sys.argv and sys.argv[0] else "-", f"mimic_vlm.{function}(model={model!r}, "
            f"out={str(out)!r})"]


def evaluate(bench: Bench | PathLike, model: str, out: PathLike, *, limit: int | None = None,
             tasks: str | Sequence[str] | None = None, ids: Sequence[str] | None = None,
             batch_size: int | None = None, official: bool = False, overwrite: bool = False,
             prompt_template: str | None = None, system_prompt: str | None = None, max_new_tokens: int | None = None,
             reasoning: bool = False, reasoning_tags: str | tuple[str, str] = "<think>,</think>",
             mask_layers: str | None = None, mask_backend: str = "auto", permutations: int = 0, seed: int = 0,
             progress: Progress | None = None, **model_options: Any) -> Run:
    """Run `model` (`hf:ID`, `tiny:FAMILY`, `toy:mimic-tiny`, `openai:MODEL@URL`, `chance`, `prior`,
    `single-image`, `oracle`) over a bench into the run folder `out` (`mimic eval`); resumes a run made with
    the same settings. `model_options` are `mimic eval`'s model options (dtype, device, device_map,
    attn_implementation, max_pixels, image_size, adapter, concurrency, timeout, retries, api_key_env).
    `limit` takes a subset balanced over the tasks."""
    evaluate_scores(bench, model, out, limit=limit, tasks=tasks, ids=ids, batch_size=batch_size, official=official,
                    overwrite=overwrite, prompt_template=prompt_template, system_prompt=system_prompt,
                    max_new_tokens=max_new_tokens, reasoning=reasoning, reasoning_tags=reasoning_tags,
                    mask_layers=mask_layers, mask_backend=mask_backend, permutations=permutations, seed=seed,
                    progress=progress, **model_options)
    return load_run(out)


def score(bench: Bench | PathLike, predictions: PathLike | Sequence[PathLike], *, official: bool = False,
          bootstrap: int = 1000, seed: int = 0, out: PathLike | None = None, scored: PathLike | None = None,
          overwrite: bool = False) -> Scores:
    """Score predictions made anywhere (`mimic score`): our JSONL of {id, output}, lmms-eval `--log_samples`
    JSONL, VLMEvalKit tables; as `evaluate` scores. `out` writes scores.json, `scored` each sample's parse."""
    from mimic_vlm.evaluate.score import check_outputs, score_predictions
    from mimic_vlm.files import write_json_atomic, write_jsonl_atomic

    files = [Path(predictions)] if isinstance(predictions, (str, Path)) else [Path(p) for p in predictions]
    targets = {"--out": _path(out), "--scored": _path(scored)}
    check_outputs(targets, files, overwrite)
    rows, scores = score_predictions(_bench(bench), files, official, bootstrap, seed)
    if targets["--out"] is not None:
        write_json_atomic(targets["--out"], scores)
    if targets["--scored"] is not None:
        write_jsonl_atomic(targets["--scored"], rows)
    return Scores.from_json(scores)


def load_run(path: PathLike) -> Run:
    """A scored run folder (scores.json, run.json, predictions.jsonl), checked as `mimic report` checks it."""
    from mimic_vlm.report.runs import load_run as load

    data = load(path)
    if data.diagnostics:
        raise MimicError(f"{path}: a diagnostics folder (mimic probe / sweep), not a scored run")
    return Run.from_data(data)


def _run(run: Run | PathLike) -> Run:
    return load_run(run) if isinstance(run, (str, Path)) else run


def compare(a: Run | PathLike, b: Run | PathLike, *, shared_ids: bool = False, bootstrap: int = 1000,
            seed: int = 0) -> Comparison:
    """B against A on the samples both scored (`mimic compare A B`): per task the headline difference with a
    paired 95% bootstrap interval, fixed / broken counts and the exact McNemar p."""
    from mimic_vlm.report.compare import compare_runs

    ra, rb = _run(a), _run(b)
    da, db = ra.data(), rb.data()
    if da.name == db.name:
        db.name = f"{db.name}#2"
    return Comparison.from_json(compare_runs(da, db, shared_ids, bootstrap, seed))


def report(runs: Sequence[Run | PathLike], out: PathLike, *, title: str = "MIMIC evaluation report",
           overwrite: bool = False, allow_mixed: bool = False,
           warn: Callable[[str], None] = lambda note: warnings.warn(note, stacklevel=3)) -> Path:
    """Write `out/report.md` (+ figures/) and the self-contained `out/report.html` over run folders (and probe
    or sweep folders), with every area's sections (`mimic report`); returns `out`. Training folders among
    `runs` (`mimic train --out`, e.g. from `runs/*`) are skipped with a note to `warn`."""
    from mimic_vlm.plugins import REPORT_SECTIONS
    from mimic_vlm.report import write_report

    paths = report_inputs([r.path if isinstance(r, Run) else Path(r) for r in runs], warn)
    return write_report(paths, out, REPORT_SECTIONS, overwrite=overwrite, title=title, allow_mixed=allow_mixed)


def report_inputs(paths: Sequence[Path], warn: Callable[[str], None]) -> list[Path]:
    """The folders a report reads: training folders left out with a note (all of them: the error says why)."""
    from mimic_vlm.report.runs import is_training_folder, training_note

    kept = [p for p in paths if not is_training_folder(p)]
    if not kept:
        return list(paths)  # nothing else: load_run names the training folder in its error
    for p in paths:
        if is_training_folder(p):
            warn(f"{training_note(p)}; skipped")
    return kept
