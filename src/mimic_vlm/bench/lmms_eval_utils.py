"""lmms-eval hooks for a task folder written by `mimic export --format lmms-eval` (copied there as utils.py).

Use: `lmms-eval --include_path DIR --tasks <group or task> ...`. The rows carry their official prompt
(`prompt`) and the full mimic-vlm sample (`sample`, JSON); scoring is mimic-vlm's own, so mimic-vlm must
be importable where lmms-eval runs. Every control rides along in each logged sample, and the aggregation
prints the per-control breakdown that `mimic score` would give.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any


@functools.cache
def vocabulary() -> dict[str, Any]:
    """The bench's category vocabulary (synonyms, supercategories), saved beside this file."""
    path = Path(__file__).with_name("vocabulary.json")
    return json.loads(path.read_text()) if path.is_file() else {}


def doc_to_visual(doc: dict[str, Any]) -> list[Any]:
    return [image.convert("RGB") for image in doc["images"]]


def doc_to_text(doc: dict[str, Any], lmms_eval_specific_kwargs: dict[str, Any] | None = None) -> str:
    kwargs = lmms_eval_specific_kwargs or {}
    return f"{kwargs.get('pre_prompt', '')}{doc['prompt']}{kwargs.get('post_prompt', '')}"


def process_results(doc: dict[str, Any], results: list[str]) -> dict[str, dict[str, Any]]:
    """Score one reply; the returned row keeps the controls so the aggregation can break them down."""
    from mimic_vlm.evaluate.tasks import get_task
    from mimic_vlm.schema import Sample

    sample = Sample.from_dict(json.loads(doc["sample"]))
    spec = get_task(sample.task)
    scored = spec.score(sample, results[0], vocabulary(), False)
    return {spec.headline: {"id": sample.id, "task": sample.task, "controls": sample.controls,
                            "output": results[0], **scored}}


def aggregate(rows: list[dict[str, Any]]) -> float | None:
    """The task's headline metric (mimic-vlm's `summarize`), printing it per control value."""
    from mimic_vlm.evaluate.metrics import summarize
    from mimic_vlm.schema import Sample

    samples = [Sample(id=r["id"], task=r["task"], images=[], question="", answer="", gt="", targets=[],
                      controls=r["controls"], source="lmms-eval") for r in rows]
    scores = summarize(samples, rows, bootstrap=0)
    value = None
    for task, entry in scores["tasks"].items():
        headline = entry["headline"]
        value = entry["metrics"][headline]["value"]
        print(f"{task}: {headline} = {value}")
        for control, values in entry["by_control"].items():
            cells = ", ".join(f"{v}: {e['metrics'][headline]['value']}" for v, e in values.items())
            print(f"  {control}: {cells}")
    return value
