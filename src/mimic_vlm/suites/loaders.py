"""One converter per benchmark: a record of its released files -> a `Sample` in the project's format.

Every benchmark becomes `mcq` (answer = the gold letter, `options` = the option texts) or `open` samples,
with the benchmark's own categories as controls (MuirBench task / image_relation, BLINK sub_task, MIRB
subset, MMIU task / relationship, Mantis question_type, NLVR2 label) plus `n_images`, so every breakdown
of the scorer and report works unchanged. Field names are the ones the releases use (anchors.md §B).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mimic_vlm.errors import MimicError
from mimic_vlm.evaluate import mcq
from mimic_vlm.schema import Sample
from mimic_vlm.suites.files import GROUPS, Defect, ImageSink, Record

Converter = Callable[[Record, ImageSink], Sample]

BLINK_SUBTASKS = (
    "Art_Style", "Counting", "Forensic_Detection", "Functional_Correspondence", "IQ_Test", "Jigsaw",
    "Multi-view_Reasoning", "Object_Localization", "Relative_Depth", "Relative_Reflectance",
    "Semantic_Correspondence", "Spatial_Relation", "Visual_Correspondence", "Visual_Similarity",
)
# MIRB's per-subset instruction (lmms-eval tasks/mirb/utils.py).
MIRB_INSTRUCTIONS = {
    **dict.fromkeys(("analogy", "attribute", "plot_code", "visual_chain", "sightseeing"),
                    "Answer with a single word."),
    **dict.fromkeys(("codeu", "food", "image_jigsaw"), "Answer with the option symbol."),
    "arxiv": "Answer with the paper title.",
    "count": "Answer with a single number.",
    "3d_scene": "The following images are different views of the same 3D scene. Answer with a single number.",
}
MANTIS_SHORT_ANSWER = ('You can first give your analysis, and then give your final answer as "Final Answer:"')
NLVR2_QUESTION = ("The first image is the left image and the second image is the right one. "
                  "Is the following statement true or false for this pair of images?\n{sentence}")


@dataclass(frozen=True)
class Benchmark:
    name: str
    title: str
    convert: Converter
    hub_repo: str
    split: str | None
    """The split an import reads by default (the one with answers)."""
    category: str
    """The control that names the benchmark's own category (exports put it in VLMEvalKit's `category`)."""
    categories: tuple[str, ...] = ()
    """Every value of `category` the release has: an import missing some of them warns."""


def _letter(answer: str, options: list[str] | None) -> str:
    """'A' / '(A)' / 'A.' -> 'A'; an option's own text -> its letter; anything else is a defect."""
    text = answer.strip().strip("().: ").strip()
    if len(text) == 1 and text.upper() in mcq.LETTERS:
        return text.upper()
    if options and answer.strip() in options:
        return mcq.LETTERS[options.index(answer.strip())]
    raise Defect(f"gold answer {answer!r} is not an option letter")


def _pick(rec: Record, *keys: str) -> dict[str, Any]:
    """The release's own category fields that this record has."""
    return {k: rec.data[k] for k in keys if rec.data.get(k) is not None}


def _save(sink: ImageSink, values: list[Any], sid: str, rec: Record) -> list[str]:
    return sink.save_all(list(values or []), sid, rec.file.parent)


def _sample(sid: str, task: str, images: list[str], question: str, answer: str | list[str], source: str,
            options: list[str] | None = None, controls: dict[str, Any] | None = None,
            **extra: Any) -> Sample:
    gt = ", ".join(answer) if isinstance(answer, list) else answer
    return Sample(id=sid, task=task, images=images, question=question, answer=answer, gt=gt, targets=[],
                  controls={**(controls or {}), "n_images": len(images)}, source=source, options=options,
                  extra={k: v for k, v in extra.items() if v is not None})


def muirbench(rec: Record, sink: ImageSink) -> Sample:
    sid = f"muirbench-{rec.get('idx')}"
    options = [str(o) for o in rec.items("options")]
    answer = _letter(rec.text("answer"), options)
    return _sample(sid, "mcq", _save(sink, rec.items("image_list"), sid, rec), rec.text("question"), answer,
                   "muirbench", options, _pick(rec, "task", "image_relation", "image_type"),
                   counterpart=rec.data.get("counterpart_idx"))


def blink(rec: Record, sink: ImageSink) -> Sample:
    sid = f"blink-{rec.get('idx')}"
    slots = sorted((k for k in rec.data if k.startswith("image_") and k[6:].isdigit()), key=lambda k: int(k[6:]))
    images = _save(sink, [rec.data[k] for k in slots if rec.data[k] is not None], sid, rec)
    options = [str(o) for o in rec.items("choices")]
    answer = _letter(rec.text("answer"), options)
    return _sample(sid, "mcq", images, rec.text("question"), answer, "blink", options, _pick(rec, "sub_task"))


