"""`mimic study`: the paper's findings F1-F7 on one model, on paired controlled designs, in one folder.

```
OUT/
  study.json            model, profile, one entry per finding (analysis.study_record: the keys other tools read)
  study.md              the table of verdicts, each finding's design, levels and reason, its figure
  figures/F1.png ...    one figure per finding: the metric by level with 95% intervals
  study-settings.json   the request (model, source, count, profile, seed, model options): a rerun must match it
  toy-world/            the default world (--source toy without --annotations), in the model's preset
  benches/F1 ...        one bench per design (variants of one base sample record extra.variant_of)
  runs/F1 ...           run folders of the existing runner (runs/F2/max_pixels=N: one per token budget)
  attention/F6.json     the attention probe's shares by layer (per sample)
```

Every bench is evaluated once, by the runner; rerunning the same command continues (finished runs are
reused, a killed one resumes); a changed setting is refused, or, with `overwrite`, its benches and runs are
redone. What a model kind can do (its record in `models/kinds.py`) decides which designs run: a finding the kind cannot
run is `not_testable`, saying why.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mimic_vlm.annotations.catalog import Catalog
from mimic_vlm.compose.base import CatalogIndex, Stream
from mimic_vlm.compose.controls import Controls
from mimic_vlm.compose.generate import compose_task
from mimic_vlm.compose.variants import concept_levels, distractor_levels, fixed_total_samples, variant_of
from mimic_vlm.errors import MimicError
from mimic_vlm.files import check_study_folder, write_json_atomic
from mimic_vlm.models.kinds import ModelKind, kind_of
from mimic_vlm.progress import Progress
from mimic_vlm.schema import Sample, read_json, read_jsonl
from mimic_vlm.store import Bench, load_bench
from mimic_vlm.study import analysis as A
from mimic_vlm.study.findings import EFFECT_OF_INTEREST, FINDINGS, PROFILES, Profile

if TYPE_CHECKING:
    from mimic_vlm.bench.generate import Source

STUDY_JSON, STUDY_MD, SETTINGS_JSON = "study.json", "study.md", "study-settings.json"
STUDY_FILES = ("toy-world", "benches", "runs", "attention", "figures", STUDY_JSON, STUDY_MD, SETTINGS_JSON)
"""Everything a study writes into its folder."""
WORLD_SEED = 2026
"""The default world's seed: none of the shipped model's training or selection worlds."""
WORLD_RECORD = "toy_world.json"
"""In a model's folder: `{"preset": NAME}`, the toy world it was trained on (the study renders that one)."""
DEFAULT_PRESET = "tiny"


def model_world(spec: str) -> str:
    """The toy-world preset a model records in its folder (`toy:NAME` in the package, or a local `hf:` folder);
    `tiny` where it records none."""
    from mimic_vlm.models.registry import WEIGHTS, check_spec

    kind, arg = check_spec(spec)
    folder = WEIGHTS / arg if kind.name == "toy" else Path(arg).expanduser() if kind.name == "hf" else None
    record = folder / WORLD_RECORD if folder is not None else None
    if record is not None and record.is_file():
        preset = read_json(record).get("preset")
        if isinstance(preset, str) and preset:
            return preset
    return DEFAULT_PRESET


