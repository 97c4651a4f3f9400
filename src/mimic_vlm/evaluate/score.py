"""Scoring outputs against a bench: one answer (`score_output`, the runner calls it per sample) or a
whole predictions file made anywhere else (`score_predictions`); and the notes on how the modes differ.

A bench sample without a prediction is scored as an empty answer: unparsed and wrong, and counted in
`missing`, so a partial file never looks better than the full one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from mimic_vlm.errors import MimicError
from mimic_vlm.evaluate.harness_files import read_outputs
from mimic_vlm.evaluate.metrics import summarize
from mimic_vlm.evaluate.reasoning import THINK_TAGS, split_reasoning
from mimic_vlm.evaluate.record import RUN_JSON, read_run
from mimic_vlm.evaluate.tasks import Vocabulary, get_task
from mimic_vlm.evaluate.usage import has_usage, usage_by_task
from mimic_vlm.schema import Sample
from mimic_vlm.store import Bench

DEFAULT_NOTES = (
    "counting: digits and number words; the number that answers (after 'so'/'total'/'answer is'/'=', "
    "before 'in total'), never an image index; otherwise the only value given, else the one next to the "
    "asked category ('3 dogs and 2 cats'), else the last; a hedge ('2 or 3') is unparsed.",
    "listing: items split on commas, 'and', '&', newlines and bullets, except inside a category name "
    "('bow and arrow'); plural and synonym forms mapped to the category; denied names ('no bus') dropped; "
    "duplicates removed; unknown items count against precision.",
    "common / odd_one: the category named, with plural and synonym forms, denied names ('not a cat') aside; "
    "an answer naming several categories where one is asked is wrong.",
    "a made-up continuation ('3\\nQuestion: ... Answer: 2') is cut before reading; an answer that cannot "
    "be parsed is unparsed and wrong (never a random guess), and their number is reported.",
    "a thinking block ('<think>...</think>', or the run's --reasoning-tags) is set aside and only the text "
    "after it is read; an output that ends inside a block, or hit the token limit before an answer that "
    "parses, is truncated: wrong, and counted apart from unparsed.",
)

OFFICIAL_NOTES = (
    "official mode reproduces lmms-eval MIMIC scoring to the last bit; it differs from the default scoring "
    "as follows:",
    "the raw output is used as generated, never stripped: the filter prepends a space to it, so a trailing "
    "newline or space stays part of the answer ('Two.\\n' is wrong; 'ball, kite\\n' misses 'kite').",
    "listing: split on ', ' and lower-cased only; the first predicted item never matches (' car' != 'car'), "
    "so a perfect 3-item answer has recall 2/3; no plural/synonym mapping; duplicates count in precision; "
    "F1 = 2PR/(P+R) from micro precision and recall.",
    "common / odd_one: substring rule, correct if the gold name occurs anywhere in the answer: 'carrot' "
    "counts for 'car', and naming every category is never penalised.",
    "counting: the characters , . ! ? ; : ' are stripped from both ends one at a time in that order "
    "('seven.!' keeps its '.', so it is wrong); then int(), else word2number over the whole sentence (it "
    "adds all number words: 'two dogs and three cats' is 5), else the FIRST digit string.",
    "unparsed: only counting answers with no number at all; other tasks use the raw text.",
)

MISSING_NOTE = "a bench sample without a prediction is scored as an empty answer (wrong), counted as missing."


def score_output(sample: Sample, output: str, vocabulary: Vocabulary, official: bool = False, *,
                 tags: tuple[str, str] = THINK_TAGS, hit_limit: bool = False) -> dict[str, Any]:
    """`{"parsed", "unparsed", metric fields...}` for one raw model output, its thinking block set aside
    (`reasoning.py`). An output that ends inside a block, or hit the token limit (`hit_limit`) with no answer
    that parses, is `"truncated": True` instead of unparsed: wrong, like an unparsed one, and counted apart.
    The official mode reads the raw output exactly as the official code does (no split)."""
    spec = get_task(sample.task)
    if official:
        return spec.score(sample, output, vocabulary, True)
    split = split_reasoning(output, tags)
    fields = spec.score(sample, "" if split.unclosed else split.answer, vocabulary, False)
    if split.unclosed or (hit_limit and fields["unparsed"]):
        return {**fields, "parsed": None, "unparsed": False, "truncated": True}
    return fields


def scoring_notes(official: bool) -> dict[str, Any]:
    """How the answers were read: the mode and the fixed list of its rules (in scores.json and reports)."""
    return {"mode": "official" if official else "default",
            "notes": [*(OFFICIAL_NOTES if official else DEFAULT_NOTES), MISSING_NOTE]}


def recorded_bench(predictions: Path) -> tuple[str, str] | None:
    """(manifest hash, bench folder) of the `mimic eval` run whose folder holds `predictions` (its run.json);
    None when the file sits in no run folder, or the run.json there is not ours (nothing to compare)."""
    try:
        run = read_run(predictions.parent)
    except MimicError:
        return None
    digest = run.manifest_hash if run else None
    return (digest, str(run.bench or "?")) if run and digest else None


def check_same_bench(bench: Bench, predictions: Path) -> None:
    """Predictions of a run on another bench are refused: generated ids are positions ('counting-000003'),
    so they would match every sample and score answers to other questions without a word."""
    recorded = recorded_bench(predictions)
    if recorded is not None and recorded[0] != bench.manifest_hash:
        raise MimicError(f"{predictions}: made by a run on the bench {recorded[1]} (manifest hash {recorded[0][:12]}, "
                         f"{predictions.parent / 'run.json'}), not on the bench {bench.root} (manifest hash "
                         f"{bench.manifest_hash[:12]}); score it against the bench it was made on")


def read_predictions(bench: Bench, path: str | Path | Sequence[str | Path]) -> dict[str, str]:
    """id -> output from our JSONL, lmms-eval `--log_samples` JSONL or VLMEvalKit tables (`harness_files`);
    an unknown or repeated id or a bad line names its file and line; a run folder's file must be of `bench`."""
    paths = [Path(p) for p in ([path] if isinstance(path, (str, Path)) else path)]
    for p in paths:
        check_same_bench(bench, p)
    return read_outputs(bench, paths)


