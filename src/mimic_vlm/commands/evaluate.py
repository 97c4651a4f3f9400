"""`mimic eval`: run a model (hf, tiny, openai-compatible server, baseline) over a bench into a run folder."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from mimic_vlm.commands.options import seed_option
from mimic_vlm.commands.progress import RichProgress
from mimic_vlm.errors import MimicError
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
            raise MimicError(f"--ids {value}: cannot read ({e.strerror})") from None
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
    return table


def register(app: typer.Typer) -> None:
    @app.command("eval")
    def eval_(
        bench: Path = typer.Option(..., help="Bench folder (samples.jsonl + manifest.json)."),
        model: str = typer.Option(..., help="hf:PATH_OR_ID | tiny:FAMILY | openai:MODEL@BASE_URL | chance | "
                                            "prior | single-image | oracle"),
        out: Path = typer.Option(..., help="Run folder; rerunning the same command resumes it."),
        limit: int | None = typer.Option(None, min=1, help="Only the first N selected samples."),
        tasks: str | None = typer.Option(None, help="Comma-separated tasks, e.g. counting,listing."),
        ids: str | None = typer.Option(None, help="Comma-separated sample ids, or @FILE with one per line."),
        batch_size: int | None = typer.Option(None, min=1, help="Requests per batch (hf/tiny default 8; outputs do not "
                                                         "depend on it)."),
        official: bool = typer.Option(False, help="Score exactly like the official lmms-eval MIMIC code."),
        overwrite: bool = typer.Option(False, help="Replace a run made with other settings."),
        system_prompt: str | None = typer.Option(None, help="System message for every request."),
        max_new_tokens: int | None = typer.Option(None, min=1, help="Override the tasks' token budgets (16; 32 listing)."),
        prompt_template: str | None = typer.Option(
            None, help="Replace the task prompt: {question} {task} {options} {n_images}; '\\n' is a newline; "
                       "one <image> per image interleaves the images."),
        mask_layers: str | None = typer.Option(None, help="Image-block attention mask on these text layers "
                                                          "(A-B, a,b,c, second-half, all); hf/tiny only."),
        mask_backend: str = typer.Option("auto", help="Mask backend: auto (the fastest exact one for the device), "
                                                      "blocks, sdpa, eager or flex."),
        dtype: str = typer.Option("auto", help="auto, float32, bfloat16 or float16 (hf)."),
        device: str | None = typer.Option(None, help="cpu, cuda, cuda:1 ... (default: this rank's GPU, else cpu)."),
        device_map: str | None = typer.Option(None, help="transformers device_map, e.g. auto (hf)."),
        attn_implementation: str | None = typer.Option(None, help="sdpa, eager, flash_attention_2 ... (hf/tiny)."),
        max_pixels: int | None = typer.Option(None, min=1, help="Per-image pixel cap (w*h), aspect kept (with "
                                                                "--adapter: the training run's unless given)."),
        image_size: int | None = typer.Option(None, min=1, help="Longest edge every image is resized to, for "
                                                                "families with a fixed size (Idefics3/SmolVLM; "
                                                                "released: 2048)."),
        adapter: str | None = typer.Option(None, help="PEFT adapter folder (its training mask is re-applied)."),
        concurrency: int = typer.Option(8, min=1, help="Requests in flight (openai)."),
        timeout: float = typer.Option(120.0, min=0.001, max=MAX_TIMEOUT_S,
                                      help="Seconds per HTTP request, all of it (openai)."),
        retries: int = typer.Option(4, min=0, help="Retries on 429/5xx/dropped connections/timeouts (openai)."),
        api_key_env: str | None = typer.Option(None, help="Environment variable holding the API key "
                                                          "(default OPENAI_API_KEY)."),
        seed: int = seed_option("Seed of the chance baseline."),
        permutations: int = typer.Option(0, min=0, max=MAX_PERMUTATIONS, help="Also evaluate each sample under K seeded shuffles of its image "
                                                 "order: answer consistency and metric spread across orders."),
        progress: bool = typer.Option(True, help="Show the progress bar."),
    ) -> None:
        """Evaluate a model on a bench: predictions.jsonl, scores.json and run.json in --out (resumable)."""
        from mimic_vlm.bench.store import load_bench
        from mimic_vlm.evaluate.runner import Prompting, distributed, run_eval
        from mimic_vlm.models.registry import load_model

        mask = None
        if mask_layers:  # checked first: a bad option fails before the bench and the model load
            if not model.startswith(("hf:", "tiny:")):
                raise MimicError(f"--mask-layers: only hf: and tiny: models take an attention mask, not {model}")
            from mimic_vlm.masking import mask_from_options

            mask = mask_from_options(mask_layers, mask_backend)
        task_list, id_list = parse_name_list(tasks, "--tasks"), _ids(ids)
        loaded = load_bench(bench)
        prompting = Prompting(template=prompt_template.replace("\\n", "\n") if prompt_template else None,
                              system=system_prompt, max_new_tokens=max_new_tokens)
        if prompting.template and loaded.samples:  # a bad template fails here, before the model loads
            prompting.text(loaded.samples[0])
        the_model = load_model(model, bench=loaded, batch_size=batch_size, dtype=dtype, device=device,
                               device_map=device_map, attn_implementation=attn_implementation,
                               max_pixels=max_pixels, image_size=image_size, adapter=adapter, mask=mask,
                               concurrency=concurrency,
                               timeout=timeout, retries=retries, api_key_env=api_key_env, seed=seed)
        with RichProgress(disable=not progress) as bars:
            scores = run_eval(loaded, the_model, out, limit=limit, tasks=task_list, ids=id_list,
                              batch_size=batch_size, official=official, overwrite=overwrite, prompting=prompting,
                              command=["mimic", *sys.argv[1:]], progress=bars, permutations=permutations)
        if distributed()[0] == 0:
            Console().print(summary_table(scores, f"{model} on {bench}"))
            if scores.get("order"):
                o = scores["order"]
                Console().print(f"order consistency over {o['k']} shuffles: " + ", ".join(
                    f"{t} {e['consistency']:.3f} (spread {e['spread'] or 0:.3f})" for t, e in o["tasks"].items()))
            Console().print(f"run folder: {out}")
