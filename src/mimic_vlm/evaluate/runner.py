"""`mimic eval`: run a model over a bench into a run folder that survives kills and never mixes settings.

```
RUN/
  run.json           settings that shape the answers (compared on every rerun) + runtime, bench, command,
                     generation (each task's token budget as run, the reasoning preset and tags)
  predictions.jsonl  one line per sample id: output (raw), reasoning (where any), parsed, score fields
                     (truncated: cut by the token limit before an answer), token counts (prompt, vision, text,
                     output, reasoning), latency_s (the batch's wall time / its size)
  scores.json        `score.build_scores` of every prediction in the folder (per task, per control)
```

Rerunning the same command continues where it stopped; different settings are refused unless `overwrite`.
Requests are batched in order of (token budget, image count, prompt length) to cut padding; the finished
`predictions.jsonl` is rewritten in bench order, so its bytes do not depend on batching or interruptions
(except `latency_s`). Under `accelerate launch` / torchrun (RANK, WORLD_SIZE) the samples are sharded over
the ranks and rank 0 merges.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson

from mimic_vlm import __version__
from mimic_vlm.errors import MimicError
from mimic_vlm.evaluate import predictions as P
from mimic_vlm.evaluate.reasoning import THINK_TAGS, split_reasoning
from mimic_vlm.evaluate.record import RUN_JSON, RunRecord, is_eval_run
from mimic_vlm.evaluate.score import build_scores, score_output
from mimic_vlm.evaluate.tasks import get_task
from mimic_vlm.files import write_json_atomic
from mimic_vlm.images import check_header
from mimic_vlm.locks import holding
from mimic_vlm.models.base import Generation, Model, Request
from mimic_vlm.progress import Progress, report
from mimic_vlm.schema import Sample, read_json
from mimic_vlm.staging import fresh_stage, staging, swap_in
from mimic_vlm.store import Bench, check_images, distinct_images

SCORES = "scores.json"
REASONING_MAX_NEW_TOKENS = 8192


@dataclass(frozen=True)
class Prompting:
    """How samples become prompts. Defaults = the official MIMIC protocol of each task (`tasks.py`)."""

    template: str | None = None
    """Replaces the task's prompt: `{question}`, `{task}`, `{options}`, `{n_images}`; `<image>` interleaves."""
    system: str | None = None
    max_new_tokens: int | None = None
    """Every task's token budget (overrides the tasks' own and the reasoning preset's)."""
    reasoning: bool = False
    """The reasoning preset (`--reasoning`): budgets raised to REASONING_MAX_NEW_TOKENS, since a thinking model
    spends hundreds to thousands of tokens before it answers (the tasks' 16 end every one mid-thought)."""
    reasoning_tags: tuple[str, str] = THINK_TAGS
    """The thinking block's tags, set aside before an answer is read (`reasoning.py`)."""

    def text(self, sample: Sample, official: bool = False) -> str:
        """The prompt; `official` picks a task's `extra["official_prompt"]` where its text differs."""
        if self.template is None:
            spec = get_task(sample.task)
            chosen = spec.extra.get("official_prompt") if official else None
            return (chosen or spec.prompt)(sample)
        try:
            return self.template.format(question=sample.question, task=sample.task, n_images=len(sample.images),
                                        options=", ".join(sample.options or []))
        except (KeyError, IndexError, ValueError) as e:
            raise MimicError(f"--prompt-template {self.template!r}: bad placeholder ({e}); use {{question}}, "
                             "{task}, {options}, {n_images}") from None

    def tokens(self, sample: Sample) -> int:
        if self.max_new_tokens:
            return self.max_new_tokens
        return REASONING_MAX_NEW_TOKENS if self.reasoning else get_task(sample.task).max_new_tokens

    def settings(self) -> dict[str, Any]:
        """What run.json compares: the reasoning fields only where they differ from their defaults, so runs
        made before they existed still resume."""
        given = asdict(self)
        for name, default in (("reasoning", False), ("reasoning_tags", THINK_TAGS)):
            if given[name] == default:
                del given[name]
        return given