def mmiu(rec: Record, sink: ImageSink) -> Sample:
    sid = f"mmiu-{rec.file.stem}-{rec.index}"
    try:
        options = mcq.split_options(rec.text("options"))
    except ValueError as e:
        raise Defect(f"options {rec.text('options')[:60]!r}: {e}") from None
    paths = rec.items("input_image_path", single=True)
    context = (rec.data.get("context") or "").strip()
    question = f"{context}\n{rec.text('question').strip()}" if context else rec.text("question")
    # The release's top image folder is the relationship type ("./Low-level-semantic/...").
    folders = [p for p in Path(paths[0]).parts[:-1] if p not in (".", "/")] if paths else []
    controls = {**_pick(rec, "task", "visual_input_component"), **({"relationship": folders[0]} if folders else {})}
    return _sample(sid, "mcq", _save(sink, paths, sid, rec), question, _letter(rec.text("output"), options),
                   "mmiu", options, controls, origin=rec.data.get("source"))


def mirb(rec: Record, sink: ImageSink) -> Sample:
    """The `-hf` parquet (`subset`, `question_id`, `image_list`), or the original release: one JSON per
    subset named by the file (`count.json`), records with `questions`, `answers`, `images` (paths into
    `images.zip` or its unpacked folder), numbered by their place in the file."""
    original = "subset" not in rec.data and "images" in rec.data
    subset = rec.file.stem if original else rec.text("subset")
    sid = f"mirb-{subset}-{rec.index if original else rec.get('question_id')}"
    answers = rec.get("answers")
    gold = [str(a) for a in answers] if isinstance(answers, list) else str(answers)
    letter = gold.strip() if isinstance(gold, str) and gold.strip() in ("A", "B", "C", "D", "E") else None
    images = _save(sink, rec.items("images" if original else "image_list", single=True), sid, rec)
    return _sample(sid, "open" if letter is None else "mcq", images, rec.text("questions"),
                   gold if letter is None else letter, "mirb", None, {"subset": subset},
                   instruction=MIRB_INSTRUCTIONS.get(subset), n_choices=None if letter is None else 5)


def mantis(rec: Record, sink: ImageSink, source: str = "mantis-eval") -> Sample:
    sid = f"{source}-{rec.get('id')}"
    images = _save(sink, rec.items("images"), sid, rec)
    controls = _pick(rec, "question_type", "category", "data_source")
    if rec.data.get("question_type", "multi-choice") == "short-answer":
        return _sample(sid, "open", images, rec.text("question"), rec.text("answer"), source, None, controls,
                       instruction=MANTIS_SHORT_ANSWER)
    options = [mcq.strip_label(str(o)) for o in rec.items("options")]
    answer = _letter(rec.text("answer"), options)
    return _sample(sid, "mcq", images, rec.text("question"), answer, source, options, controls,
                   consistency_group=rec.text("question").strip().lower() if source == "nlvr2" else None)


def nlvr2(rec: Record, sink: ImageSink) -> Sample:
    """The original release (`identifier`, `sentence`, `label`; images `<pair>-img0.png` / `-img1.png`
    in folders under the JSON's folder, or beside `balanced/` / `unbalanced/` for their subsets), or the
    Mantis-style copy the paper's harness reads (`question`, `images`, `options`)."""
    if "identifier" not in rec.data:
        return mantis(rec, sink, source="nlvr2")
    ident, sentence = rec.text("identifier"), rec.text("sentence")
    label = str(rec.get("label")).strip().capitalize()
    if label not in ("True", "False"):
        raise MimicError(f"{rec.where}: label {label!r} is not True/False")
    pair = ident.rsplit("-", 1)[0]
    sid = f"nlvr2-{ident}"
    folder = rec.file.parent.parent if rec.file.parent.name in GROUPS else rec.file.parent  # balanced/*.json
    images = _save(sink, [str(sink.find(folder, f"{pair}-img{k}")) for k in (0, 1)], sid, rec)
    parts = ident.split("-")
    group = "-".join(parts[:2] + parts[-1:]) if len(parts) == 4 else sentence.strip().lower()
    return _sample(sid, "mcq", images, NLVR2_QUESTION.format(sentence=sentence), "A" if label == "True" else "B",
                   "nlvr2", ["True", "False"], {"label": label}, consistency_group=group)


BENCHMARKS: dict[str, Benchmark] = {b.name: b for b in (
    Benchmark("muirbench", "MuirBench", muirbench, "MUIRBENCH/MUIRBENCH", "test", "task"),
    Benchmark("blink", "BLINK", blink, "BLINK-Benchmark/BLINK", "val", "sub_task", BLINK_SUBTASKS),
    Benchmark("mantis-eval", "Mantis-Eval", mantis, "TIGER-Lab/Mantis-Eval", "test", "category"),
    Benchmark("nlvr2", "NLVR2", nlvr2, "TIGER-Lab/NLVR2", "dev", "label"),
    Benchmark("mirb", "MIRB", mirb, "VLLMs/MIRB-hf", "test", "subset", tuple(MIRB_INSTRUCTIONS)),
    Benchmark("mmiu", "MMIU", mmiu, "FanqingM/MMIU-Benchmark", None, "task"),
)}


def get_benchmark(name: str) -> Benchmark:
    try:
        return BENCHMARKS[name]
    except KeyError:
        raise MimicError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}") from None
