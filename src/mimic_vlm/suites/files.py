"""Reading benchmarks' released files from local disk, and copying their images into a bench.

Releases ship as parquet (images embedded as `{"bytes", "path"}` structs), `save_to_disk` arrow folders,
or json/jsonl with image folders beside them. Records are read raw (pyarrow, no image decoding), so an
import copies the released image bytes unchanged.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from mimic_vlm.errors import MimicError
from mimic_vlm.images import _UNREADABLE, decoded

MAX_IMAGE_BYTES = 256 << 20
"""The largest image file an import reads (a zip member, a file): the released images are kilobytes to a few MB."""
TABLE_SUFFIXES = (".parquet", ".arrow", ".json", ".jsonl")
_SPLIT_NAME = re.compile(r"^(train|val|validation|dev|test)[-_.]", re.IGNORECASE)
# NLVR2's release (lil-lab/nlvr): train/dev/test1(/test2).json and balanced/ + unbalanced/ subsets of dev/test1
_SPLIT_STEM = re.compile(r"^(?:(?:un)?balanced_)?(?:train|val|validation|dev|test\d?)$", re.IGNORECASE)
GROUPS = ("balanced", "unbalanced")
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


class Defect(Exception):
    """A known data defect in one record (missing image, gold outside the options): the record is
    reported in the manifest's warnings, not silently fixed."""


@dataclass(frozen=True)
class Record:
    """One row of a released file, with its place for error messages."""

    file: Path
    index: int
    data: dict[str, Any]

    @property
    def where(self) -> str:
        return f"{self.file}: row {self.index}"

    def get(self, key: str) -> Any:
        """A required field; a malformed release names the file, row and field."""
        if key not in self.data or self.data[key] is None:
            raise MimicError(f"{self.where}: missing field {key!r} (fields: {', '.join(sorted(self.data))})")
        return self.data[key]

    def items(self, key: str, single: bool = False) -> list[Any]:
        """A required list field (options, images); `single`: one string stands for a list of it. An int or an
        object where a list belongs names the file, row and field."""
        value = self.get(key)
        if single and isinstance(value, str):
            return [value]
        if not isinstance(value, (list, tuple)):
            raise MimicError(f"{self.where}: field {key!r} should be a list, got {type(value).__name__}")
        return list(value)

    def text(self, key: str) -> str:
        value = self.get(key)
        if not isinstance(value, str):
            raise MimicError(f"{self.where}: field {key!r} should be text, got {type(value).__name__}")
        return value


def find_tables(path: Path, split: str | None, fallback: bool = False) -> list[Path]:
    """The data files of a release: `path` itself, or those under it; a `save_to_disk` folder counts as
    one (it picks its split itself). Where file names carry a split (`val-00000-of-00001.parquet`,
    `dev.json`), only `split`'s are kept; with `fallback` (a default split, not the user's), a release
    that has exactly one other split gives that one."""
    if not path.exists():
        raise MimicError(f"{path}: no such file or folder")
    if path.is_file() or _is_saved(path):
        return [path]
    saved = [d for d in sorted(path.rglob("*")) if d.is_dir() and _is_saved(d)]
    saved = [d for d in saved if not any(o in d.parents for o in saved)]
    files = sorted(p for p in path.rglob("*") if p.suffix in TABLE_SUFFIXES and p.is_file()
                   and not p.name.startswith(".") and not any(d in p.parents for d in saved))
    splits = {s for p in files if (s := split_of(p)) is not None}
    if split and splits:
        if fallback and split.lower() not in splits and len(splits) == 1:
            split = splits.pop()
        split = _group_split(path, split.lower(), splits)
        files = [p for p in files if split_of(p) == split]
        if not files and not saved:
            raise MimicError(f"{path}: no {split!r} split files (splits found: {', '.join(sorted(splits))})")
    if not files and not saved:
        raise MimicError(f"{path}: no data files ({', '.join(TABLE_SUFFIXES)})")
    return sorted(files + saved)


def _is_saved(d: Path) -> bool:
    """A `datasets` save_to_disk folder (a Dataset or a DatasetDict)."""
    return (d / "dataset_dict.json").is_file() or ((d / "state.json").is_file() and (d / "dataset_info.json").is_file())


