"""Run folders as a report reads them.

A run folder holds `scores.json` (required), `predictions.jsonl` and `run.json` (optional; the model is read from
`model` or `settings.model`, the bench from `bench`; without it the folder name identifies the run). A
diagnostics folder (`mimic probe`, `mimic sweep`) holds one of `DIAGNOSTICS` instead of scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mimic_vlm.errors import MimicError
from mimic_vlm.evaluate.record import RUN_JSON, RunRecord
from mimic_vlm.schema import read_json, read_jsonl_numbered

DIAGNOSTICS = {"attention": "attention.json", "pooling": "pooling.json", "sweep": "sweep.json"}
"""Result files of the diagnostics, by kind: what makes a folder without scores.json a report input."""


@dataclass
class RunData:
    name: str
    path: Path
    scores: dict[str, Any]
    settings: dict[str, Any] = field(default_factory=dict)
    predictions: list[dict[str, Any]] = field(default_factory=list)
    diagnostics: bool = False
    """A `mimic probe` / `mimic sweep` folder: read by its own sections, not a scored run."""

    @property
    def record(self) -> RunRecord:
        """run.json, typed (`settings` is its content as read; empty without one)."""
        return RunRecord.from_dict(self.settings, str(self.path / RUN_JSON))


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _metric_ok(m: Any) -> bool:
    """`{"value": number or null, "ci": [low, high] or absent}`: what every table and plot reads."""
    ci = m.get("ci") if isinstance(m, dict) else None
    return isinstance(m, dict) and (m.get("value") is None or _number(m.get("value"))) and (
        ci is None or isinstance(ci, list) and len(ci) == 2 and all(map(_number, ci)))


def scores_problem(scores: Any) -> str | None:
    """What makes a scores.json unusable for a report (None when it is fine): checked at load, so a hand-edited
    or truncated file is one line naming it, not a KeyError inside a section."""
    if not isinstance(scores, dict) or not isinstance(scores.get("tasks"), dict):
        return "not a mimic scores file (no 'tasks')"
    for name, t in scores["tasks"].items():
        if not isinstance(t, dict) or not isinstance(t.get("metrics"), dict):
            return f"task {name!r} has no 'metrics' object"
        if not isinstance(t.get("n"), int) or not isinstance(t.get("headline"), str):
            return f"task {name!r} needs an integer 'n' and a 'headline' name"
        if not _metric_ok(t["metrics"].get(t["headline"])) or not all(map(_metric_ok, t["metrics"].values())):
            return f"task {name!r}: every metric must be an object with a numeric 'value' (and a 'ci' of two numbers)"
        by_control = t.get("by_control", {})
        if not isinstance(by_control, dict) or not all(
                isinstance(values, dict) and all(isinstance(e, dict) and isinstance(e.get("metrics"), dict)
                                                 and all(map(_metric_ok, e["metrics"].values()))
                                                 for e in values.values()) for values in by_control.values()):
            return f"task {name!r}: 'by_control' must map controls to values to {{metrics}}"
    if not isinstance(scores.get("overall"), dict) or not isinstance(scores["overall"].get("n"), int):
        return "'overall' must be an object with an integer 'n'"
    if scores.get("mimic_score") is not None and not _metric_ok(scores["mimic_score"]):
        return "'mimic_score' must be an object with a numeric 'value'"
    return None


def is_training_folder(path: str | Path) -> bool:
    """A `mimic train --out` folder (an adapter or fine-tuned weights, `mimic_train.json`): no scores to report;
    `mimic eval --adapter FOLDER` makes a run of it."""
    path = Path(path)
    if (path / "mimic_train.json").is_file() or (path / "checkpoints").is_dir():
        return True
    try:
        record = read_json(path / "run.json") if (path / "run.json").is_file() else None
    except MimicError:
        return False
    return isinstance(record, dict) and "settings" not in record and {"method", "data"} <= record.keys()


def training_note(path: str | Path) -> str:
    return (f"{path}: a training folder (mimic train --out), not an evaluation run; evaluate it with "
            f"`mimic eval --adapter {path} ...` and report that run")


def load_run(path: str | Path) -> RunData:
    path = Path(path)
    if not (path / "scores.json").is_file() and is_training_folder(path):
        raise MimicError(training_note(path))
    if not (path / "scores.json").is_file():
        if any((path / f).is_file() for f in DIAGNOSTICS.values()):  # a diagnostics folder: its own sections
            return RunData(path.resolve().name, path, {"tasks": {}}, {}, [], diagnostics=True)
        if (path / RUN_JSON).is_file():
            raise MimicError(f"{path}: an unfinished run (run.json but no scores.json yet); rerun its mimic eval "
                             "command to finish it, or leave it out of the report")
        raise MimicError(f"{path}: not a run folder (no scores.json, {', '.join(DIAGNOSTICS.values())})")
    scores = read_json(path / "scores.json")
    problem = scores_problem(scores)
    if problem:
        raise MimicError(f"{path / 'scores.json'}: {problem}")
    settings = read_json(path / RUN_JSON) if (path / RUN_JSON).is_file() else {}
    RunRecord.from_dict(settings, str(path / RUN_JSON))  # checked here: sections read it as a RunRecord
    predictions = []
    if (path / "predictions.jsonl").is_file():
        for i, row in read_jsonl_numbered(path / "predictions.jsonl"):
            if not (isinstance(row, dict) and isinstance(row.get("id"), str) and isinstance(row.get("output"), str)):
                raise MimicError(f"{path / 'predictions.jsonl'}:{i}: a prediction needs a string 'id' and a string "
                                 "'output'")
            predictions.append(row)
    return RunData(path.resolve().name, path, scores, settings, predictions)


def load_runs(paths: Sequence[str | Path]) -> list[RunData]:
    """Runs in the given order; equal folder names get a suffix so every run has its own name."""
    runs = [load_run(p) for p in paths]
    seen: dict[str, int] = {}
    for run in runs:
        seen[run.name] = seen.get(run.name, 0) + 1
        if seen[run.name] > 1:
            run.name = f"{run.name}#{seen[run.name]}"
    return runs


def run_bench(run: RunData) -> tuple[str, str] | None:
    """(manifest hash, bench folder) a `mimic eval` run was scored against; None when the folder does not say."""
    digest = run.record.settings.get("bench_manifest_hash")
    return (str(digest), str(run.record.bench or "?")) if digest else None


def check_same_bench(runs: list[RunData]) -> None:
    """Runs of different benches in one report would put unrelated numbers side by side: refused, naming two."""
    seen: dict[str, tuple[str, str]] = {}
    for run in runs:
        bench = run_bench(run)
        if bench is not None:
            seen.setdefault(bench[0], (run.name, bench[1]))
    if len(seen) > 1:
        (a, pa), (b, pb) = list(seen.values())[:2]
        raise MimicError(f"report: the runs were scored on {len(seen)} different benches (e.g. {a}: {pa}; {b}: {pb}); "
                         "report each bench separately, or pass --allow-mixed")


def run_model(run: RunData) -> dict[str, Any]:
    """The model settings of a run: run.json's `model`, or `settings.model` as `mimic eval` writes it."""
    return run.record.model