@dataclass
class StudyRun:
    """One study in progress: the request, and the models loaded so far."""

    model: str
    out: Path
    catalog: Catalog
    profile: Profile
    count: int
    seed: int
    options: dict[str, Any]
    overwrite: bool
    progress: Progress | None
    replicates: int
    can: ModelKind
    index: CatalogIndex = field(init=False)
    _loaded: dict[Any, Any] = field(default_factory=dict)
    _done: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.index = CatalogIndex(self.catalog)

    # -- benches and runs
    def bench(self, name: str, design: dict[str, Any], make: Callable[[], list[Sample]]) -> Bench:
        """The design's bench: reused when built with the same design from the same files; else built (another
        design's bench is refused without `overwrite`)."""
        from mimic_vlm.bench.paired import design_matches, write_design_bench

        path = self.out / "benches" / name
        match = design_matches(path, design, self.catalog)
        if match is False and not self.overwrite:
            raise MimicError(f"{path}: a bench of another design; use --overwrite to rebuild it or choose another --out")
        if not match:
            write_design_bench(make(), self.catalog, path, design, overwrite=match is False)
        return load_bench(path)

    def load(self, bench: Bench, pooling: int | None = None, **extra: Any) -> Any:
        """The model (loaded once per option set; baselines once per bench), its vision tokens pooled by
        `pooling` where given."""
        from mimic_vlm.models.registry import load_model

        key = (str(bench.root) if not self.can.transformers else None, tuple(sorted(extra.items())))
        if key not in self._loaded:
            self._loaded[key] = load_model(self.model, bench=bench, seed=self.seed, **{**self.options, **extra})
        if pooling is None:
            return self._loaded[key]
        from mimic_vlm.probe.pooling import pooled_model

        return pooled_model(self._loaded[key], pooling)

    def evaluate(self, bench: Bench, run: str, **extra: Any) -> dict[str, dict[str, Any]]:
        """Sample id -> prediction row of the model on `bench` (runs/<run>, resumable)."""
        from mimic_vlm.evaluate.runner import run_eval

        run_dir = self.out / "runs" / run
        model = self.load(bench, **extra)
        run_eval(bench, model, run_dir, progress=self.progress, overwrite=self.overwrite and changed_run(run_dir, model, bench),
                 command=["mimic", "study", self.model, run])
        return {r["id"]: r for r in read_jsonl(run_dir / "predictions.jsonl")}

    def design(self, finding: str, **parts: Any) -> dict[str, Any]:
        return {"finding": finding, "count": self.count, "seed": self.seed, "profile": self.profile.name, **parts}


def changed_run(run_dir: Path, model: Any, bench: Bench) -> bool:
    """Whether the run folder holds a run of other settings (only those are redone with --overwrite; a run of
    the same settings resumes)."""
    import orjson

    from mimic_vlm.evaluate.runner import RUN_JSON, Prompting, answer_settings, diff

    if not (run_dir / RUN_JSON).is_file():
        return True
    try:
        old = read_json(run_dir / RUN_JSON).get("settings")
    except (MimicError, AttributeError):
        return True
    return bool(diff(old, orjson.loads(orjson.dumps(answer_settings(model, Prompting(), False, bench)))))


def outcome(row: dict[str, Any]) -> float:
    """A prediction's binary verdict: `correct`, else listing's exact set (missing: wrong)."""
    value = row.get("correct")
    if value is None:
        value = row.get("exact")
    return float(bool(value))


def observations(bench: Bench, rows: dict[str, dict[str, Any]], level: Callable[[Sample], Any],
                 unit: Callable[[Sample], str] = variant_of) -> list[A.Obs]:
    return [(unit(s), level(s), outcome(rows[s.id]), rows[s.id].get("vision_tokens"))
            for s in bench.samples if s.id in rows]


def level_prior(samples: Sequence[Sample], at_base: Callable[[Sample], bool]) -> float | None:
    """The answer prior's score on the base level: per task, the bench's most frequent answer."""
    hits, n = 0.0, 0
    for task in sorted({s.task for s in samples}):
        answers = [s.gt for s in samples if s.task == task]
        base = [s.gt for s in samples if s.task == task and at_base(s)]
        score = A.prior_score(answers, base)
        if score is not None:
            hits += score * len(base)
            n += len(base)
    return hits / n if n else None


def _entry(fid: str, fixed: dict[str, Any], levels: list[dict[str, Any]], effect: dict[str, Any],
           mde: float | None, testable: bool, reason: str | None, note: str | None = None,
           vary: str | None = None) -> dict[str, Any]:
    spec = FINDINGS[fid]
    return {"id": fid, "claim": spec.claim, "design": {"vary": vary or spec.vary, "fixed": fixed,
                                                      "paired": spec.paired},
            "metric": spec.metric, "levels": levels, "effect": effect, "min_detectable_effect": mde,
            "testable": testable, "reason": reason, "note": note}


