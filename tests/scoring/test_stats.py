"""The design statistics (`evaluate/stats.py`) against hand-computed values: McNemar, Holm, Cochran-Armitage,
sign-flip p-values, the smallest detectable effect; and the intervals that must widen where units are not
independent (seeds that disagree, samples that share source images)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mimic_vlm.evaluate.stats import (
    cochran_armitage,
    holm,
    mcnemar_exact,
    min_detectable_effect,
    paired_difference,
    paired_trend,
    pooled_bootstrap,
    sign_flip_p,
    two_level_bootstrap,
)


def test_mcnemar_exact_small_tables() -> None:
    assert mcnemar_exact(1, 5) == 2 * (1 + 6) / 64  # 2 * (C(6,0) + C(6,1)) / 2^6
    assert mcnemar_exact(0, 4) == 2 / 16 and mcnemar_exact(2, 2) == 1.0


def test_holm_on_a_known_vector() -> None:
    # sorted 0.01, 0.03, 0.04 times 3, 2, 1 -> 0.03, 0.06, 0.04 -> monotone 0.03, 0.06, 0.06
    assert holm([0.01, 0.04, 0.03, None]) == pytest.approx([0.03, 0.06, 0.06, None])
    assert holm([0.5, 0.9]) == [1.0, 1.0] and holm([]) == []


def test_cochran_armitage_equals_the_chi_square_of_a_two_by_two_table() -> None:
    z, p = cochran_armitage([0, 1], [5, 10], [10, 10])
    assert z == pytest.approx(2.5 / math.sqrt(0.9375))  # T = 2.5, var = 0.75 * 0.25 * 5
    assert z * z == pytest.approx(20 * (5 * 0 - 5 * 10) ** 2 / (10 * 10 * 15 * 5))  # Pearson chi-square
    assert p == pytest.approx(math.erfc(z / math.sqrt(2)))
    assert cochran_armitage([1, 2, 3], [4, 4, 4], [8, 8, 8]) == (0.0, 1.0)  # flat
    assert cochran_armitage([1, 2, 3], [6, 4, 2], [8, 8, 8])[0] < 0  # falling


def test_sign_flip_is_exact_for_few_units() -> None:
    assert sign_flip_p(np.array([1.0, 1.0, 1.0])) == 2 / 8  # only all-plus and all-minus are as extreme
    assert sign_flip_p(np.array([1.0, -1.0])) == 1.0
    assert sign_flip_p(np.zeros(5)) == 1.0


def test_paired_trend_of_a_perfect_line() -> None:
    est, p, reps = paired_trend([0, 1, 2], [[0, 1, 2]] * 5)
    assert est.value == 1.0 and est.ci == (1.0, 1.0) and est.n == 5 and len(reps) == 1000
    assert p == 2 / 32
    est, p, _ = paired_trend([2, 4, 6, 8], [[1, 1, 0, 0], [1, 0, 1, 0]])  # slopes -1/5 and -1/10 per image
    assert est.value == pytest.approx(-0.15)


def test_paired_difference_and_its_seeded_interval() -> None:
    a = [1, 1, 1, 0, 1, 0, 1, 1] * 10
    b = [0, 1, 0, 0, 1, 0, 1, 0] * 10
    est, reps = paired_difference(a, b, 500, seed=3, key="x")
    assert est.value == pytest.approx(-0.375) and est.n == 80  # 3 of 8 broken and len(reps) == 500
    assert est.ci is not None and est.ci[0] < -0.375 < est.ci[1] < 0
    again, _ = paired_difference(a, b, 500, seed=3, key="x")
    assert again == est


def test_clusters_widen_the_interval_when_samples_share_images() -> None:
    """40 samples over 4 image sets whose effect differs by set: resampling sets is honest, samples is not."""
    rng = np.random.default_rng(0)
    labels = np.repeat(["s0", "s1", "s2", "s3"], 10)
    effect = np.repeat([0.0, 0.5, -0.4, 0.3], 10) + rng.normal(0, 0.05, 40)
    units, _ = paired_difference(np.zeros(40), effect, 2000, seed=1)
    clustered, _ = paired_difference(np.zeros(40), effect, 2000, seed=1, clusters=labels)
    assert units.value == clustered.value
    assert units.ci is not None and clustered.ci is not None
    assert clustered.ci[1] - clustered.ci[0] > 3 * (units.ci[1] - units.ci[0])


def test_two_level_interval_is_wider_than_the_pooled_one_when_seeds_disagree() -> None:
    rng = np.random.default_rng(0)
    per_seed = np.array([0.02, 0.10, -0.04])[:, None] + rng.normal(0, 0.3, (3, 360))  # seed effects differ
    two, _ = two_level_bootstrap(per_seed, 2000, seed=0)
    pooled = pooled_bootstrap(per_seed, 2000, seed=0)
    assert two.value == pytest.approx(pooled.value) and two.n == 360
    assert two.ci is not None and pooled.ci is not None
    assert two.ci[1] - two.ci[0] > 1.5 * (pooled.ci[1] - pooled.ci[0])
    one, _ = two_level_bootstrap(per_seed[:1], 500, seed=0)  # one seed: the unit bootstrap
    assert one.value == pytest.approx(per_seed[0].mean())


def test_min_detectable_effect() -> None:
    assert min_detectable_effect(0.5, 100) == pytest.approx((1.959964 + 0.841621) * 0.05, abs=1e-5)
    assert min_detectable_effect(0.5, 400) == pytest.approx(min_detectable_effect(0.5, 100) / 2)
    assert min_detectable_effect(0.5, 1) is None


def test_independent_difference() -> None:
    from mimic_vlm.evaluate.stats import independent_difference

    est, reps = independent_difference([1, 0, 1, 1], [0, 0, 1, 0, 0, 0], 300, seed=2)
    assert est.value == pytest.approx(1 / 6 - 3 / 4) and est.n == 4 and len(reps) == 300
    assert est.ci is not None and est.ci[0] < est.value < est.ci[1]


def test_bootstrap_p() -> None:
    from mimic_vlm.evaluate.stats import bootstrap_p

    assert bootstrap_p(np.array([0.1, 0.2, -0.1, 0.3])) == 0.5  # one of four on the far side, twice
    assert bootstrap_p(np.array([0.1, 0.2])) == 1.0  # never 0: at least one replicate's worth
    assert bootstrap_p(np.array([np.nan])) is None
