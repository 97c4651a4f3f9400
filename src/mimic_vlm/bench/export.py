"""`mimic export BENCH --format {hf,lmms-eval,vlmevalkit} --out DIR`: a bench in the field's formats.

- `hf`: `data/<task>.parquet` with the images embedded (`List(Image())`) and a dataset card whose
  `configs` make `datasets.load_dataset(DIR)` (config `all`, the default: every task) and
  `load_dataset(DIR, TASK)` work offline.
- `lmms-eval`: a task folder for `--include_path DIR`: one task YAML per bench task over its parquet
  file, a group YAML, and `utils.py` whose hooks show the images, ask the task's official prompt
  (precomputed per row) and score with this project's own scorer, carrying every control into the
  per-sample log; `vocabulary.json` beside it. Names are `mimic_<bench>` (`mimic_<bench>_<task>`), so
  they never clash with the bench folder itself (lmms-eval reads a name that is a folder as a folder of
  YAMLs). The YAMLs find their parquet files through `utils.py` (`!function utils.parquet_<task>`, a path
  beside the YAML), so the folder can move. `utils.py` checks at task-load time, before any request, that
  mimic-vlm is importable and says how to install it.
- `vlmevalkit`: one TSV (`index`, `id`, `image` as base64 or a JSON list of base64 for several images,
  `question`, `A`/`B`/… for multiple choice, `answer`, `category`, `control_*` columns) to drop into
  `$LMUData`, where VLMEvalKit picks it up as a custom MCQ (options present) or VQA dataset. VLMEvalKit
  puts every image before the question, so `<image>` markers in questions and options become our
  `[image k]` phrasing (as in the mcq prompt). `mimic score` reads its prediction files back.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import yaml

from mimic_vlm import __version__
from mimic_vlm.errors import MimicError, os_error
from mimic_vlm.evaluate import mcq
from mimic_vlm.evaluate.suite_tasks import number_placeholders
from mimic_vlm.evaluate.tasks import get_task
from mimic_vlm.files import atomic_dir, has_files, write_bytes_atomic, write_json_atomic
from mimic_vlm.schema import Sample, dumps
from mimic_vlm.store import Bench, decode_images, load_bench

FORMATS = ("hf", "lmms-eval", "vlmevalkit")
_BATCH = 64


def _features() -> Any:
    from datasets import Features, Image, List, Value

    s = Value("string")
    return Features({"id": s, "task": s, "source": s, "images": List(Image()), "question": s, "prompt": s,
                     "options": List(s), "answer": s, "gt": s, "controls": s, "sample": s,
                     "max_new_tokens": Value("int32")})


def hf_row(bench: Bench, s: Sample) -> dict[str, Any]:
    """One row: the sample, its images' bytes, its prompt (the default protocol's text) and token budget, controls
    as JSON."""
    spec = get_task(s.task)
    return {"id": s.id, "task": s.task, "source": s.source,
            "images": [{"bytes": p.read_bytes(), "path": p.name} for p in bench.image_paths(s)],
            "question": s.question, "prompt": spec.prompt(s), "options": s.options or [],
            "answer": s.gt if not isinstance(s.answer, str) else s.answer, "gt": s.gt,
            "controls": dumps(s.controls).decode(), "sample": dumps(s.to_dict()).decode(),
            "max_new_tokens": spec.max_new_tokens}


def write_parquet(bench: Bench, samples: list[Sample], path: Path) -> None:
    """Stream rows into one parquet file with the datasets schema (images decode on load)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _features().arrow_schema
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with pq.ParquetWriter(str(path), schema) as writer:
            for i in range(0, len(samples), _BATCH):
                rows = [hf_row(bench, s) for s in samples[i:i + _BATCH]]
                writer.write_table(pa.Table.from_pylist(rows, schema=schema))
    except OSError as e:  # pyarrow names no file (a full disk): name the parquet file
        raise os_error(e, path) from None


def _by_task(bench: Bench) -> dict[str, list[Sample]]:
    out: dict[str, list[Sample]] = {}
    for s in bench.samples:
        out.setdefault(s.task, []).append(s)
    return dict(sorted(out.items()))