def untestable(fid: str, reason: str, fixed: dict[str, Any] | None = None) -> dict[str, Any]:
    return _entry(fid, fixed or {}, [], {"value": None, "ci": None, "p": None}, None, False, reason)


def _tokens_note(levels: list[dict[str, Any]], what: str) -> str:
    shown = ", ".join("–" if lv["vision_tokens"] is None else f"{lv['vision_tokens']:.1f}" for lv in levels)
    return f"vision tokens per sample by {what}: {shown}"


# ---------------------------------------------------------------- the designs


def f1(ctx: StudyRun) -> dict[str, Any]:
    """Distractor images added to the same target images: n_images varies, answer and targets fixed."""
    if "F1" in ctx._done:
        return dict(ctx._done["F1"][0])
    p = ctx.profile
    totals = list(p.f1_totals)

    def make() -> list[Sample]:
        bases = compose_task(ctx.index, "counting", ctx.count,
                             Controls.parse(n_images=p.f1_spread, spread=p.f1_spread, distractors=0), ctx.seed)
        rng = Stream(np.random.default_rng([ctx.seed, 1]))
        return [v for b in bases for v in distractor_levels(ctx.index, b, totals, rng)]

    bench = ctx.bench("F1", ctx.design("F1", totals=totals, spread=p.f1_spread), make)
    obs, levels, effect, mde, testable, why = paired_by_control(ctx, bench, "F1", "n_images", totals)
    entry = _entry("F1", {"task": "counting", "spread": p.f1_spread, "target images": "the same at every level",
                          "answer": "the same at every level"}, levels, effect, mde, testable, why,
                   _tokens_note(levels, "n_images"))
    ctx._done["F1"] = (entry, bench, obs)
    return dict(entry)


def paired_by_control(ctx: StudyRun, bench: Bench, finding: str, control: str,
                      values: list[int]) -> tuple[list[A.Obs], list[dict[str, Any]], dict[str, Any], float | None, bool,
                                                        str | None]:
    """A design whose levels are the values of one sample control, paired on the base sample (F1, F5): its
    observations, levels, first-to-last effect, detectable effect, and whether the base level is testable."""
    rows = ctx.evaluate(bench, finding)
    obs = observations(bench, rows, lambda s: s.controls[control])
    levels = A.levels_table(obs, values, ctx.replicates, ctx.seed, finding)
    effect, mde = A.paired_effect(obs, values[0], values[-1], ctx.replicates, ctx.seed, finding)
    prior = level_prior(bench.samples, lambda s: s.controls[control] == values[0])
    testable, why = A.is_testable(levels[0], prior, f"{control}={values[0]}")
    return obs, levels, effect, mde, testable, why


def f4(ctx: StudyRun) -> dict[str, Any]:
    """F1's variants split by the base's spread: the distractor cost at spread 2 minus at spread 1."""
    base = f1(ctx)
    _, bench, obs = ctx._done["F1"]
    totals = list(ctx.profile.f1_totals)
    spread = {variant_of(s): s.controls["spread"] for s in bench.samples}
    levels, effect, mde = A.interaction_effect(obs, spread.__getitem__, (1, 2), totals[0], totals[-1],
                                               ctx.replicates, ctx.seed, "F4")
    fixed = {"task": "counting", "levels": f"n_images {totals[0]} vs {totals[-1]} (F1's variants)",
             "groups": "spread 1, spread 2"}
    return _entry("F4", fixed, levels, effect, mde, base["testable"], base["reason"])


POOLING_FACTORS = (1, 2, 4, 8)
"""F2's token budgets for models whose pixel cap sets no token count (LLaVA-OneVision, InternVL): each image's
vision tokens average-pooled by these factors (`probe/pooling.py`)."""


