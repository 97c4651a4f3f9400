"""Controls: the knobs that shape a sample, parsed once and drawn per sample.

Each integer control is a value ("5"), a range ("2-6") or a list ("2,4,8"); every sample draws one value
from it. What the four image controls mean per task (the answer's *holders* are the images that hold a
target: a counted category, a member of the listed supercategory, or an answer category):

| task     | spread                               | distractors              | concepts                  |
|----------|--------------------------------------|--------------------------|---------------------------|
| counting | images holding a counted category    | images holding none      | categories counted (sum)  |
| listing  | images holding a listed member       | images holding none      | supercategories listed    |
| common   | n_images (the answer is in every one)| 0                        | = answers                 |
| odd_one  | answers (each odd category has its own image) | n_images - answers | = answers             |

(each task's rules: `tasks/`)

so `spread + distractors == n_images` always holds. `answers` is the number of categories common/odd_one
name; `balance` is `uniform` (flat answers: counting draws the answer first, evenly over every total the
allowed controls reach, so its spread follows; the other tasks draw their target or answer categories
evenly) or `natural` (the data's own distribution, controls drawn evenly). `blank_images` (off by default)
lets common / odd_one samples hold images without any object: off, every image of such a sample holds one,
since a blank image makes the task vacuous (an odd_one "every other category is in two images" holds for free
when the others are blank); counting and listing keep blank images as distractors either way. `target_position`
(`first`, `middle`, `last` or `any`; unset by default) moves the target-holding images to that place in the
sequence and records, per sample, the mode and the 1-based positions they hold (`target_positions`), so a
report shows whether evidence in the middle of a long sequence is lost more often ("lost in the middle").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from mimic_vlm.compose.base import Stream
from mimic_vlm.errors import MimicError
from mimic_vlm.ranges import ReversedRange, parse_int_list
from mimic_vlm.tasks import MIMIC
from mimic_vlm.tasks.base import fmt_choice as _fmt

MAX_IMAGES = 64
BALANCES = ("uniform", "natural")
TARGET_POSITIONS = ("first", "middle", "last", "any")
Choice = tuple[int, ...]
Layouts = dict[int, list[tuple[int, int]]]
T = TypeVar("T")


def parse_choice(name: str, text: str | int | None) -> Choice | None:
    """'5' -> (5,), '2-4' -> (2, 3, 4), '2,4,8' -> (2, 4, 8); None stays None (the control is derived)."""
    if text is None:
        return None
    text = str(text).strip()
    try:
        values = parse_int_list(text)
    except ReversedRange as e:
        raise MimicError(f"--{_flag(name)} {text}: {e}") from None
    except ValueError as e:
        raise MimicError(f"--{_flag(name)} {text!r}: {e}") from None
    if not values or min(values) < 0:
        raise MimicError(f"--{_flag(name)} {text}: values must be non-negative integers")
    return tuple(sorted(set(values)))


def given(name: str, text: str | int) -> Choice:
    """A control that always has values (images, concepts, answers)."""
    choice = parse_choice(name, text)
    if choice is None:
        raise MimicError(f"--{_flag(name)}: a value is required")
    return choice


def _flag(name: str) -> str:
    return name.replace("_", "-")


@dataclass(frozen=True)
class Controls:
    """What the user asked for; `None` means "derive it" (spread/distractors) or the task's default."""

    n_images: Choice = (2, 3, 4, 5, 6)
    spread: Choice | None = None
    distractors: Choice | None = None
    concepts: Choice = (1,)
    answers: Choice = (1,)
    balance: str = "uniform"
    target_position: str | None = None
    blank_images: bool = False
    """Allow images without any object in common / odd_one samples (recorded per sample of those tasks)."""

    @classmethod
    def parse(cls, n_images: str | int = "2-6", spread: str | int | None = None,
              distractors: str | int | None = None, concepts: str | int = 1, answers: str | int = 1,
              balance: str = "uniform", target_position: str | None = None, blank_images: bool = False) -> Controls:
        """Parse command-line style values and reject what can never be satisfied."""
        c = cls(n_images=given("n_images", n_images), spread=parse_choice("spread", spread),
                distractors=parse_choice("distractors", distractors), concepts=given("concepts", concepts),
                answers=given("answers", answers), balance=balance, target_position=target_position,
                blank_images=blank_images)
        if balance not in BALANCES:
            raise MimicError(f"--balance {balance!r}: expected one of {', '.join(BALANCES)}")
        if target_position is not None and target_position not in TARGET_POSITIONS:
            raise MimicError(f"--target-position {target_position!r}: expected one of {', '.join(TARGET_POSITIONS)}")
        if c.n_images[0] < 1 or c.n_images[-1] > MAX_IMAGES:
            raise MimicError(f"--n-images {n_images}: must lie within 1-{MAX_IMAGES}")
        if c.concepts[0] < 1:
            raise MimicError(f"--concepts {concepts}: must be at least 1")
        if c.answers[0] < 1:
            raise MimicError(f"--answers {answers}: must be at least 1")
        return c

    def to_dict(self) -> dict[str, object]:
        """The requested controls, as recorded in the manifest."""
        def fmt(v: Choice | None) -> str | None:
            return None if v is None else _fmt(v)
        out: dict[str, object] = {
            "n_images": fmt(self.n_images), "spread": fmt(self.spread), "distractors": fmt(self.distractors),
            "concepts": fmt(self.concepts), "answers": fmt(self.answers), "balance": self.balance}
        if self.target_position is not None:  # unset: the manifest stays as before
            out["target_position"] = self.target_position
        if self.blank_images:  # the default (no blank images in common / odd_one) keeps the manifest as before
            out["blank_images"] = True
        return out

    def layouts(self, task: str) -> Layouts:
        """n_images -> every (spread, distractors) this task can take with it under these controls.

        Raises a MimicError naming the contradictory control when there is none at all.
        """
        rules = MIMIC[task]
        problem = rules.layout_problem(self.n_images, self.answers)
        if problem:
            raise MimicError(problem)
        out: Layouts = {}
        for n in self.n_images:
            for s in range(0, n + 1):
                d = n - s
                if self.spread is not None and s not in self.spread:
                    continue
                if self.distractors is not None and d not in self.distractors:
                    continue
                if rules.layout_ok(n, s, self.answers):
                    out.setdefault(n, []).append((s, d))
        if not out:
            raise MimicError(self._why_no_layout(task))
        return out

    def _why_no_layout(self, task: str) -> str:
        n, s, d = self.n_images, self.spread, self.distractors
        if s is not None and s[0] > n[-1]:
            return f"spread={_fmt(s)} is larger than n_images={_fmt(n)}"
        if d is not None and d[0] > n[-1]:
            return f"distractors={_fmt(d)} is larger than n_images={_fmt(n)}"
        hint = MIMIC[task].layout_hint
        if hint:
            return hint.format(s=_fmt(s), d=_fmt(d), n=_fmt(n), a=_fmt(self.answers)) + _TASK_ALL_HINT
        if d is not None and d[0] >= n[-1]:
            return f"distractors={_fmt(d)} leaves no image for a target with n_images={_fmt(n)} (spread must be >= 1)"
        return f"spread={_fmt(s)} + distractors={_fmt(d)} never equals n_images={_fmt(n)}"

    def draw(self, task: str, layouts: Layouts, rng: Stream) -> dict[str, Any]:
        """One concrete draw: n_images uniformly, then spread among what that n allows, then concepts/answers."""
        n = _uniform(rng, list(layouts))
        s, d = _uniform(rng, layouts[n])
        drawn: dict[str, Any] = {"n_images": n, "spread": s, "distractors": d}
        drawn.update(_uniform(rng, MIMIC[task].draw_options(s, self.concepts, self.answers)))
        drawn["balance"] = self.balance
        if MIMIC[task].avoids_blank:
            drawn["blank_images"] = self.blank_images
        return drawn