def select(samples: Sequence[Sample], *, tasks: Sequence[str] | None = None, ids: Sequence[str] | None = None,
           limit: int | None = None) -> list[Sample]:
    """The samples a run covers (all of `tasks` and `ids` when given), in bench order; ids or tasks the
    bench does not know are a MimicError; so is an empty list (`--task ,`): it must not mean "all"."""
    for option, given in (("--task", tasks), ("--ids", ids)):
        if given is not None and not given:
            raise MimicError(f"{option}: the list is empty; name at least one (or leave {option} out for all)")
    for t in tasks or ():
        get_task(t)
    wanted = set(ids or ())
    missing = wanted - {s.id for s in samples}
    if missing:
        raise MimicError(f"--ids: {len(missing)} id(s) not in the bench, e.g. {sorted(missing)[0]!r}")
    chosen = [s for s in samples if (not tasks or s.task in tasks) and (not wanted or s.id in wanted)]
    return balanced(chosen, limit) if limit is not None else chosen


def balanced(samples: Sequence[Sample], limit: int) -> list[Sample]:
    """`limit` samples spread evenly over the tasks (the first of each task in turn, a task that runs out
    leaving its share to the others), in bench order: `--limit 40` of a four-task bench is 10 per task, not
    the first 40 (all counting)."""
    by_task: dict[str, list[Sample]] = {}
    for s in samples:
        by_task.setdefault(s.task, []).append(s)
    taken: set[str] = set()
    depth = 0
    while len(taken) < min(limit, len(samples)):
        for group in by_task.values():
            if depth < len(group) and len(taken) < limit:
                taken.add(group[depth].id)
        depth += 1
    return [s for s in samples if s.id in taken]


def answer_settings(model: Model, prompting: Prompting, official: bool, bench: Bench) -> dict[str, Any]:
    """Everything that changes a prediction line: a rerun must match it exactly to append to a run."""
    describe = {k: v for k, v in model.describe().items() if k != "runtime"}
    return {"model": describe, "prompting": prompting.settings(), "official": official,
            "bench_manifest_hash": bench.manifest_hash}


def generation_record(samples: Sequence[Sample], prompting: Prompting) -> dict[str, Any]:
    """run.json `generation`: each task's token budget as run, the reasoning preset and the thinking tags."""
    budgets: dict[str, int] = {}
    for s in samples:
        budgets.setdefault(s.task, prompting.tokens(s))
    return {"max_new_tokens": budgets, "reasoning_preset": prompting.reasoning,
            "reasoning_tags": list(prompting.reasoning_tags)}


def diff(old: Any, new: Any, path: str = "") -> list[str]:
    """Human-readable differences between two JSON values (`model.dtype: 'float32' -> 'bfloat16'`)."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [d for k in sorted(old.keys() | new.keys(), key=str)
                for d in diff(old.get(k), new.get(k), f"{path}.{k}" if path else str(k))]
    return [] if old == new else [f"{path}: {old!r} -> {new!r}"]


class Interrupted(MimicError):
    """Ctrl-C during a run: what was done is kept, and the rerun resumes it (exit code 130, as for SIGINT)."""

    exit_code = 130


def check_headers(bench: Bench, samples: Sequence[Sample]) -> None:
    """A file that is no image fails here, naming its sample, not after a batch of predictions."""
    for s, path in distinct_images(bench, samples):
        try:
            check_header(path)
        except MimicError as e:
            raise MimicError(f"sample {s.id}: {e}") from None


def check_run_folder(out: Path) -> None:
    """`--out` must be a run folder, an empty or a new one: never a file, never a folder of other files
    (the one `--overwrite` rule: only what the tool made is replaced)."""
    if out.exists() and not out.is_dir():
        raise MimicError(f"{out}: is a file, expected a run folder")
    if out.is_dir() and not (out / RUN_JSON).is_file() and not P.prediction_files(out) \
            and any(not p.name.startswith(".") for p in out.iterdir()):  # dot files: other ranks' atomic writes
        raise MimicError(f"{out}: holds files but no {RUN_JSON}, so it is not a run folder; choose another --out")
    if out.is_dir():
        link = next((p for p in sorted(out.iterdir()) if p.is_symlink()), None)
        if link is not None:  # appending or repairing would write through it, into whatever it points at
            raise MimicError(f"{link}: a symbolic link inside the run folder; a run folder holds only its own "
                             "files (replace the link by a copy of the file, or choose another --out)")


def prepare_folder(out: Path, settings: dict[str, Any], overwrite: bool) -> bool:
    """Check a folder against the run's settings; True when it must be cleared first (`overwrite`)."""
    check_run_folder(out)
    run_json = out / RUN_JSON
    if not run_json.is_file():
        if P.prediction_files(out) and not overwrite:
            raise MimicError(f"{out}: holds predictions but no {RUN_JSON}; use --overwrite to replace them")
        return overwrite
    try:
        record = read_json(run_json)
    except MimicError:  # torn or corrupt: the predictions beside it say whose it is
        if overwrite and P.prediction_files(out):
            return True
        raise MimicError(f"{run_json}: unreadable run settings; use --overwrite to start this run again") from None
    if not is_eval_run(record):
        raise MimicError(f"{out}: its {RUN_JSON} is not a mimic eval run's (a mimic train output?), so --overwrite "
                         "does not replace it; choose another --out")
    changes = diff(RunRecord.from_dict(record, str(run_json)).settings, orjson.loads(orjson.dumps(settings)))
    if changes and not overwrite:
        raise MimicError(f"{out}: holds a run with other settings ({'; '.join(changes[:3])}); "
                         "use --overwrite to replace it or choose another --out")
    return overwrite


