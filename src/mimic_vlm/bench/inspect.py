"""Looking at a bench: answer and control distributions (rich tables) and a contact sheet of samples."""

from __future__ import annotations

import io
import textwrap
from collections import Counter
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from rich.console import Console
from rich.table import Table

from mimic_vlm.errors import MimicError
from mimic_vlm.evaluate.metrics import control_key
from mimic_vlm.files import write_bytes_atomic
from mimic_vlm.images import _UNREADABLE, open_image
from mimic_vlm.schema import TASKS, Sample, target_images
from mimic_vlm.store import Bench, load_bench, unreadable_images
from mimic_vlm.terminal import printable

Distribution = dict[str, dict[str, Counter[str]]]


def distributions(bench: Bench) -> Distribution:
    """task -> {"answer": Counter, "control:<name>": Counter}; list answers count each category."""
    out: Distribution = {}
    for s in bench.samples:
        per = out.setdefault(s.task, {})
        answers = s.answer if isinstance(s.answer, list) else [s.answer]
        per.setdefault("answer", Counter()).update(str(a) for a in answers)
        for k, v in s.controls.items():
            per.setdefault(f"control:{k}", Counter())[str(v)] += 1
    return out


def _order(values: Counter[str]) -> list[str]:
    """Numbers in numeric order, names by frequency."""
    if all(v.lstrip("-").isdigit() for v in values):
        return sorted(values, key=int)
    return [k for k, _ in sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))]


def summary_tables(bench: Bench, top: int = 12) -> list[Table]:
    """One table per task: each answer / control with its most frequent values and their counts."""
    tables = []
    dist = distributions(bench)
    for task in [t for t in TASKS if t in dist] + sorted(set(dist) - set(TASKS)):
        n = sum(1 for s in bench.samples if s.task == task)
        table = Table(title=f"{task}: {n} samples", title_justify="left")
        table.add_column("field")
        table.add_column("values (count)", overflow="fold")
        for field, values in dist[task].items():
            keys = _order(values)
            shown = ", ".join(f"{k} ({values[k]})" for k in keys[:top])
            if len(keys) > top:
                shown += f", ... {len(keys) - top} more"
            table.add_row(printable(field.removeprefix("control:")), printable(shown))
        tables.append(table)
    return tables


def print_summary(bench: Bench, console: Console | None = None) -> None:
    console = console or Console()
    for t in summary_tables(bench):
        console.print(t)


def contact_sheet(bench: Bench | str | Path, out_png: str | Path, n: int = 6, thumb: int = 160) -> Path:
    """A PNG with `n` samples (spread over the tasks), each row its images side by side (numbered in prompt
    order, target-holding ones framed in green), then the question, the answer and the sample's controls."""
    if not isinstance(bench, Bench):
        bench = load_bench(bench)
    chosen = _spread_over_tasks(bench, n)
    font = ImageFont.load_default(size=14)
    pad, text_h = 8, 62
    width = pad + max((len(s.images) for s in chosen), default=1) * (thumb + pad)
    width = max(width, 640)
    row_h = thumb + text_h + 2 * pad
    sheet = Image.new("RGB", (width, max(1, len(chosen)) * row_h), "white")
    draw = ImageDraw.Draw(sheet)
    for r, s in enumerate(chosen):
        y = r * row_h + pad
        holds = target_images(s, bench.vocabulary) or [False] * len(s.images)
        for j, path in enumerate(bench.image_paths(s)):
            im = _thumbnail(path, thumb)
            x0, y0 = pad + j * (thumb + pad) + (thumb - im.width) // 2, y + (thumb - im.height) // 2
            sheet.paste(im, (x0, y0))
            if holds[j]:
                draw.rectangle([x0 - 3, y0 - 3, x0 + im.width + 2, y0 + im.height + 2], outline=(30, 160, 30), width=3)
            draw.rectangle([x0, y0, x0 + 9 * len(str(j + 1)) + 6, y0 + 17], fill="black")
            draw.text((x0 + 3, y0 + 1), str(j + 1), fill="white", font=font)
        wrap = max(20, (width - 2 * pad) // 8)
        controls = ", ".join(f"{k}={control_key(v)}" for k, v in sorted(s.controls.items()))
        lines = (textwrap.wrap(f"[{s.id}] Q: {s.question}", wrap)[:2] + textwrap.wrap(f"A: {s.gt}", wrap)[:1]
                 + textwrap.wrap(f"controls: {controls}" if controls else "", wrap)[:1])
        for k, line in enumerate(lines):
            draw.text((pad, y + thumb + 4 + 15 * k), line, fill="black", font=font)
        draw.line([(0, (r + 1) * row_h - 1), (width, (r + 1) * row_h - 1)], fill=(200, 200, 200))
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG")
    write_bytes_atomic(out_png, buffer.getvalue())
    return Path(out_png)


def sheet_unreadable(bench: Bench, n: int = 6) -> list[str]:
    """`unreadable_images` of the contact sheet's samples: the sheet draws them as grey tiles, and the command
    says so in words."""
    return unreadable_images(bench, _spread_over_tasks(bench, n))


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def check_sheet_path(path: Path) -> None:
    """The contact sheet replaces at most an earlier PNG: `--sheet samples.jsonl` wrote a PNG over a bench's
    samples."""
    if path.is_dir():
        raise MimicError(f"--sheet {path}: is a folder, expected a file name")
    if path.exists():
        with path.open("rb") as f:
            if f.read(len(PNG_SIGNATURE)) != PNG_SIGNATURE:
                raise MimicError(f"--sheet {path}: exists and is not a PNG, so it is not replaced; choose another "
                                 "name")


def _thumbnail(path: Path, size: int) -> Image.Image:
    """The image scaled to fit `size`; a grey tile saying so when it cannot be read (the sheet still helps)."""
    try:
        with open_image(path) as source:
            im = source.convert("RGB")
            im.thumbnail((size, size))
            return im
    except _UNREADABLE:  # a bomb too: refused at the header, drawn as unreadable
        tile = Image.new("RGB", (size, size), (200, 200, 200))
        ImageDraw.Draw(tile).text((8, size // 2 - 7), "unreadable", fill="black", font=ImageFont.load_default(size=14))
        return tile


def _spread_over_tasks(bench: Bench, n: int) -> list:
    """Round-robin over the tasks so a small sheet still shows every task."""
    by_task: dict[str, list] = {}
    for s in bench.samples:
        by_task.setdefault(s.task, []).append(s)
    queues = [by_task[t] for t in sorted(by_task, key=lambda t: TASKS.index(t) if t in TASKS else len(TASKS))]
    out: list[Sample] = []
    k = 0
    while len(out) < n and any(k < len(q) for q in queues):
        out += [q[k] for q in queues if k < len(q)][: n - len(out)]
        k += 1
    return out