_TASK_ALL_HINT = "; with --task all, generate counting/listing apart to give them --spread/--distractors"


def _uniform(rng: Stream, options: Sequence[T]) -> T:
    return options[int(rng.random() * len(options))] if len(options) > 1 else options[0]


def all_draws(controls: Controls, task: str, layouts: Layouts) -> list[dict[str, int]]:
    """Every concrete draw `Controls.draw` can return, so impossible ones are reported before composing."""
    rules = MIMIC[task]
    return [{"n_images": n, "spread": s, "distractors": d, **extra}
            for n, options in layouts.items() for s, d in options
            for extra in rules.draw_options(s, controls.concepts, controls.answers)]


def place_targets(order: list[int], holds: list[bool], mode: str) -> list[int]:
    """`order` (image slots) rearranged so the target-holding ones sit first, in the middle or last (`any`:
    unchanged); the others keep their relative order, and so do the holders. Middle = the holders as one block
    centred among the others (one more other before it when the split is uneven)."""
    if mode == "any":
        return list(order)
    targets = [i for i, h in zip(order, holds, strict=True) if h]
    others = [i for i, h in zip(order, holds, strict=True) if not h]
    if mode == "first":
        return targets + others
    if mode == "last":
        return others + targets
    half = (len(others) + 1) // 2
    return others[:half] + targets + others[half:]