def open_stage(stage: Path, settings: dict[str, Any]) -> None:
    """The stage of an `--overwrite` run: the one an interrupted run of the same settings left (resumed),
    else an empty one."""
    if stage.is_dir() and not stage.is_symlink() and not any(p.is_symlink() for p in stage.iterdir()):
        try:
            record = read_json(stage / RUN_JSON)
        except MimicError:
            record = None
        if isinstance(record, dict) and not diff(record.get("settings"), orjson.loads(orjson.dumps(settings))):
            return
    fresh_stage(stage)


def distributed() -> tuple[int, int]:
    """(rank, world size) from the launcher's environment (accelerate launch, torchrun); (0, 1) alone."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def barrier(world: int) -> None:
    """Wait for every rank. The runner only needs barriers, so its own group is CPU `gloo` (works under
    any launcher, with or without GPUs); the long timeout lets uneven shards finish."""
    if world > 1:
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group("gloo", timeout=timedelta(hours=24))
        dist.barrier()


def batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), max(1, size)):
        yield items[i:i + size]


def hit_limit(gen: Generation, max_new_tokens: int) -> bool:
    """Whether the output stopped at its token budget: the model's or server's word, else the token count."""
    if gen.finish_reason is not None:
        return gen.finish_reason == "length"
    return gen.output_tokens is not None and gen.output_tokens >= max_new_tokens


def scored_output(sample: Sample, gen: Generation, max_new_tokens: int, vocabulary: dict[str, Any],
                  official: bool, prompting: Prompting) -> dict[str, Any]:
    """The output, the reasoning set aside from it (where there is any) and the score fields."""
    split = split_reasoning(gen.text, prompting.reasoning_tags, gen.reasoning)
    return {"output": gen.text, **({"reasoning": split.reasoning} if split.reasoning else {}),
            **score_output(sample, gen.text, vocabulary, official, tags=prompting.reasoning_tags,
                           hit_limit=hit_limit(gen, max_new_tokens))}


def prediction_row(sample: Sample, gen: Generation, latency_s: float, vocabulary: dict[str, Any],
                   official: bool, prompting: Prompting = Prompting()) -> dict[str, Any]:
    row = {"id": sample.id, "task": sample.task,
           **scored_output(sample, gen, prompting.tokens(sample), vocabulary, official, prompting),
           "latency_s": round(latency_s, 4), "prompt_tokens": gen.prompt_tokens, "output_tokens": gen.output_tokens}
    if gen.vision_tokens is not None:  # the image tokens of this sample's prompt (hf/tiny models)
        row["vision_tokens"] = gen.vision_tokens
        if gen.prompt_tokens is not None:
            row["text_tokens"] = gen.prompt_tokens - gen.vision_tokens
    if gen.reasoning_tokens is not None:
        row["reasoning_tokens"] = gen.reasoning_tokens
    return row


def run_eval(bench: Bench, model: Model, out: str | Path, *, limit: int | None = None,
             tasks: Sequence[str] | None = None, ids: Sequence[str] | None = None, batch_size: int | None = None,
             official: bool = False, overwrite: bool = False, prompting: Prompting = Prompting(),
             command: Sequence[str] | None = None, progress: Progress | None = None,
             permutations: int = 0) -> dict[str, Any]:
    """Predict every selected sample not yet in `out`, then merge and score; returns scores.json's content
    (an empty dict on ranks other than 0). `permutations` K also predicts each sample under K seeded shuffles
    of its images (`evaluate/order.py`; scores.json `order`).

    The folder is held for the whole run (a second run into it is refused); a run that fails before its
    first prediction leaves no folder behind; Ctrl-C says how far it got and that a rerun resumes."""
    out = Path(out)
    if permutations < 0:
        raise MimicError(f"--permutations {permutations}: must be 0 or more")
    chosen = select(bench.samples, tasks=tasks, ids=ids, limit=limit)
    check_images(bench)
    check_headers(bench, chosen)
    check_run_folder(out)
    rank, world = distributed()
    if permutations and world > 1:
        raise MimicError("--permutations: run it in one process (not under accelerate launch / torchrun)")
    with holding(out, "another mimic eval", hold=rank == 0) as created:
        try:
            work = _run(bench, model, out, chosen, batch_size=batch_size, official=official, overwrite=overwrite,
                        prompting=prompting, command=command, progress=progress, permutations=permutations)
        except BaseException:
            for folder in (out, staging(out)) if rank == 0 else ():
                empty = not any(P.recover(p, repair=False) for p in P.prediction_files(folder))
                if empty and (folder != out or created):  # nothing predicted: no half-made run for report
                    shutil.rmtree(folder, ignore_errors=True)
            raise
        if rank != 0:
            return {}
        # scored while still held: a run let in between would have its predictions scored as this run's
        scores = finish(bench, work, official, permutations)
        if work != out:
            swap_in(work, out)
        return scores


def _run(bench: Bench, model: Model, out: Path, chosen: list[Sample], *, batch_size: int | None, official: bool,
         overwrite: bool, prompting: Prompting, command: Sequence[str] | None, progress: Progress | None,
         permutations: int) -> Path:
    """Predict into `out`, or into its stage when an `--overwrite` replaces a run there; returns that folder."""
    settings = answer_settings(model, prompting, official, bench)
    rank, world = distributed()
    size = batch_size or model.max_batch_size
    if size < 1:  # a negative size would slice batches backwards and repeat ids
        raise MimicError(f"--batch-size {size}: must be at least 1")
    must_clear = prepare_folder(out, settings, overwrite)  # every rank checks: all refuse together
    run = staging(out) if must_clear else out  # the run replaced stays whole until this one is scored
    if rank == 0:
        if run != out:
            open_stage(run, settings)
        examples: dict[str, str] = {}
        for s in chosen:
            examples.setdefault(s.task, prompting.text(s, official))
        RunRecord(settings, {**model.describe().get("runtime", {}), "batch_size": size, "world_size": world},
                  examples, str(bench.root), __version__, permutations,
                  list(command if command is not None else sys.argv), generation_record(chosen, prompting)).write(run)
    barrier(world)

    own = P.rank_file(run, rank) if world > 1 else run / P.PREDICTIONS
    done = P.done_ids(run, own)
    mine = P.shard(chosen, rank, world)
    todo = sorted((s for s in mine if s.id not in done),
                  key=lambda s: (prompting.tokens(s), len(s.images), len(s.question)))
    if todo:  # the heaviest sample first: a limit (a server's image cap, memory) fails before the long part
        todo.insert(0, todo.pop(max(range(len(todo)), key=lambda i: (len(todo[i].images), prompting.tokens(todo[i])))))
    done_here = len(mine) - len(todo)
    phase = f"eval {model.name}"
    report(progress if rank == 0 else None, phase, done_here, len(mine))
    try:
        with P.Appender(own) as log:
            for batch in batches(todo, size):
                requests = [Request(id=s.id, images=tuple(bench.image_paths(s)), text=prompting.text(s, official),
                                    max_new_tokens=prompting.tokens(s), sample=dict(vars(s)),
                                    system=prompting.system, reasoning_tags=prompting.reasoning_tags)
                            for s in batch]
                start = time.perf_counter()
                generations = model.generate(requests)
                latency = (time.perf_counter() - start) / len(batch)
                log.write(prediction_row(s, g, latency, bench.vocabulary, official, prompting)
                          for s, g in zip(batch, generations, strict=True))
                done_here += len(batch)
                report(progress if rank == 0 else None, phase, done_here, len(mine))
    except KeyboardInterrupt:  # counted from the file: the signal may land between a write and the count
        saved = len(P.done_ids(run, own) & {s.id for s in mine})
        kept = "; the run it replaces is kept until this one finishes" if run != out else ""
        raise Interrupted(f"{out}: interrupted after {saved} of {len(mine)} samples; rerun the same command "
                          f"to resume{kept}") from None
    if permutations:
        try:
            _predict_shuffled(bench, model, run, chosen, permutations, prompting, official, size, progress)
        except KeyboardInterrupt:
            raise Interrupted(f"{out}: interrupted in the shuffled orders (all {len(mine)} samples done once); "
                              "rerun the same command to resume") from None
    barrier(world)
    return run


def _predict_shuffled(bench: Bench, model: Model, out: Path, chosen: Sequence[Sample], k: int, prompting: Prompting,
                      official: bool, size: int, progress: Progress | None) -> None:
    """Append to permutations.jsonl every (sample, shuffle j <= k) not yet there: resumable like the run."""
    from mimic_vlm.evaluate.order import PERMUTATIONS, permutation, permuted

    path = out / PERMUTATIONS
    done = {(r["id"], r["k"]) for r in P.recover(path)}
    todo = [(s, j) for j in range(1, k + 1) for s in chosen if (s.id, j) not in done]
    todo.sort(key=lambda sj: (prompting.tokens(sj[0]), len(sj[0].images), len(sj[0].question)))
    total, done_here, phase = k * len(chosen), k * len(chosen) - len(todo), f"eval {model.name}, {k} shuffled orders"
    report(progress, phase, done_here, total)
    with P.Appender(path) as log:
        for batch in batches(todo, size):
            items = [(permuted(s, order), j, order) for s, j in batch
                     for order in [permutation(len(s.images), s.id, j)]]
            requests = [Request(id=f"{p.id}#{j}", images=tuple(bench.image_paths(p)), text=prompting.text(p, official),
                                max_new_tokens=prompting.tokens(p), sample=dict(vars(p)), system=prompting.system,
                                reasoning_tags=prompting.reasoning_tags)
                        for p, j, _ in items]
            generations = model.generate(requests)
            log.write({"id": p.id, "k": j, "order": order, "task": p.task,
                       **scored_output(p, g, prompting.tokens(p), bench.vocabulary, official, prompting)}
                      for (p, j, order), g in zip(items, generations, strict=True))
            done_here += len(batch)
            report(progress, phase, done_here, total)


def finish(bench: Bench, out: Path, official: bool = False, permutations: int = 0) -> dict[str, Any]:
    """Merge the prediction files and write scores.json for every prediction in the folder (with the order
    consistency of the first `permutations` shuffles, when asked)."""
    rows = P.merge(out, [s.id for s in bench.samples])
    by_id = bench.by_id()
    unknown = [r["id"] for r in rows if r["id"] not in by_id]
    if unknown:
        raise MimicError(f"{out / P.PREDICTIONS}: id {unknown[0]!r} is not in the bench {bench.root}")
    scores = build_scores([by_id[r["id"]] for r in rows], rows, official)
    if permutations:
        from mimic_vlm.evaluate.order import PERMUTATIONS, order_summary

        scores["order"] = order_summary(rows, P.recover(out / PERMUTATIONS, repair=False), permutations)
    write_json_atomic(out / SCORES, scores)
    return scores