def token_budgets(ctx: StudyRun, bench: Bench) -> tuple[str, list[int]]:
    """("max_pixels", caps) for Qwen-style models (the pixel cap sets the vision tokens per image), else
    ("pooling", factors) for the families pooling supports; a MimicError for the others."""
    from mimic_vlm.probe.pooling import QWEN, SUPPORTED

    family = getattr(getattr(getattr(ctx.load(bench), "model", None), "config", None), "model_type", None)
    if family in QWEN:
        return "max_pixels", list(ctx.profile.f2_pixels)
    if family in SUPPORTED:
        return "pooling", list(POOLING_FACTORS)
    raise MimicError(f"model type {family!r}: neither a pixel cap nor pooling sets its vision tokens per image")


def f2(ctx: StudyRun) -> dict[str, Any]:
    """The same samples at several vision-token budgets, paired on the sample: the pixel cap of Qwen-style
    models (largest first), else pooling factors (1 first)."""
    p = ctx.profile
    fixed: dict[str, Any] = {"task": "counting", "n_images": p.f2_images}
    if not (ctx.can.pixel_cap and ctx.can.vision_tokens):
        return untestable("F2", f"--model {ctx.model}: its kind has no vision-token budget to vary (pixel cap) or "
                                "does not report vision tokens", fixed)

    def make() -> list[Sample]:
        return compose_task(ctx.index, "counting", ctx.count, Controls.parse(n_images=p.f2_images), ctx.seed)

    bench = ctx.bench("F2", ctx.design("F2", n_images=p.f2_images), make)
    try:
        vary, budgets = token_budgets(ctx, bench)
    except MimicError as e:
        return untestable("F2", str(e), fixed)
    fixed["pixel caps" if vary == "max_pixels" else "pooling factors"] = budgets
    obs: list[A.Obs] = []
    for b in budgets:
        rows = ctx.evaluate(bench, f"F2/{vary}={b}", **({vary: b} if vary == "max_pixels" else {"pooling": b}))
        obs += observations(bench, rows, lambda s, b=b: b, unit=lambda s: s.id)  # type: ignore[misc]
    levels = A.levels_table(obs, budgets, ctx.replicates, ctx.seed, "F2")
    effect, mde = A.paired_effect(obs, budgets[0], budgets[-1], ctx.replicates, ctx.seed, "F2")
    tokens = [lv["vision_tokens"] for lv in levels]
    note = _tokens_note(levels, vary) + (
        "; caps above the images' own size change nothing" if len(set(tokens)) < len(tokens) else "")
    if len(set(tokens)) == 1:
        return _entry("F2", fixed, levels, effect, mde, False, f"every {vary} level gives the same vision tokens "
                      f"per sample ({tokens[0]}): the images are no larger than the smallest cap", None, vary)
    prior = level_prior(bench.samples, lambda s: True)
    testable, why = A.is_testable(levels[0], prior, f"{vary}={budgets[0]}")
    return _entry("F2", fixed, levels, effect, mde, testable, why, note, vary)


def f3_plan(index: CatalogIndex, spreads: Sequence[int], n_images: int, totals: Sequence[int]) -> tuple[list[int], list[int]]:
    """(spreads, totals) of the fixed-total design: the widest range of spreads (from 1) whose common totals
    are at least two (the answer then is no constant a prior could guess), else at least one."""
    from mimic_vlm.compose.counting import reachable_categories

    def common(ss: Sequence[int]) -> list[int]:
        out = []
        for t in totals:
            cats = [set(reachable_categories(index, s, n_images - s, t)) for s in ss]
            if all(cats) and set.intersection(*cats):
                out.append(t)
        return out

    usable = [s for s in spreads if s <= n_images]
    for need in (2, 1):
        for k in range(len(usable), 1, -1):
            found = common(usable[:k])
            if len(found) >= need:
                return usable[:k], found
    raise MimicError(f"F3: no total of {','.join(map(str, totals))} is reachable at spreads 1 and 2 with "
                     f"n_images={n_images} in this data")


