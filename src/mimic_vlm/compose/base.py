"""The one composer framework: a catalog index built once, and the helpers every task composer shares.

A composer is a pure function `(index, drawn controls, rng) -> Sample`; the four tasks (counting.py,
listing.py, common.py, oddone.py) only say how to pick targets and images and what the exact answer is.

Speed comes from never scanning the image x category matrix per sample: `CatalogIndex` keeps, per
category, the images that hold it (sparse arrays built once), and composers draw images by rejection
sampling from those arrays, checking one matrix row per candidate. When rejection keeps failing (rare
data), `draw_distinct` falls back to one exact vectorised scan, so a rare-but-possible request still
succeeds and an impossible one gets an exact count for its error message.

Uncertain cells (catalog.py) follow the Catalog rules: a cell's *count* is known iff it is not
uncertain; its *presence* is unknown iff count == 0 and uncertain.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from mimic_vlm.annotations.catalog import Catalog
from mimic_vlm.compose.templates import gt_string, question
from mimic_vlm.errors import MimicError
from mimic_vlm.schema import Answer, Sample


class Stream:
    """Uniform draws from a seeded `np.random.Generator`, fetched in blocks.

    A Generator call costs ~1 us; composing takes a few dozen draws per sample, so at 10k samples/s the
    per-call overhead alone would eat the budget. Consumption order is fixed, so output stays deterministic.
    """

    def __init__(self, rng: np.random.Generator, block: int = 2048) -> None:
        self.rng = rng
        self._block = block
        self._buf: list[float] = []
        self._pos = 0

    def random(self) -> float:
        if self._pos == len(self._buf):
            self._buf, self._pos = self.rng.random(self._block).tolist(), 0
        self._pos += 1
        return self._buf[self._pos - 1]

    def pick(self, n: int) -> int:
        """Uniform index in [0, n) (inlines `random`: this is the hottest call of composing)."""
        if self._pos == len(self._buf):
            self._buf, self._pos = self.rng.random(self._block).tolist(), 0
        self._pos += 1
        return int(self._buf[self._pos - 1] * n)

    def pick_weighted(self, cumulative: list[float]) -> int:
        """Index drawn with probability proportional to the weights whose cumulative sums are given."""
        return bisect.bisect_right(cumulative, self.random() * cumulative[-1])

    def sample(self, n: int, k: int) -> list[int]:
        """k distinct indices of [0, n), in random order."""
        if k == 1:
            return [self.pick(n)]
        if 2 * k >= n:
            order = list(range(n))
            for j in range(k):
                q = j + self.pick(n - j)
                order[j], order[q] = order[q], order[j]
            return order[:k]
        out: list[int] = []
        seen: set[int] = set()
        while len(out) < k:
            j = self.pick(n)
            if j not in seen:
                seen.add(j)
                out.append(j)
        return out

    def shuffled(self, items: list[int]) -> list[int]:
        return [items[j] for j in self.sample(len(items), len(items))]


class Unsatisfiable(Exception):
    """One attempt failed (unlucky draw or impossible request); the framework retries or reports."""


class CatalogIndex:
    """Per-category sparse image lists and per-image object tables, computed once per catalog."""

    def __init__(self, catalog: Catalog) -> None:
        if catalog.n_images == 0 or catalog.n_categories == 0:
            raise MimicError(f"{catalog.source} catalog: empty (no images or no categories)")
        self.catalog = catalog
        self.names = catalog.categories
        self.counts = catalog.counts
        self.present = catalog.present
        self.absent = catalog.absent
        self.uncertain = catalog.uncertain
        self.unknown = ~self.present & catalog.uncertain
        """presence of c in i is unknown."""
        self.holders = _columns(self.present)
        """category -> images where it is certainly present."""
        self.counted_holders = _columns(self.present & ~catalog.uncertain)
        """category -> images where it is present with a known count (what counting may use)."""
        self.all_images = np.arange(catalog.n_images)
        self.nonblank: np.ndarray = np.asarray((self.present | catalog.uncertain).any(axis=1))
        """Images with at least one annotated object (of certain count or not): not blank."""
        self.n_absent = self.absent.sum(axis=0)
        self.n_holders = np.array([len(h) for h in self.holders])
        self.n_counted = np.array([len(h) for h in self.counted_holders])
        self._held = _rows(self.present)
        self._held_ids = self._held.cols.tolist()
        self._held_names = [self.names[c] for c in self._held_ids]
        self._held_counts = self.counts[self._held.rows, self._held.cols].tolist()
        self._unsure = _rows(self.uncertain)
        self._unsure_ids = self._unsure.cols.tolist()
        self._unsure_names = [self.names[c] for c in self._unsure_ids]
        self._objects: dict[int, dict[str, int]] = {}
        self._unknown = _rows(self.unknown)
        self._unknown_ids = self._unknown.cols.tolist()
        self._memo: dict[tuple[Any, ...], Any] = {}

    def memo(self, key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
        """Cache of per-control-value tables (eligible categories for a spread, answer ranges...)."""
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

    # ------------------------------------------------------------------ per image, cached lazily
    def objects(self, i: int) -> dict[str, int]:
        """{category: certain count} of every category certainly present in image i."""
        out = self._objects.get(i)
        if out is None:
            a, b = self._held.indptr[i], self._held.indptr[i + 1]
            out = self._objects[i] = dict(zip(self._held_names[a:b], self._held_counts[a:b], strict=True))
        return out

    def uncertain_names(self, i: int) -> list[str]:
        """Sorted names of the categories with an uncertain cell in image i."""
        a, b = self._unsure.indptr[i], self._unsure.indptr[i + 1]
        return sorted(self._unsure_names[a:b])

    def cats(self, i: int) -> tuple[list[int], list[int]]:
        """(categories certainly present, categories of unknown presence) in image i."""
        held, unknown = self._held.indptr, self._unknown.indptr
        return self._held_ids[held[i]:held[i + 1]], self._unknown_ids[unknown[i]:unknown[i + 1]]

    # ------------------------------------------------------------------ per category
    @cached_property
    def count_buckets(self) -> list[dict[int, np.ndarray]]:
        """category -> {count: images holding exactly that many, count known} (uniform counting)."""
        out = []
        for c, imgs in enumerate(self.counted_holders):
            values = self.counts[imgs, c]
            order = np.argsort(values, kind="stable")
            vals, starts = np.unique(values[order], return_index=True)
            ends = list(starts[1:]) + [len(order)] if len(order) else []
            out.append({int(v): imgs[order[a:b]] for v, a, b in zip(vals, starts, ends, strict=True)})
        return out

    def top_sum(self, c: int, s: int) -> int:
        """Largest total s distinct count-known holders of c can reach (0 if fewer than s exist)."""
        return self._sum_over_buckets(c, s, reverse=True)

    def bottom_sum(self, c: int, s: int) -> int:
        return self._sum_over_buckets(c, s, reverse=False)

    def _sum_over_buckets(self, c: int, s: int, reverse: bool) -> int:
        if self.n_counted[c] < s:
            return 0
        total, left = 0, s
        for v in sorted(self.count_buckets[c], reverse=reverse):
            take = min(left, len(self.count_buckets[c][v]))
            total, left = total + v * take, left - take
            if not left:
                break
        return total

    @cached_property
    def supercategories(self) -> list[str]:
        return sorted(self.catalog.supercategory_members)

    def members(self, supers: list[str]) -> list[int]:
        m = self.catalog.supercategory_members
        return sorted(c for g in supers for c in m[g])

    @cached_property
    def super_holders(self) -> dict[str, np.ndarray]:
        """supercategory -> images holding a member, with the presence of every member known."""
        out = {}
        for g, mem in self.catalog.supercategory_members.items():
            out[g] = np.flatnonzero(self.present[:, mem].any(1) & ~self.unknown[:, mem].any(1))
        return out

    @cached_property
    def super_absent(self) -> dict[str, int]:
        return {g: int(self.absent[:, mem].all(1).sum()) for g, mem in self.catalog.supercategory_members.items()}


@dataclass(frozen=True)
class _Sparse:
    """Row-major sparse layout of a boolean matrix: the true cells of row i are cols[indptr[i]:indptr[i+1]]."""

    indptr: list[int]
    rows: np.ndarray
    cols: np.ndarray


def _rows(mask: np.ndarray) -> _Sparse:
    rows, cols = np.nonzero(mask)
    return _Sparse(np.searchsorted(rows, np.arange(mask.shape[0] + 1)).tolist(), rows, cols)


def _columns(mask: np.ndarray) -> list[np.ndarray]:
    """Column -> sorted row indices where mask is true, from one pass over the matrix."""
    cols, rows = np.nonzero(mask.T)
    bounds = np.searchsorted(cols, np.arange(mask.shape[1] + 1))
    rows = rows.astype(np.int64)
    return [rows[bounds[c]:bounds[c + 1]] for c in range(mask.shape[1])]


def from_pool(rng: Stream, pool: np.ndarray) -> Callable[[], int]:
    """A proposal: a uniform image from `pool` (None-safe for empty pools)."""
    n = len(pool)
    return (lambda: int(pool[rng.pick(n)])) if n else (lambda: -1)


def any_image(rng: Stream, index: CatalogIndex) -> Callable[[], int]:
    """A proposal: a uniform image of the whole catalog (where distractors come from)."""
    n = index.catalog.n_images
    return lambda: rng.pick(n)


def draw_distinct(rng: Stream, propose: Callable[[], int], k: int, accept: Callable[[int], bool],
                  used: set[int], exact: Callable[[], np.ndarray]) -> list[int]:
    """k distinct images passing `accept`, none in `used` (which is updated).

    Rejection sampling from `propose()` first; if it stalls, `exact()` lists every acceptable image (one
    vectorised scan) and the rest is drawn from it. Raises Unsatisfiable when fewer than k exist.
    """
    out: list[int] = []
    tries = 4 * k + 16
    while len(out) < k and tries:
        tries -= 1
        i = propose()
        if i >= 0 and i not in used and accept(i):
            used.add(i)
            out.append(i)
    if len(out) < k:
        rest = [int(i) for i in exact() if int(i) not in used]
        if len(rest) < k - len(out):
            raise Unsatisfiable
        for j in rng.sample(len(rest), k - len(out)):
            used.add(rest[j])
            out.append(rest[j])
    return out


@dataclass(frozen=True)
class Choices:
    """Eligible categories (or supercategories) with their data frequencies, drawn under either balance."""

    ids: list[int]
    cumulative: list[float]

    @classmethod
    def of(cls, ids: np.ndarray | list[int], frequency: np.ndarray) -> Choices:
        ids = np.asarray(ids, dtype=np.int64)
        return cls(ids.tolist(), np.cumsum(frequency[ids], dtype=np.float64).tolist())

    def __len__(self) -> int:
        return len(self.ids)

    def draw(self, rng: Stream, balance: str) -> int:
        """Uniform over the ids (balance=uniform), or proportional to frequency (natural)."""
        if not self.ids:
            raise Unsatisfiable
        if balance == "uniform":
            return self.ids[rng.pick(len(self.ids))]
        return self.ids[rng.pick_weighted(self.cumulative)]


def make_sample(index: CatalogIndex, task: str, images: list[int], question: str, answer: Answer,
                targets: list[str], controls: dict[str, Any]) -> Sample:
    """Assemble the Sample from catalog rows; it names images as the catalog does (bench/write.py then
    turns the names into bench paths). Object tables are shared between samples: never mutate them."""
    return Sample(id="", task=task, images=[index.catalog.images[i] for i in images], question=question,
                  answer=answer, gt=gt_string(answer), targets=targets, controls=controls,
                  source=index.catalog.source, image_objects=[index.objects(i) for i in images],
                  image_uncertain=[index.uncertain_names(i) for i in images])


def named_answers_sample(index: CatalogIndex, task: str, images: list[int], answer_ids: list[int] | tuple[int, ...],
                         layout: Callable[[int, int], dict[str, int]], drawn: dict[str, Any],
                         rng: Stream) -> Sample:
    """The sample of a set whose answer is categories by name (common, odd_one): one name, or the sorted
    names; `layout(n_images, answers)` gives the task's image controls."""
    names = sorted(index.names[c] for c in answer_ids)
    n, a = len(images), len(names)
    controls = {**layout(n, a), "balance": drawn["balance"], "blank_images": drawn.get("blank_images", True)}
    return make_sample(index, task, rng.shuffled(list(images)), question(task, names, a),
                       names[0] if a == 1 else names, names, controls)


@dataclass(frozen=True)
class Composer:
    """A task: `check` rejects impossible control draws up front; `compose` builds one sample at random;
    `search` finds valid sets systematically when random construction keeps failing."""

    task: str
    check: Callable[[CatalogIndex, dict[str, int]], str | None]
    """Returns why the data cannot satisfy these drawn controls (naming the control), or None."""
    compose: Callable[[CatalogIndex, dict[str, Any], Stream], Sample]
    """May raise Unsatisfiable for an unlucky draw; the framework retries with fresh randomness."""
    build: Callable[..., Sample]
    """`build(index, drawn, images, targets, rng)`: the sample of one valid set a search found."""
    search: Callable[..., Any]
    """`search(index, drawn, budget, rng) -> search.Found`: the systematic fallback (compose/search.py)."""
