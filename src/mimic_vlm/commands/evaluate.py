"""`mimic eval`: run a model (hf, tiny, openai-compatible server, baseline) over a bench into a run folder."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from mimic_vlm.commands.options import (
    Adapter,
    BenchDir,
    Device,
    Dtype,
    ImageSize,
    Limit,
    MaskBackend,
    MaskLayers,
    MaxPixels,
    Official,
    ReplaceRuns,
    ShowProgress,
    seed_option,
)
from mimic_vlm.commands.progress import RichProgress
from mimic_vlm.errors import MimicError, cannot_read
from mimic_vlm.limits import MAX_PERMUTATIONS, MAX_TIMEOUT_S
from mimic_vlm.ranges import parse_name_list
from mimic_vlm.report.blocks import fmt, label  # the report's names: accuracy, micro F1
from mimic_vlm.schema import TASKS


def _ids(value: str | None) -> list[str] | None:
    """`--ids a,b,c` or `--ids @file` (one id per line)."""
    if value and value.startswith("@"):
        path = Path(value[1:])
        try:
            return [line.strip() for line in path.read_text(encoding="utf-8-sig").splitlines() if line.strip()]
        except OSError as e:
            raise cannot_read(e, f"--ids {value}") from None
        except UnicodeDecodeError as e:
            raise MimicError(f"--ids {value}: not UTF-8 text (byte {e.start}); one id per line") from None
    return parse_name_list(value, "--ids")


def summary_table(scores: dict[str, Any], title: str) -> Table:
    """Per task: n, headline metric with its 95% interval; then the MIMIC score and the unparsed count."""
    table = Table(title=title)
    for col in ("task", "n", "metric", "value [95% CI]"):
        table.add_column(col, justify="right" if col == "n" else "left")
    tasks = scores.get("tasks", {})
    for task in sorted(tasks, key=lambda t: (TASKS.index(t) if t in TASKS else len(TASKS), t)):
        t = tasks[task]
        table.add_row(task, str(t["n"]), label(t["headline"]), fmt(t["metrics"].get(t["headline"])))
    overall = scores.get("overall", {})
    if scores.get("mimic_score"):
        table.add_row("[bold]MIMIC score[/]", str(overall.get("n", "")), "mean of headlines",
                      fmt(scores["mimic_score"]))
    table.caption = f"unparsed answers: {overall.get('n_unparsed', 0)} of {overall.get('n', 0)}"
    if overall.get("n_truncated"):
        table.caption += f"; truncated (token limit before an answer): {overall['n_truncated']}"
    return table


ModelSpec = Annotated[str, typer.Option(help="hf:PATH_OR_ID | tiny:FAMILY | toy:NAME | openai:MODEL@BASE_URL | "
                                              "chance | prior | single-image | oracle")]
RunOut = Annotated[Path, typer.Option(help="Run folder; rerunning the same command resumes it.")]
Tasks = Annotated[str | None, typer.Option("--task", help="Only these tasks, comma-separated, e.g. counting,listing.")]
Ids = Annotated[str | None, typer.Option(help="Comma-separated sample ids, or @FILE with one per line.")]
BatchSize = Annotated[int | None, typer.Option(min=1, help="Requests per batch (hf/tiny default 8; outputs do not "
                                                           "depend on it).")]
SystemPrompt = Annotated[str | None, typer.Option(help="System message for every request.")]
MaxNewTokens = Annotated[int | None, typer.Option(min=1, help="Override the tasks' token budgets (16; 32 listing).")]
Reasoning = Annotated[bool, typer.Option("--reasoning", help="Preset for thinking models: token budgets raised to "
                                                             "8192 (an explicit --max-new-tokens wins).")]
ReasoningTags = Annotated[str, typer.Option(help="OPEN,CLOSE tags of the thinking block, set aside before the "
                                                 "answer is read.")]
JpegQuality = Annotated[int | None, typer.Option(min=1, max=95, help="Send every image as a JPEG of this quality "
                                                                     "(openai; a server's request size limit).")]
MaxBatchTokens = Annotated[int | None, typer.Option(min=1, help="Batch by a budget of padded tokens (prompt with its "
                                                                "image tokens + new tokens) instead of a sample "
                                                                "count (hf/tiny; outputs do not depend on it).")]
PromptTemplate = Annotated[str | None, typer.Option(
    help="Replace the task prompt: {question} {task} {options} {n_images}; '\\n' is a newline; one <image> per "
         "image interleaves the images.")]
DeviceMap = Annotated[str | None, typer.Option(help="transformers device_map, e.g. auto (hf).")]
Attention = Annotated[str | None, typer.Option(help="sdpa, eager, flash_attention_2 ... (hf/tiny).")]
Concurrency = Annotated[int, typer.Option(min=1, help="Requests in flight (openai).")]
Timeout = Annotated[float, typer.Option(min=0.001, max=MAX_TIMEOUT_S, help="Seconds per HTTP request, all of it "
                                                                                "(openai).")]
Retries = Annotated[int, typer.Option(min=0, help="Retries on 429/5xx/dropped connections/timeouts (openai).")]
ApiKeyEnv = Annotated[str | None, typer.Option(help="Environment variable holding the API key (default "
                                                    "OPENAI_API_KEY).")]
Permutations = Annotated[int, typer.Option(min=0, max=MAX_PERMUTATIONS, help="Also evaluate each sample under K seeded shuffles of its "
                                                       "image order: answer consistency and metric spread across "
                                                       "orders.")]


def eval_(
    bench: BenchDir, model: ModelSpec, out: RunOut, limit: Limit = None, tasks: Tasks = None, ids: Ids = None,
    batch_size: BatchSize = None, official: Official = False, overwrite: ReplaceRuns = False,
    system_prompt: SystemPrompt = None, max_new_tokens: MaxNewTokens = None, reasoning: Reasoning = False,
    reasoning_tags: ReasoningTags = "<think>,</think>", prompt_template: PromptTemplate = None,
    mask_layers: MaskLayers = None, mask_backend: MaskBackend = "auto", dtype: Dtype = "auto",
    device: Device = None, device_map: DeviceMap = None, attn_implementation: Attention = None,
    max_pixels: MaxPixels = None, image_size: ImageSize = None, adapter: Adapter = None,
    concurrency: Concurrency = 8, jpeg_quality: JpegQuality = None, max_batch_tokens: MaxBatchTokens = None,
    timeout: Timeout = 120.0, retries: Retries = 4, api_key_env: ApiKeyEnv = None,
    seed: int = seed_option("Seed of the chance baseline."), permutations: Permutations = 0,
    progress: ShowProgress = True,
) -> None:
    """Evaluate a model on a bench: predictions.jsonl, scores.json and run.json in --out (resumable)."""
    from mimic_vlm.api import evaluate_scores, load_run
    from mimic_vlm.evaluate.runner import distributed

    with RichProgress(disable=not progress) as bars:
        scores = evaluate_scores(
            bench, model, out, limit=limit, tasks=parse_name_list(tasks, "--task"), ids=_ids(ids),
            batch_size=batch_size, official=official, overwrite=overwrite,
            prompt_template=prompt_template.replace("\\n", "\n") if prompt_template else None,
            system_prompt=system_prompt, max_new_tokens=max_new_tokens, reasoning=reasoning,
            reasoning_tags=reasoning_tags, mask_layers=mask_layers, mask_backend=mask_backend,
            permutations=permutations, seed=seed, command=["mimic", *sys.argv[1:]],
            progress=bars if progress else None, dtype=dtype, device=device, device_map=device_map,
            attn_implementation=attn_implementation, max_pixels=max_pixels, image_size=image_size, adapter=adapter,
            concurrency=concurrency, jpeg_quality=jpeg_quality, max_batch_tokens=max_batch_tokens, timeout=timeout,
            retries=retries, api_key_env=api_key_env)
    if distributed()[0] == 0:
        print_run(scores, f"{load_run(out).model} on {bench}", out)  # the title names adapter and mask


def print_run(scores: dict[str, Any], title: str, out: Path) -> None:
    Console().print(summary_table(scores, title))
    if scores.get("order"):
        o = scores["order"]
        Console().print(f"order consistency over {o['k']} shuffles: " + ", ".join(
            f"{t} {e['consistency']:.3f} (spread {e['spread'] or 0:.3f})" for t, e in o["tasks"].items()))
    Console().print(f"run folder: {out}")


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_)