def f3(ctx: StudyRun) -> dict[str, Any]:
    """Fixed totals and categories over spreads, the number of images fixed (independent samples per level)."""
    p = ctx.profile
    spreads, totals = f3_plan(ctx.index, p.f3_spreads, p.f3_images, p.f3_totals)
    per_total = math.ceil(ctx.count / len(totals))

    def make() -> list[Sample]:
        return [s for t in totals for s in fixed_total_samples(ctx.index, spreads, p.f3_images, t, per_total, ctx.seed)]

    bench = ctx.bench("F3", ctx.design("F3", spreads=spreads, totals=totals, n_images=p.f3_images), make)
    rows = ctx.evaluate(bench, "F3")
    obs = observations(bench, rows, lambda s: s.controls["spread"], unit=lambda s: s.id)
    levels = A.levels_table(obs, spreads, ctx.replicates, ctx.seed, "F3")
    effect, mde = A.independent_effect(obs, spreads, ctx.replicates, ctx.seed, "F3")
    prior = level_prior(bench.samples, lambda s: s.controls["spread"] == spreads[0])
    testable, why = A.is_testable(levels[0], prior, f"spread={spreads[0]}")
    dropped = [s for s in p.f3_spreads if s not in spreads]
    note = (f"spreads {','.join(map(str, dropped))} left out: the data reaches no total common to them"
            if dropped else None)
    fixed = {"task": "counting", "n_images": p.f3_images, "totals": totals,
             "category": "cycled evenly, the same mix at every spread"}
    return _entry("F3", fixed, levels, effect, mde, testable, why, note)


def f5(ctx: StudyRun) -> dict[str, Any]:
    """The same image sets asked about 1..k concepts (counting categories; listing supercategories)."""
    p = ctx.profile
    ks = list(p.f5_concepts)
    members: dict[str, list[str]] = {}
    for c, info in ctx.catalog.vocabulary().items():
        members.setdefault(str(info["supercategory"]), []).append(c)
    listed = [k for k in ks if k <= len(members)]

    def make() -> list[Sample]:
        out = []
        for task, levels in (("counting", ks), ("listing", listed)):
            if len(levels) < 2:
                continue
            bases = compose_task(ctx.index, task, ctx.count,
                                 Controls.parse(n_images=p.f5_images, concepts=max(levels)), ctx.seed)
            out += [v for b in bases for v in concept_levels(b, levels, members)]
        return out

    bench = ctx.bench("F5", ctx.design("F5", n_images=p.f5_images, concepts=ks), make)
    _, levels, effect, mde, testable, why = paired_by_control(ctx, bench, "F5", "concepts", ks)
    note = None if listed == ks else (f"listing asks about at most {len(members)} supercategories here, so its "
                                      f"samples enter the levels up to {max(listed, default=0)} only")
    fixed = {"tasks": "counting, listing", "n_images": p.f5_images, "images": "the same at every level"}
    return _entry("F5", fixed, levels, effect, mde, testable, why, note)


def f6(ctx: StudyRun) -> dict[str, Any]:
    """The attention probe on F1's multi-image samples: the share of vision-token attention to other images
    by layer, and its slope over depth."""
    from mimic_vlm.models.hf import HFModel
    from mimic_vlm.probe.attention import probe_bench

    p = ctx.profile
    fixed = {"samples": p.f6_samples, "images": f"{min(p.f1_totals)}-{max(p.f1_totals)} (F1's variants)"}
    if not ctx.can.transformers:
        return untestable("F6", f"--model {ctx.model}: attention is probed in transformers models only", fixed)
    f1(ctx)
    _, bench, _ = ctx._done["F1"]
    ids = [s.id for s in bench.samples][: p.f6_samples]
    path = ctx.out / "attention" / "F6.json"
    settings = {"model": ctx.model, "bench": bench.manifest_hash, "ids": ids, "options": _recorded(ctx.options)}
    result = read_json(path) if path.is_file() else None
    if not isinstance(result, dict) or result.get("settings") != settings:
        options = dict(ctx.options)
        if options.get("mask") is not None:  # the probe measures masked layers through the eager backend
            from mimic_vlm.masking import mask_from_options

            options["mask"] = mask_from_options(str(options["mask"].layers), "eager")
        from mimic_vlm.models.registry import load_model

        hf = load_model(ctx.model, bench=bench, **{**options, "dtype": "float32"})
        if not isinstance(hf, HFModel):
            return untestable("F6", f"--model {ctx.model}: not a transformers model", fixed)
        result = {**probe_bench(hf, bench, ids=ids, n_boot=ctx.replicates, progress=ctx.progress, keep=True),
                  "settings": settings}
        write_json_atomic(path, result)
    shares = result["per_sample"]["vision.other"]
    levels, effect, mde = A.depth_trend(shares, ctx.replicates, ctx.seed, "F6")
    if len(levels) < 2:
        return untestable("F6", "the model has fewer than two text layers", fixed)
    return _entry("F6", fixed, levels, effect, mde, True, None)