def _group_split(path: Path, split: str, splits: set[str]) -> str:
    """`balanced` / `unbalanced` name NLVR2's subsets of dev and test1: the one present, or ask which."""
    if split not in GROUPS or split in splits:
        return split
    members = sorted(s for s in splits if s.startswith(split + "_"))
    if len(members) > 1:
        raise MimicError(f"{path}: --split {split} has {len(members)} parts; choose one of {', '.join(members)}")
    return members[0] if members else split


def split_of(p: Path) -> str | None:
    """The split a data file's name gives (`val-00000-of-00001.parquet` -> val, NLVR2's `test1.json` ->
    test1, `balanced_dev.json` -> balanced_dev), if any."""
    if _SPLIT_STEM.match(p.stem):
        return p.stem.lower()
    m = _SPLIT_NAME.match(p.name)
    return m.group(1).lower() if m else None


def read_records(files: list[Path], split: str | None = None) -> Iterator[Record]:
    """Every record of the files, in order."""
    for f in files:
        for i, row in enumerate(_rows(f, split)):
            if not isinstance(row, dict):
                raise MimicError(f"{f}: row {i}: expected an object, got {type(row).__name__}")
            yield Record(f, i, row)


def _rows(f: Path, split: str | None) -> Iterator[dict[str, Any]]:
    if f.is_dir():
        yield from _arrow_folder(f, split)
    elif f.suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(f)
        except Exception as e:
            raise MimicError(f"{f}: not a readable parquet file ({e})") from None
        for batch in pf.iter_batches(batch_size=64):
            yield from batch.to_pylist()
    elif f.suffix == ".arrow":
        import pyarrow as pa

        try:
            with pa.memory_map(str(f)) as src:
                table = pa.ipc.open_stream(src).read_all()
        except Exception as e:
            raise MimicError(f"{f}: not a readable arrow stream ({e})") from None
        yield from table.to_pylist()
    elif f.suffix == ".jsonl":
        yield from _json_lines(f)
    else:
        try:
            data = orjson.loads(f.read_bytes())
        except orjson.JSONDecodeError:
            # NLVR2 ships `.json` files that are really JSON lines.
            yield from _json_lines(f)
            return
        if isinstance(data, dict):  # {"data": [records]}, or one record (a one-line JSON-lines file)
            data = next((v for v in data.values() if isinstance(v, list) and v and isinstance(v[0], dict)), [data])
        if not isinstance(data, list):
            raise MimicError(f"{f}: expected a list of records, got {type(data).__name__}")
        yield from data


def _json_lines(f: Path) -> Iterator[dict[str, Any]]:
    for i, line in enumerate(f.read_bytes().splitlines()):
        if line.strip():
            try:
                yield orjson.loads(line)
            except orjson.JSONDecodeError as e:
                raise MimicError(f"{f}: line {i + 1}: invalid JSON ({e})") from None


def _arrow_folder(f: Path, split: str | None) -> Iterator[dict[str, Any]]:
    import datasets

    try:
        ds = datasets.load_from_disk(str(f))
    except Exception as e:
        raise MimicError(f"{f}: not a datasets save_to_disk folder ({e})") from None
    if isinstance(ds, datasets.DatasetDict):
        names = list(ds)
        name = split if split in ds else (names[0] if len(names) == 1 else None)
        if name is None:
            raise MimicError(f"{f}: has splits {names}; choose one with --split")
        ds = ds[name]
    for batch in ds.with_format("arrow").iter(batch_size=64):
        yield from batch.to_pylist()


