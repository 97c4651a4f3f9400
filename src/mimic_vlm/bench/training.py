"""Training conversations for fine-tuning, in the two layouts trainers read.

`mimic generate ... --for training --out DIR` writes, next to `samples.jsonl` and `images/`:

`DIR/train_llava.json` — the LLaVA(-NeXT) layout the paper's training code reads: one JSON list,
```json
[{"id": "counting-000000",
  "image": ["images/a.png", "images/b.png"],
  "conversations": [{"from": "human", "value": "<image>\n<image>\nHow many cats are there ...?"},
                    {"from": "gpt", "value": "There are 3 cats in total."}]}]
```
one `<image>` marker (each followed by a newline) per image, in image order, before the question.

`DIR/train_messages.jsonl` — Hugging Face chat messages, one object per line:
```json
{"id": "counting-000000",
 "messages": [{"role": "user", "content": [{"type": "image"}, {"type": "image"},
                                           {"type": "text", "text": "How many cats are there ...?"}]},
              {"role": "assistant", "content": [{"type": "text", "text": "There are 3 cats in total."}]}],
 "images": ["images/a.png", "images/b.png"]}
```
one `{"type": "image"}` entry per image, in the order of `images`. Image paths are relative to DIR
(or absolute). At most 10 images per conversation (the paper's filter). Questions and answers are drawn
from several paraphrases (compose/templates.py) with a generator seeded by the bench seed (phrasing
`paraphrased`), or are exactly what evaluation asks and scores (phrasing `eval`: the task's official prompt,
e.g. `Question: ...\nAnswer:`, and the bare gold answer): a small model trained from scratch then meets
the evaluation format it was trained on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mimic_vlm.compose.templates import training_answer, training_question
from mimic_vlm.files import write_json_atomic, write_jsonl_atomic
from mimic_vlm.schema import Sample

LLAVA = "train_llava.json"
MESSAGES = "train_messages.jsonl"
TRAINING_STREAM = 1_000  # salt that keeps phrasing draws apart from the composing streams
PHRASINGS = ("paraphrased", "eval")


def conversation(sample: Sample, rng: np.random.Generator, phrasing: str = "paraphrased") -> tuple[str, str]:
    """(question, answer) in paraphrased training phrasing, or in the evaluation protocol's own."""
    if phrasing == "eval":
        from mimic_vlm.evaluate.tasks import get_task

        return get_task(sample.task).prompt(sample), sample.gt
    answers = int(sample.controls.get("answers", 1))
    q = training_question(sample.task, sample.targets, answers, rng)
    return q, training_answer(sample.task, sample.targets, sample.answer, rng)


def training_records(samples: list[Sample], seed: int, phrasing: str = "paraphrased",
                     ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(LLaVA records, HF messages records), one of each per sample."""
    rng = np.random.default_rng([seed, TRAINING_STREAM])
    llava, messages = [], []
    for s in samples:
        q, a = conversation(s, rng, phrasing)
        llava.append({"id": s.id, "image": list(s.images), "conversations": [
            {"from": "human", "value": "<image>\n" * len(s.images) + q}, {"from": "gpt", "value": a}]})
        messages.append({"id": s.id, "images": list(s.images), "messages": [
            {"role": "user", "content": [{"type": "image"}] * len(s.images) + [{"type": "text", "text": q}]},
            {"role": "assistant", "content": [{"type": "text", "text": a}]}]})
    return llava, messages


def write_training(folder: Path, samples: list[Sample], seed: int, phrasing: str = "paraphrased") -> None:
    llava, messages = training_records(samples, seed, phrasing)
    write_json_atomic(folder / LLAVA, llava)
    write_jsonl_atomic(folder / MESSAGES, messages)
