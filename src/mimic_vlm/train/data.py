"""Training conversations: reading (LLaVA JSON, HF messages JSONL, mixture YAML), checking, collating.

Everything that can be wrong with the data is found before a model is loaded: a missing or unreadable image
after an hour of training is the failure this module exists to prevent. The collator renders each
conversation with the model's own chat template and processor, so training sees exactly the prompt layout
that inference sees, and only the assistant's answer tokens (plus its end-of-turn token) carry a loss.
"""

from __future__ import annotations

import math
import os
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson
import torch
import yaml
from transformers import ProcessorMixin

from mimic_vlm.errors import MimicError, first_line
from mimic_vlm.images import open_rgb, verify_image
from mimic_vlm.progress import Progress, report
from mimic_vlm.schema import file_sha256, read_jsonl

IGNORE_INDEX = -100
ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}
_LLAVA_IMAGE = re.compile(r"<image>\n?")


@dataclass(frozen=True)
class Conversation:
    """One training sample: chat `messages` whose `{"type": "image"}` items stand, in order, for `images`."""

    id: str
    images: tuple[Path, ...]
    messages: tuple[dict[str, Any], ...]
    max_pixels: int | None = None
    """This sample's per-image pixel cap (its mixture entry's `max_pixels`), on top of the run's."""


@dataclass(frozen=True)
class Source:
    """One data file of a mixture and how much of it to use (`all`, `first:N`, `first:P%`, `random:N`, ...);
    `max_pixels` caps its images' pixels (one file at several vision-token budgets: one entry per cap)."""

    path: Path
    sampling: str = "all"
    image_folder: Path | None = None
    max_pixels: int | None = None


@dataclass
class TrainingData:
    """The conversations to train on, and what was read to get them (recorded in `mimic_train.json`)."""

    conversations: list[Conversation]
    files: list[dict[str, Any]] = field(default_factory=list)

    @property
    def dropped(self) -> int:
        return sum(f["dropped_too_many_images"] for f in self.files)


# ---------------------------------------------------------------- parsing (pure)

