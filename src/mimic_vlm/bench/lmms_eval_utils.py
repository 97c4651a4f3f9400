"""lmms-eval hooks for a task folder written by `mimic export --format lmms-eval` (copied there as utils.py).

Use: `lmms-eval --include_path DIR --tasks mimic_<bench> ...`. The rows carry their official prompt
(`prompt`) and the full mimic-vlm sample (`sample`, JSON); scoring is mimic-vlm's own, so mimic-vlm must
be importable where lmms-eval runs: lmms-eval imports this file while it loads the task YAMLs, before any
request is sent, and that is where a missing mimic-vlm is reported. Every control rides along in each
logged sample, and the aggregation prints the per-control breakdown that `mimic score` would give.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

EXPORTED_BY = "mimic-vlm"
FAILED = "[LMMS_EVAL_REQUEST_FAILED"  # what lmms-eval's API models return for a request they gave up on
HERE = Path(__file__).resolve().parent


def _require_mimic_vlm() -> None:
    try:
        import mimic_vlm  # noqa: F401
    except ImportError:
        raise ImportError(f"{HERE}: this lmms-eval task folder was exported by {EXPORTED_BY} and scores with it; "
                          "install it where lmms-eval runs (pip install mimic-vlm) and run again") from None


_require_mimic_vlm()


def __getattr__(name: str) -> str:
    """`!function utils.parquet_<task>` in a task YAML: the task's parquet file beside this file, so the
    folder works from wherever it is (lmms-eval resolves `!function` against the YAML's folder)."""
    if name.startswith("parquet_"):
        return str(HERE / "data" / f"{name.removeprefix('parquet_')}.parquet")
    raise AttributeError(name)


@functools.cache
def vocabulary() -> dict[str, Any]:
    """The bench's category vocabulary (synonyms, supercategories), saved beside this file."""
    path = HERE / "vocabulary.json"
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
    reply = "" if results[0].startswith(FAILED) else results[0]  # lmms-eval passes its failure text on
    scored = spec.score(sample, reply, vocabulary(), False)
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
