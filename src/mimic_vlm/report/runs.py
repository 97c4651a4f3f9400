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


def load_run(path: str | Path) -> RunData:
    path = Path(path)
    if not (path / "scores.json").is_file():
        if any((path / f).is_file() for f in DIAGNOSTICS.values()):  # a diagnostics folder: its own sections
            return RunData(path.resolve().name, path, {"tasks": {}}, {}, [], diagnostics=True)
        if (path / "run.json").is_file():
            raise MimicError(f"{path}: an unfinished run (run.json but no scores.json yet); rerun its mimic eval "
                             "command to finish it, or leave it out of the report")
        raise MimicError(f"{path}: not a run folder (no scores.json, {', '.join(DIAGNOSTICS.values())})")
    scores = read_json(path / "scores.json")
    problem = scores_problem(scores)
    if problem:
        raise MimicError(f"{path / 'scores.json'}: {problem}")
    settings = read_json(path / "run.json") if (path / "run.json").is_file() else {}
    if not isinstance(settings, dict) or not isinstance(settings.get("settings", {}), dict) \
            or not isinstance(settings.get("model", {}), dict) \
            or not isinstance((settings.get("settings") or {}).get("model", {}), dict):
        raise MimicError(f"{path / 'run.json'}: not a mimic run file (an object whose 'settings' and 'model' are "
                         "objects)")
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
    settings = run.settings.get("settings") or {}
    digest = settings.get("bench_manifest_hash") if isinstance(settings, dict) else None
    return (str(digest), str(run.settings.get("bench", "?"))) if digest else None


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
    return run.settings.get("model") or (run.settings.get("settings") or {}).get("model") or {}


def is_baseline(run: RunData) -> bool:
    return run_model(run).get("kind") == "baseline"