class ImageSink:
    """Copies a release's images into `BENCH/images/`, named `<sample id>-<k>-<source file name>`."""

    def __init__(self, bench_root: Path):
        self.root = bench_root
        (bench_root / "images").mkdir(parents=True, exist_ok=True)
        self._index: dict[Path, dict[str, Path]] = {}
        self._zips: dict[Path, dict[str, tuple[zipfile.ZipFile, str]]] = {}

    def find(self, folder: Path, stem: str) -> Path:
        """The image named `stem` (any extension) anywhere under `folder`: releases like NLVR2 spread
        their images over sub-folders. The folder is listed once per import."""
        if folder not in self._index:
            self._index[folder] = {p.stem: p for p in sorted(folder.rglob("*"))
                                   if p.suffix.lower() in (".png", ".jpg", ".jpeg")}
        if stem not in self._index[folder]:
            raise Defect(f"image {stem} not found under {folder}")
        return self._index[folder][stem]

    def save_all(self, values: list[Any], stem: str, base: Path) -> list[str]:
        """Write a record's images (`{"bytes", "path"}` structs, paths relative to `base`, or raw bytes)
        and return their bench paths. All are read before any is written, so a record dropped for a
        missing or unreadable image leaves no files behind (`Defect`)."""
        if not values:
            raise Defect("no images")
        loaded = [_readable(*self._bytes(v, base), k) for k, v in enumerate(values)]
        paths = []
        for k, (data, name) in enumerate(loaded):
            rel = f"images/{_SAFE.sub('_', stem)}-{k}-{_SAFE.sub('_', name)}"
            (self.root / rel).write_bytes(data)
            paths.append(rel)
        return paths


    def _bytes(self, value: Any, base: Path) -> tuple[bytes, str | None]:
        """An image's bytes: embedded, a file under `base`, or a member of a zip beside the data file
        (MIRB ships its images as `images.zip`; a path matches a member of the same path, or ending in it)."""
        try:
            return _image_bytes(value, base)
        except Defect:
            if not (isinstance(value, str) and value and (members := self._zip_members(base))):
                raise
        name = Path(value).as_posix().lstrip("./")
        hit = members.get(name) or next((m for k, m in members.items() if k.endswith("/" + name)), None)
        if hit is None:
            raise Defect(f"image {value!r} not found (looked under {base} and in its zip files)") from None
        archive, member = hit
        size = archive.getinfo(member).file_size
        if size > MAX_IMAGE_BYTES:  # a zip bomb: a few KB that inflate to gigabytes, read into memory
            raise Defect(f"image {value!r} inflates to {size:,} bytes in {archive.filename}, more than an image "
                         f"holds ({MAX_IMAGE_BYTES >> 20} MiB)")
        return archive.read(member), Path(member).name

    def _zip_members(self, base: Path) -> dict[str, tuple[zipfile.ZipFile, str]]:
        """Every file member of the zip files in `base`, listed once per import."""
        if base not in self._zips:
            members: dict[str, tuple[zipfile.ZipFile, str]] = {}
            for z in sorted(base.glob("*.zip")):
                try:
                    archive = zipfile.ZipFile(z)
                except zipfile.BadZipFile:
                    raise MimicError(f"{z}: not a readable zip file") from None
                members.update({n: (archive, n) for n in archive.namelist() if not n.endswith("/")})
            self._zips[base] = members
        return self._zips[base]


def _readable(data: bytes, name: str | None, k: int) -> tuple[bytes, str]:
    try:
        fmt = decoded(data).format or "png"  # in full: a truncated JPEG or a bomb is no image either
    except _UNREADABLE:
        raise Defect(f"image {k + 1} ({name or 'embedded'}) is not a readable image") from None
    return data, Path(name).name if name else f"image.{fmt.lower().replace('jpeg', 'jpg')}"


def _image_bytes(value: Any, base: Path) -> tuple[bytes, str | None]:
    if isinstance(value, dict):
        if value.get("bytes"):
            return value["bytes"], value.get("path")
        value = value.get("path")
    if isinstance(value, bytes | bytearray):
        return bytes(value), None
    if isinstance(value, str) and value:
        p = Path(value)
        p = p if p.is_absolute() else base / p
        if not p.is_file():
            raise Defect(f"image {value!r} not found (looked at {p})")
        return p.read_bytes(), p.name
    raise Defect(f"image slot holds no image ({type(value).__name__})")


def describe_source(f: Path, source: Path) -> dict[str, object]:
    """Name, size and sha256 of a source file (a save_to_disk folder: of its arrow files)."""
    h, size = hashlib.sha256(), 0
    for part in sorted(f.rglob("*.arrow")) if f.is_dir() else [f]:
        with part.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
                size += len(chunk)
    name = f.relative_to(source).as_posix() if f != source and source.is_dir() else f.name
    return {"file": name, "bytes": size, "sha256": h.hexdigest()}
