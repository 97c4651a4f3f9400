"""The paper's findings F1-F7 as experiments (`reference/study.md`), and the two profiles that size them.

Each finding says what varies, what the paper claims (the sign of the effect on its side), and which level is
the design's base (where the model must be well above the answer prior for the finding to be testable).
The paper publishes no per-finding numbers; `EFFECT_OF_INTEREST` (10 accuracy points) stands for "the effect
the paper implies": an interval wider than it, holding 0, can neither confirm nor rule the claim out.
"""

from __future__ import annotations

from dataclasses import dataclass

EFFECT_OF_INTEREST = 0.10
"""Accuracy difference the findings are sized for (the paper reports drops of 20+ points; 10 is conservative)."""
PRIOR_MARGIN = 0.10
"""Testable: the model's base-level score is this far above the answer prior, and its interval clears it."""


@dataclass(frozen=True)
class Finding:
    id: str
    claim: str
    vary: str
    metric: str
    direction: int
    """The sign of the effect (as `effect` defines it) on the paper's side."""
    effect: str
    """What the effect is, in words."""
    paired: bool


FINDINGS: dict[str, Finding] = {f.id: f for f in (
    Finding("F1", "accuracy falls as the number of images grows", "n_images", "counting accuracy", -1,
            "accuracy at the most images minus at the fewest, paired on the base sample", True),
    Finding("F2", "the fall is driven by sequence length: fewer vision tokens per image help", "max_pixels",  # or pooling
            "counting accuracy", 1, "accuracy at the smallest token budget minus at the largest, paired on the sample",
            True),
    Finding("F3", "spreading the same instances over more images hurts", "spread", "counting accuracy", -1,
            "accuracy at the widest spread minus at spread 1 (same totals, categories and number of images)",
            False),
    Finding("F4", "distractor images hurt more when the target is spread", "spread x n_images",
            "distractor cost (accuracy at the most images minus at the fewest)", -1,
            "distractor cost at spread 2 minus at spread 1", True),
    Finding("F5", "more query concepts at once hurt", "concepts", "exact answer (counting, listing)", -1,
            "accuracy at the most concepts minus at one, paired on the image set", True),
    Finding("F6", "inter-image attention is strong early and fades in deeper layers", "layer",
            "share of vision-token attention to other images", -1,
            "mean per-sample least-squares slope of the share over layers (per layer)", True),
    Finding("F7", "the same information in fewer images helps", "packed", "counting accuracy", 1,
            "accuracy packed minus unpacked, paired on the sample", True),
)}


@dataclass(frozen=True)
class Profile:
    name: str
    count: int
    """Base samples per design (default of --count)."""
    world_images: int
    """Scenes of the default toy world."""
    f1_totals: tuple[int, ...]
    f1_spread: str
    f2_images: str
    f2_pixels: tuple[int, ...]
    """Pixel caps, largest first (Qwen-style: 224² = 64, 168² = 36, 112² = 16, 84² = 9 tokens per image)."""
    f3_spreads: tuple[int, ...]
    f3_images: int
    f3_totals: tuple[int, ...]
    f5_images: str
    f5_concepts: tuple[int, ...]
    f6_samples: int
    f7_images: int


PROFILES: dict[str, Profile] = {p.name: p for p in (
    Profile("quick", count=200, world_images=600, f1_totals=(2, 4, 6, 8), f1_spread="1-2", f2_images="2-3",
            f2_pixels=(224 * 224, 168 * 168, 112 * 112, 84 * 84), f3_spreads=(1, 2, 3, 4), f3_images=4,
            f3_totals=(2, 3, 4, 5, 6), f5_images="2-3", f5_concepts=(1, 2, 3), f6_samples=40, f7_images=2),
    Profile("paper", count=500, world_images=3000, f1_totals=(2, 4, 6, 8, 10), f1_spread="1-2", f2_images="2-4",
            f2_pixels=(448 * 448, 336 * 336, 224 * 224, 168 * 168, 112 * 112), f3_spreads=(1, 2, 3, 4),
            f3_images=4, f3_totals=(4, 5, 6, 7, 8), f5_images="2-4", f5_concepts=(1, 2, 3), f6_samples=100,
            f7_images=2),
    # long-context models (the seed's "beyond 10-image sequences"): 16-64 images a sample, the tokens recorded
    Profile("long", count=200, world_images=5000, f1_totals=(16, 32, 48, 64), f1_spread="1-2", f2_images="8-16",
            f2_pixels=(448 * 448, 224 * 224, 112 * 112), f3_spreads=(1, 2, 4, 8), f3_images=16,
            f3_totals=(8, 9, 10, 11, 12), f5_images="16", f5_concepts=(1, 2, 3), f6_samples=30, f7_images=2),
)}