def f6_interest(entry: dict[str, Any]) -> float:
    """The slope the paper implies: the early share halves over the depth of the model."""
    levels = entry["levels"]
    if len(levels) < 2 or levels[0]["metric"] is None:
        return EFFECT_OF_INTEREST
    return abs(levels[0]["metric"]) / 2 / (len(levels) - 1)


def f7(ctx: StudyRun) -> dict[str, Any]:
    """Each sample and its packed copy (target images side by side in one image), paired on the sample."""
    from mimic_vlm.bench.paired import write_packed_pairs

    p = ctx.profile

    def make() -> list[Sample]:
        return compose_task(ctx.index, "counting", ctx.count,
                            Controls.parse(n_images=p.f7_images, spread=p.f7_images), ctx.seed)

    base = ctx.bench("F7-base", ctx.design("F7", n_images=p.f7_images), make)
    path = ctx.out / "benches" / "F7"
    recorded = read_json(path / "manifest.json").get("packed_from", {}) if (path / "manifest.json").is_file() else {}
    if recorded.get("manifest_hash") != base.manifest_hash:
        write_packed_pairs(base.root, path, overwrite=True)
    bench = load_bench(path)
    rows = ctx.evaluate(bench, "F7")
    obs = observations(bench, rows, lambda s: bool(s.controls["packed"]))
    levels = A.levels_table(obs, [False, True], ctx.replicates, ctx.seed, "F7")
    effect, mde = A.paired_effect(obs, False, True, ctx.replicates, ctx.seed, "F7")
    prior = level_prior(bench.samples, lambda s: not s.controls["packed"])
    testable, why = A.is_testable(levels[0], prior, "unpacked")
    note = _tokens_note(levels, "level (unpacked, packed)")
    t = [lv["vision_tokens"] for lv in levels]
    if t[0] is not None and t[0] == t[1]:
        note += ": packing did not shorten the vision-token sequence, so this tests fewer images only"
    fixed = {"task": "counting", "n_images": p.f7_images, "spread": p.f7_images, "content": "the same images"}
    return _entry("F7", fixed, levels, effect, mde, testable, why, note)


DESIGNS: dict[str, Callable[[StudyRun], dict[str, Any]]] = {
    "F1": f1, "F2": f2, "F3": f3, "F4": f4, "F5": f5, "F6": f6, "F7": f7}


# ---------------------------------------------------------------- the request


def _recorded(options: dict[str, Any]) -> dict[str, Any]:
    """Model options as JSON (the mask as its layers and backend)."""
    out = {}
    for k, v in sorted(options.items()):
        if k == "mask":
            v = None if v is None else {"layers": str(v.layers), "backend": v.backend}
        out[k] = v
    return out


def parse_findings(text: str | Sequence[str] | None) -> list[str]:
    """'F1,F3' -> ['F1', 'F3'] (in F order); None or 'all' -> every finding."""
    if text is None or text == "all":
        return list(FINDINGS)
    names = [t.strip().upper() for t in (text.split(",") if isinstance(text, str) else text)]
    unknown = [n for n in names if n not in FINDINGS]
    if unknown or not names or "" in names:
        raise MimicError(f"--findings {text!r}: expected some of {', '.join(FINDINGS)} (comma-separated)")
    return [f for f in FINDINGS if f in names]