def _text_items(text: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": text}] if text else []


def parse_llava(record: dict[str, Any], root: Path, where: str) -> Conversation:
    """A LLaVA record (`image`: path or list, `conversations` with `<image>` markers) as a Conversation.

    As in LLaVA, a marker swallows the newline after it, and images without a marker are put, in order, at
    the start of the first human turn; more markers than images is an error.
    """
    images = record.get("image") or []
    if not isinstance(images, (str, list)):
        raise MimicError(f"{where}: 'image' must be a path or a list of paths, not {images!r}")
    images = [images] if isinstance(images, str) else list(images)
    turns = record.get("conversations")
    if not isinstance(turns, list) or not turns:
        raise MimicError(f"{where}: 'conversations' must be a non-empty list")
    markers = sum(len(_LLAVA_IMAGE.findall(str(t.get("value", "")))) for t in turns)
    if markers > len(images):
        raise MimicError(f"{where}: {markers} <image> markers but {len(images)} image(s)")
    missing = len(images) - markers
    messages = []
    for turn in turns:
        role = ROLES.get(turn.get("from", ""))
        if role is None or not isinstance(turn.get("value"), str):
            raise MimicError(f"{where}: a turn needs 'from' (human/gpt/system) and a string 'value': {turn}")
        parts = _LLAVA_IMAGE.split(turn["value"])
        content = _text_items(parts[0])
        for part in parts[1:]:
            content += [{"type": "image"}, *_text_items(part)]
        if role == "user" and missing:
            content = [{"type": "image"}] * missing + content
            missing = 0
        messages.append({"role": role, "content": content})
    return _conversation(record, images, messages, root, where)


def parse_messages(record: dict[str, Any], root: Path, where: str) -> Conversation:
    """An HF chat record (`messages` with `{"type": "image"}` items, `images` list) as a Conversation.

    Image items may also carry their own path (`"image"` or `"path"`) instead of a top-level `images` list.
    """
    raw = record.get("messages")
    if not isinstance(raw, list) or not raw:
        raise MimicError(f"{where}: 'messages' must be a non-empty list")
    images = record.get("images") or []
    if not isinstance(images, list):
        raise MimicError(f"{where}: 'images' must be a list of paths, not {images!r}")
    images = list(images)
    inline = not images
    messages = []
    for m in raw:
        if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant"):
            raise MimicError(f"{where}: a message needs a role of system/user/assistant: {m}")
        content = m.get("content")
        if isinstance(content, str):
            content = _text_items(content)
        if not isinstance(content, list):
            raise MimicError(f"{where}: message content must be a string or a list of items")
        items = []
        for c in content:
            if c.get("type") == "image":
                if inline:
                    path = c.get("image") or c.get("path")
                    if not isinstance(path, str):
                        raise MimicError(f"{where}: image item has no path and the record has no 'images'")
                    images.append(path)
                items.append({"type": "image"})
            elif c.get("type") == "text":
                items.append({"type": "text", "text": str(c.get("text", ""))})
            else:
                raise MimicError(f"{where}: unsupported content item type {c.get('type')!r}")
        messages.append({"role": m["role"], "content": items})
    n_items = sum(c["type"] == "image" for m in messages for c in m["content"])
    if n_items != len(images):
        raise MimicError(f"{where}: {n_items} image item(s) in the messages but {len(images)} image(s)")
    return _conversation(record, images, messages, root, where)


def _conversation(record: dict, images: list, messages: list, root: Path, where: str) -> Conversation:
    if not any(m["role"] == "assistant" for m in messages):
        raise MimicError(f"{where}: no assistant turn, nothing to learn")
    if not all(isinstance(p, str) for p in images):
        raise MimicError(f"{where}: image paths must be strings")
    paths = tuple(confined(root, p, where) for p in images)
    return Conversation(str(record.get("id", where)), paths, tuple(messages))


def confined(root: Path, name: str, where: str) -> Path:
    """An image path of the data: relative ones must stay inside `root` (the data file's folder or its
    image_folder), so a data file cannot make training read files beside it; absolute ones are taken as
    given and, like every image, decoded before training starts (a non-image is refused)."""
    p = Path(name)
    if p.is_absolute():
        return p
    full = Path(os.path.normpath(root / p))
    if not full.is_relative_to(os.path.normpath(root)):
        raise MimicError(f"{where}: image {name!r} is outside {root} (relative paths must stay inside it)")
    return full


def parse_record(record: Any, root: Path, where: str) -> Conversation:
    """Either layout, told apart by its keys."""
    if isinstance(record, dict) and "conversations" in record:
        return parse_llava(record, root, where)
    if isinstance(record, dict) and "messages" in record:
        return parse_messages(record, root, where)
    raise MimicError(f"{where}: neither a LLaVA record ('conversations') nor a chat record ('messages')")


_SAMPLING = re.compile(r"^(all|(first|end|random):(\d+)(%?))$")


def select(n: int, sampling: str, seed: int) -> list[int]:
    """Indices of the records a sampling rule keeps, in order; percentages round up as the official code did."""
    m = _SAMPLING.match(sampling.strip())
    if not m:
        raise MimicError(f"sampling {sampling!r}: use all, first:N, first:P%, end:N, random:N (or P%)")
    if m.group(1) == "all":
        return list(range(n))
    k = int(m.group(3))
    if m.group(4) and k > 100:
        raise MimicError(f"sampling {sampling!r}: a percentage is at most 100%")
    k = min(n, math.ceil(k * n / 100) if m.group(4) else k)
    if m.group(2) == "first":
        return list(range(k))
    if m.group(2) == "end":
        return list(range(n - k, n))
    return sorted(random.Random(seed).sample(range(n), k))


# ---------------------------------------------------------------- files (I/O)

def _read_records(path: Path) -> list[Any]:
    if not path.is_file():
        raise MimicError(f"{path}: data file not found")
    if path.suffix == ".jsonl":
        return read_jsonl(path)
    try:
        records = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as e:
        raise MimicError(f"{path}: invalid JSON ({e})") from None
    if not isinstance(records, list):
        raise MimicError(f"{path}: expected a JSON list of samples")
    return records


def read_mixture(path: Path) -> list[Source]:
    """The paper's `data.yaml`: `datasets: [{path (or json_path), sampling (or sampling_strategy), image_folder}]`,
    plus our optional `max_pixels` per entry (as `--max-pixels`, for that entry's images only).

    Relative paths are relative to the YAML file.
    """
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:  # a YAML error runs to several lines
        why = getattr(e, "strerror", None) or first_line(e)
        raise MimicError(f"{path}: cannot read the mixture ({why})") from None
    entries = spec.get("datasets") if isinstance(spec, dict) else None
    if not isinstance(entries, list) or not entries:
        raise MimicError(f"{path}: a mixture needs a non-empty 'datasets' list")
    sources = []
    for i, entry in enumerate(entries):
        file = entry.get("path", entry.get("json_path")) if isinstance(entry, dict) else None
        if not isinstance(file, str):
            raise MimicError(f"{path}: datasets[{i}] needs a 'path'")
        folder = entry.get("image_folder")
        cap = entry.get("max_pixels")
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
            raise MimicError(f"{path}: datasets[{i}] max_pixels must be a positive whole number, not {cap!r}")
        sources.append(Source(path.parent / file, str(entry.get("sampling", entry.get("sampling_strategy", "all"))),
                              path.parent / folder if folder else None, cap))
    return sources


def sources_of(paths: Iterable[str | Path]) -> list[Source]:
    """Data arguments (json/jsonl files and mixture YAMLs) as sources."""
    out: list[Source] = []
    for p in map(Path, paths):
        out += read_mixture(p) if p.suffix in (".yaml", ".yml") else [Source(p)]
    return out


def load_data(paths: Iterable[str | Path], *, max_images: int = 10, seed: int = 0) -> TrainingData:
    """Read, sample and filter every source; samples with more than `max_images` images are dropped and counted.

    Sampling is applied before the image filter, as in the official code (but the filter counts images, not
    the characters of a path string).
    """
    data = TrainingData([])
    for src in sources_of(paths):
        records = _read_records(src.path)
        root = src.image_folder or src.path.parent
        keep = select(len(records), src.sampling, seed)
        convs = [parse_record(records[i], root, f"{src.path}: sample {i}") for i in keep]
        kept = [c if src.max_pixels is None else replace(c, max_pixels=src.max_pixels)
                for c in convs if len(c.images) <= max_images]
        data.conversations += kept
        data.files.append({"path": str(src.path), "sha256": file_sha256(src.path), "sampling": src.sampling,
                           "records": len(records), "used": len(kept),
                           "dropped_too_many_images": len(convs) - len(kept),
                           **({"image_folder": str(src.image_folder)} if src.image_folder else {}),
                           **({"max_pixels": src.max_pixels} if src.max_pixels else {})})
    if not data.conversations:
        raise MimicError(f"{', '.join(str(p) for p in paths)}: no training samples left")
    return data


def check_images(conversations: Sequence[Conversation], progress: Progress | None = None) -> None:
    """Decode every image once so a bad file fails now, naming file and sample."""
    seen: set[Path] = set()
    for k, conv in enumerate(conversations, 1):
        report(progress, "checking images", k, len(conversations))
        for p in conv.images:
            if p in seen:
                continue
            try:
                verify_image(p)
            except MimicError as e:
                problem = f"cannot be read ({e})" if p.exists() else "not found"
                raise MimicError(f"{p}: image of sample {conv.id!r} {problem}") from None
            seen.add(p)


# ---------------------------------------------------------------- collating

def smaller(a: int | None, b: int | None) -> int | None:
    """The tighter of two optional pixel caps."""
    return b if a is None else a if b is None else min(a, b)


def render(processor: ProcessorMixin, messages: Sequence[dict[str, Any]]) -> tuple[str, list[tuple[int, int]]]:
    """The chat-template text of a conversation and the character span of each assistant answer.

    A span runs from the end of the generation prompt to the end of the turn minus trailing whitespace, so
    it holds the answer and the end-of-turn token (`<|im_end|>`), not the newline after it.
    """
    def text(msgs: Sequence[dict], gen: bool) -> str:
        return processor.apply_chat_template(list(msgs), add_generation_prompt=gen, tokenize=False)

    full = text(messages, False)
    spans = []
    for k, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        start, end = text(messages[:k], True), text(messages[: k + 1], False).rstrip()
        if not (full.startswith(start) and full.startswith(end) and len(start) <= len(end)):
            raise MimicError("chat template: rendering is not prefix-stable, cannot locate the answer tokens")
        spans.append((len(start), len(end)))
    return full, spans


def shift(char: int, replacements: Sequence[dict[str, Any]]) -> int:
    """Where character `char` of the template text lands after the processor expanded image placeholders.

    Each replacement's `new_span[1] - span[1]` is the total growth of the text up to and including it.
    """
    gained = [r["new_span"][1] - r["span"][1] for r in replacements if r["span"][1] <= char]
    return char + (gained[-1] if gained else 0)


def answer_labels(input_ids: torch.Tensor, offsets: torch.Tensor, spans: Sequence[tuple[int, int]],
                  replacements: Sequence[dict[str, Any]]) -> torch.Tensor:
    """Labels for one row: the token where it overlaps an answer span, IGNORE_INDEX everywhere else."""
    labels = torch.full_like(input_ids, IGNORE_INDEX)
    starts, ends = offsets[:, 0], offsets[:, 1]
    for s, e in spans:
        s, e = shift(s, replacements), shift(e, replacements)
        inside = (starts < e) & (ends > s)
        labels[inside] = input_ids[inside]
    return labels


@dataclass
class ChatCollator:
    """Batches conversations with the model's processor: right padding, answer-only labels.

    The image-block mask needs no extra input: it derives each token's image from `input_ids`.
    """

    processor: ProcessorMixin
    max_pixels: int | None = None
    """Per-image pixel cap (`mimic train --max-pixels`), applied as `mimic eval` applies it."""

    def __call__(self, batch: Sequence[Conversation]) -> dict[str, torch.Tensor]:
        rendered = [render(self.processor, c.messages) for c in batch]
        texts = [t for t, _ in rendered]
        images = [[open_rgb(p, smaller(c.max_pixels, self.max_pixels)) for p in c.images] for c in batch]
        bos = getattr(self.processor.tokenizer, "bos_token", None)
        kwargs: dict[str, Any] = {"add_special_tokens": False} if bos and texts[0].startswith(bos) else {}
        enc = self.processor(text=texts, images=images if any(images) else None, padding=True,
                             padding_side="right", return_tensors="pt", return_offsets_mapping=True,
                             return_text_replacement_offsets=True, **kwargs)
        offsets = enc.pop("offset_mapping")
        replacements = enc.pop("text_replacement_offsets", None) or [[] for _ in batch]
        enc["labels"] = torch.stack([answer_labels(enc["input_ids"][i], offsets[i], rendered[i][1], replacements[i])
                                     for i in range(len(batch))])
        return dict(enc)