def export_hf(bench: Bench, out: Path) -> None:
    tasks = _by_task(bench)
    for task, samples in tasks.items():
        write_parquet(bench, samples, out / "data" / f"{task}.parquet")
    configs = "- config_name: all\n  default: true\n  data_files:\n  - split: test\n    path: data/*.parquet\n"
    configs += "".join(f"- config_name: {t}\n  data_files:\n  - split: test\n    path: data/{t}.parquet\n" for t in tasks)
    card = (f"---\nconfigs:\n{configs}---\n# {bench.root.name}\n\nExported by mimic-vlm from `{bench.root.name}` "
            f"({len(bench.samples)} samples; tasks: {', '.join(tasks)}). Columns: id, task, source, images, "
            "question, prompt (the official prompt), options, answer, gt, controls (JSON), sample (the full "
            "mimic-vlm sample, JSON), max_new_tokens.\n")
    write_bytes_atomic(out / "README.md", card.encode())


class _Function(str):
    """A `!function utils.fn` hook in an lmms-eval YAML."""


class _TaskDumper(yaml.SafeDumper):
    pass


_TaskDumper.add_representer(_Function, lambda d, v: d.represent_scalar("!function", str(v)))


def lmms_eval_group(name: str) -> str:
    """`mimic_<name>`, an identifier: never the name of the bench folder an lmms-eval run starts beside."""
    return "mimic_" + re.sub(r"\W+", "_", name).strip("_")


def export_lmms_eval(bench: Bench, out: Path, name: str) -> None:
    """Task YAMLs name their parquet files through `utils.parquet_<task>`: lmms-eval resolves a relative
    `data_files` against the working directory, but a `!function` tag against the YAML's own folder."""
    tasks = _by_task(bench)
    group = lmms_eval_group(name)
    for task, samples in tasks.items():
        write_parquet(bench, samples, out / "data" / f"{task}.parquet")
        spec = get_task(task)
        config = {
            "task": f"{group}_{task}", "dataset_path": "parquet",
            "dataset_kwargs": {"data_files": {"test": _Function(f"utils.parquet_{task}")}},
            "test_split": "test", "output_type": "generate_until",
            "doc_to_visual": _Function("utils.doc_to_visual"), "doc_to_text": _Function("utils.doc_to_text"),
            "doc_to_target": "gt", "process_results": _Function("utils.process_results"),
            "metric_list": [{"metric": spec.headline, "aggregation": _Function("utils.aggregate"),
                             "higher_is_better": True}],
            "generation_kwargs": {"max_new_tokens": spec.max_new_tokens, "temperature": 0, "do_sample": False},
            "metadata": {"version": 0.0, "exported_from": str(bench.root), "manifest_hash": bench.manifest_hash},
        }
        write_bytes_atomic(out / f"{group}_{task}.yaml", _yaml(config))
    write_bytes_atomic(out / f"{group}.yaml", _yaml({"group": group, "task": [f"{group}_{t}" for t in tasks]}))
    write_json_atomic(out / "vocabulary.json", bench.vocabulary)
    utils = (Path(__file__).parent / "lmms_eval_utils.py").read_text()
    write_bytes_atomic(out / "utils.py", utils.replace('EXPORTED_BY = "mimic-vlm"',
                                                       f'EXPORTED_BY = "mimic-vlm {__version__}"', 1).encode())


def _yaml(obj: dict[str, Any]) -> bytes:
    return yaml.dump(obj, Dumper=_TaskDumper, sort_keys=False, allow_unicode=True).encode()