def check_settings(out: Path, settings: dict[str, Any], overwrite: bool) -> bool:
    """True when the folder holds a study of other settings (allowed with `overwrite`, refused without)."""
    from mimic_vlm.evaluate.runner import diff

    path = out / SETTINGS_JSON
    if not path.is_file():
        return False
    changes = diff(read_json(path), settings)
    if changes and not overwrite:
        raise MimicError(f"{out}: holds a study made with other settings ({'; '.join(changes[:3])}); use --overwrite "
                         "to redo it or choose another --out")
    return bool(changes)


def study(model: str, out: str | Path, *, findings: str | Sequence[str] | None = None, count: int | None = None,
          profile: str = "quick", source: Source | None = None, model_options: dict[str, Any] | None = None, seed: int = 0,
          overwrite: bool = False, replicates: int = 1000, progress: Progress | None = None) -> dict[str, Any]:
    """Run the designs of `findings` on `model` into `out` and write study.json, study.md and the figures;
    returns study.json's content. `source` is a `bench.generate.Source` (default: the toy world of the
    model's preset, rendered into OUT); `model_options` are `load_model`'s (dtype, device, mask, adapter,
    max_pixels, image_size, batch_size)."""
    from mimic_vlm.annotations.toyworld import ensure_toy_world, get_preset
    from mimic_vlm.bench.generate import Source
    from mimic_vlm.study.report import write_outputs

    if profile not in PROFILES:
        raise MimicError(f"--profile {profile!r}: expected one of {', '.join(PROFILES)}")
    chosen = parse_findings(findings)
    prof = PROFILES[profile]
    count = prof.count if count is None else count
    if count < 2:
        raise MimicError(f"--count {count}: a study needs at least 2 base samples per design")
    can = kind_of(model)
    options = dict(model_options or {})
    if options.get("mask") is not None and not can.mask:
        raise MimicError(f"--mask-layers: --model {model} takes no attention mask")
    if options.get("adapter") and not can.adapter:
        raise MimicError(f"--adapter: --model {model} takes no adapter")
    out = Path(out)
    check_study_folder(out, STUDY_FILES, "mimic study")
    source = source or Source()
    default_world = source.source == "toy" and source.annotations is None
    preset = model_world(model) if default_world else None
    if preset is not None:
        get_preset(preset, f"{WORLD_RECORD} of {model}")
    settings = {"model": model, "profile": profile, "count": count, "seed": seed, "source": source.source,
                "annotations": None if default_world else str(source.annotations),
                "images_dir": None if source.images_dir is None else str(source.images_dir),
                "world": {"preset": preset, "images": prof.world_images, "seed": WORLD_SEED} if default_world else None,
                "model_options": _recorded(options)}
    previous = read_json(out / SETTINGS_JSON) if (out / SETTINGS_JSON).is_file() else None
    check_settings(out, settings, overwrite)
    if default_world:
        world = out / "toy-world"
        if isinstance(previous, dict) and previous.get("world") != settings["world"] and world.exists():
            import shutil

            shutil.rmtree(world)  # another preset or size: rendered again (--overwrite was given)
        annotations = ensure_toy_world(world, prof.world_images, WORLD_SEED, preset=preset or DEFAULT_PRESET)
        source = replace(source, annotations=annotations, images_dir=annotations.parent / "images")
    catalog = source.catalog()
    write_json_atomic(out / SETTINGS_JSON, settings)
    ctx = StudyRun(model, out, catalog, prof, count, seed, options, overwrite, progress, replicates, can)
    entries = [DESIGNS[f](ctx) for f in chosen]
    interest = {e["id"]: f6_interest(e) for e in entries if e["id"] == "F6"}
    record = A.study_record(model, profile, A.with_verdicts(entries, FINDINGS, interest))
    write_outputs(out, record)
    return record