def output_problem(target: Path, inputs: Sequence[Path]) -> str | None:
    """Why `target` must never be written, whatever --overwrite says (None when it may): it is one of the
    predictions read, or inside a bench folder (the one scored or any other: its samples, manifest or images)
    or a run folder."""
    where = target.resolve()
    for p in inputs:
        if where == p.resolve() or (target.exists() and p.exists() and target.samefile(p)):
            return "is one of the --predictions files; choose another name"
    for folder in where.parents:
        if (folder / "manifest.json").is_file() and (folder / "samples.jsonl").is_file():
            return f"is inside the bench folder {folder}; write scores outside it"
        if (folder / RUN_JSON).is_file():
            return f"is inside the run folder {folder} (mimic eval or train wrote it); write scores outside it"
    return None


def made_by_score(path: Path, flag: str) -> bool:
    """Whether an existing file is one `mimic score` wrote (what `--overwrite` may replace): scores.json's
    keys for --out, a scored row's for --scored."""
    try:
        with path.open("rb") as f:
            if flag == "--out":
                record = orjson.loads(f.read())
                keys = {"tasks", "scoring", "overall"}
            else:
                record = orjson.loads(f.readline())
                keys = {"id", "parsed", "correct"}
    except (OSError, orjson.JSONDecodeError):
        return False
    return isinstance(record, dict) and keys <= record.keys()


def check_outputs(targets: dict[str, Path | None], inputs: Sequence[Path], overwrite: bool) -> None:
    """Refuse, before any scoring, an output that would destroy an input, a folder, two outputs on one file,
    or an existing file without `overwrite`."""
    given = {flag: path for flag, path in targets.items() if path is not None}
    seen: dict[Path, str] = {}
    for flag, path in given.items():
        if path.is_dir():
            raise MimicError(f"{flag} {path}: is a folder, expected a file name to write")
        problem = output_problem(path, inputs)
        if problem:
            raise MimicError(f"{flag} {path}: {problem}")
        if path.resolve() in seen:
            raise MimicError(f"{flag} {path}: is also {seen[path.resolve()]}; give each output its own file")
        seen[path.resolve()] = flag
    for flag, path in given.items():
        if path.exists() and not overwrite:
            raise MimicError(f"{flag} {path}: file exists (use --overwrite to replace it)")
        if path.exists() and not made_by_score(path, flag):
            raise MimicError(f"{flag} {path}: not a file mimic score wrote, so --overwrite does not replace it; "
                             "choose another name")


def score_predictions(bench: Bench, predictions_path: str | Path | Sequence[str | Path], official: bool = False,
                      bootstrap: int = 1000, seed: int = 0) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Score a predictions file against a bench: (one row per bench sample, the scores.json content)."""
    outputs = read_predictions(bench, predictions_path)
    rows = []
    for s in bench.samples:
        output = outputs.get(s.id, "")
        row = {"id": s.id, "output": output, **score_output(s, output, bench.vocabulary, official)}
        if s.id not in outputs:
            row["missing"] = True
        rows.append(row)
    return rows, build_scores(bench.samples, rows, official, bootstrap, seed)


def build_scores(samples: list[Sample], rows: list[dict[str, Any]], official: bool = False,
                 bootstrap: int = 1000, seed: int = 0) -> dict[str, Any]:
    """The content of scores.json: `metrics.summarize` (layout documented there) plus `official`,
    `scoring` ({"mode", "notes"}: how answers were read), `overall.n_missing` (rows flagged `missing`) and
    `n_truncated` overall and per task (outputs cut by the token limit before an answer: not in n_unparsed),
    and `usage` (tokens and time per sample, `usage.py`) where the rows carry counts."""
    summary = summarize(samples, rows, bootstrap=bootstrap, seed=seed)
    summary["overall"]["n_missing"] = sum(bool(r.get("missing")) for r in rows)
    summary["overall"]["n_truncated"] = sum(bool(r.get("truncated")) for r in rows)
    task_of = {s.id: s.task for s in samples}
    for task, entry in summary["tasks"].items():
        entry["n_truncated"] = sum(bool(r.get("truncated")) for r in rows if task_of.get(r["id"]) == task)
    if has_usage(rows):
        summary["usage"] = usage_by_task(rows, task_of)
    return {**summary, "official": official, "scoring": scoring_notes(official)}


def headline(scores: dict[str, Any], task: str | None = None) -> dict[str, Any]:
    """`{value, ci, metric, n}` from a scores.json: the task's headline metric, or, with no task, the MIMIC
    score of a several-task bench (the headline of a one-task bench)."""
    tasks = scores["tasks"]
    if task is None and len(tasks) == 1:
        task = next(iter(tasks))
    if task is None:
        m = scores.get("mimic_score") or {}
        return {"value": m.get("value"), "ci": m.get("ci"), "metric": "MIMIC score", "n": scores["overall"]["n"]}
    if task not in tasks:
        raise MimicError(f"scores: no task {task!r} (have {', '.join(tasks)})")
    t = tasks[task]
    return {**t["metrics"][t["headline"]], "metric": t["headline"], "n": t["n"]}