def vlmevalkit_rows(bench: Bench, category: str | None = None) -> Iterator[dict[str, Any]]:
    """One TSV row per sample; `category` is the control VLMEvalKit reports by (default: the task)."""
    width = max((len(s.options or []) for s in bench.samples), default=0)
    controls = sorted({c for s in bench.samples for c in s.controls})
    for i, s in enumerate(bench.samples):
        images = [base64.b64encode(p.read_bytes()).decode() for p in bench.image_paths(s)]
        question, *numbered = number_placeholders([s.question, *(s.options or [])])
        options = dict(zip(mcq.letters(width), numbered, strict=False))
        yield {"index": i, "id": s.id, "task": s.task,
               "image": images[0] if len(images) == 1 else orjson.dumps(images).decode(),
               "question": question if s.options else get_task(s.task).prompt(s),
               **{letter: options.get(letter) for letter in mcq.letters(width)},
               "answer": s.gt if not isinstance(s.answer, str) else s.answer,
               "category": str(s.controls.get(category, s.task)) if category else s.task,
               **{f"control_{c}": s.controls.get(c) for c in controls}}


def export_vlmevalkit(bench: Bench, out: Path, name: str) -> None:
    import pandas as pd

    from mimic_vlm.suites.loaders import BENCHMARKS

    bm = BENCHMARKS.get(bench.manifest.get("benchmark", ""))
    frame = pd.DataFrame(list(vlmevalkit_rows(bench, bm.category if bm else None)))
    write_bytes_atomic(out / f"{name}.tsv", frame.to_csv(sep="\t", index=False).encode())


VLMEVALKIT_HEADER = "index\tid\ttask\timage\t"
"""How every TSV `vlmevalkit_rows` writes begins: what tells our export from a user's own dataset."""


def _starts_with(path: Path, text: str) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(len(text.encode())) == text.encode()
    except OSError:
        return False


def _holds(path: Path, text: str) -> bool:
    try:
        return text.encode() in path.read_bytes()[:1 << 16]
    except OSError:
        return False


def _hf_export(folder: Path) -> bool:
    return has_files("README.md", "data")(folder) and _holds(folder / "README.md", "Exported by mimic-vlm")


def _lmms_eval_export(folder: Path) -> bool:
    return has_files("utils.py", "vocabulary.json")(folder) and _holds(folder / "utils.py", 'EXPORTED_BY = "mimic-vlm')


def _vlmevalkit_export(folder: Path) -> bool:
    """Only TSVs that our export wrote (any --name): a folder that also holds other files, such as the
    user's own `$LMUData`, is not ours to replace."""
    visible = [p for p in folder.iterdir() if not p.name.startswith(".")]
    return bool(visible) and all(p.suffix == ".tsv" and p.is_file() and _starts_with(p, VLMEVALKIT_HEADER)
                                 for p in visible)


def exported(folder: Path) -> bool:
    """A folder an earlier `mimic export`, of any format and --name, left: the only kind `--overwrite`
    replaces (re-exporting in another format into the same --out is the common case); every format's folder
    is recognised by what mimic writes into it."""
    return _hf_export(folder) or _lmms_eval_export(folder) or _vlmevalkit_export(folder)


NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def check_name(name: str) -> str:
    """`--name` becomes a file name (`<name>.tsv`) and a task name: one plain word, never a path
    (`a/b`, `..`), so the export writes exactly the files it says, inside --out."""
    if not NAME.fullmatch(name) or name.endswith("."):
        raise MimicError(f"--name {name!r}: use letters, digits, '_', '-' and '.' (starting with a letter or "
                         "digit, not ending with '.'); it names the exported file and task")
    return name


def default_name(bench: Bench) -> str:
    """The bench folder's name (resolved, so `.` is a name), made a valid `--name`."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", bench.root.resolve().name).strip("._-")
    return name or "bench"


def export_bench(bench_path: str | Path, fmt: str, out: str | Path, *, name: str | None = None,
                 overwrite: bool = False) -> Path:
    """Write `bench_path` in format `fmt` into the folder `out` (atomically)."""
    if fmt not in FORMATS:
        raise MimicError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if name is not None:
        check_name(name)
    bench = load_bench(bench_path)
    decode_images(bench)  # every exported image decodes; nothing but images is ever embedded
    name = name or default_name(bench)
    with atomic_dir(out, overwrite=overwrite, marker=exported) as tmp:
        if fmt == "hf":
            export_hf(bench, tmp)
        elif fmt == "lmms-eval":
            export_lmms_eval(bench, tmp, name)
        else:
            export_vlmevalkit(bench, tmp, name)
    return Path(out)