def is_baseline(run: RunData) -> bool:
    return run_model(run).get("kind") == "baseline"


def model_title(model: dict[str, Any], fallback: str = "") -> str:
    """A model as a run used it: its id, then `+ adapter NAME` and `+ mask LAYERS` where the run had them, so
    a fine-tuned or masked run never reads as its plain base model."""
    text = str(model.get("model") or model.get("name") or model.get("spec") or fallback)
    if model.get("adapter"):
        text += f" + adapter {Path(str(model['adapter'])).name}"
    mask = model.get("mask")
    if isinstance(mask, dict) and mask.get("layers") is not None:
        layers = mask["layers"]
        text += " + mask " + (layers if isinstance(layers, str) else _layer_text(layers))
    return text


def _layer_text(layers: Sequence[int]) -> str:
    """[12, 13, 14, 20] -> '12-14,20' (layers as `--mask-layers` takes them)."""
    parts: list[str] = []
    values = sorted(int(x) for x in layers)
    start = prev = None
    for v in [*values, None]:
        if v is not None and prev is not None and v == prev + 1:
            prev = v
            continue
        if start is not None:
            parts.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = v
    return ",".join(parts)


def run_title(run: RunData) -> str:
    """`run_model` as a title (`model_title`); the folder name when run.json does not say."""
    return model_title(run_model(run), run.name)


def is_plain(run: RunData) -> bool:
    """A run of the model as released: no adapter and no attention mask (the "base" of a comparison)."""
    m = run_model(run)
    return not m.get("adapter") and not m.get("mask")
