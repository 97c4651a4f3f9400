"""Metrics on imported benchmarks: an answer key scores 100%, a constant letter its expected rate,
consistency and circular accuracy count groups; the runner's oracle baseline scores 100% end to end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mimic_vlm.evaluate.metrics import summarize
from mimic_vlm.evaluate.stats import bootstrap_mean as estimate
from mimic_vlm.evaluate.tasks import get_task
from mimic_vlm.schema import Sample
from mimic_vlm.store import Bench, load_bench
from mimic_vlm.suites.importer import import_benchmark
from mimic_vlm.suites.metrics import benchmark_metrics, circular_accuracy, consistency

RELEASES = ["muirbench_release", "blink_release", "mmiu_release", "mirb_release", "mantis_release", "nlvr2_release"]
NAMES = dict(zip(RELEASES, ["muirbench", "blink", "mmiu", "mirb", "mantis-eval", "nlvr2"], strict=True))


def score_all(samples: list[Sample], reply: Any) -> list[dict[str, Any]]:
    """Rows as the runner writes them: the task's score of `reply(sample)` for every sample."""
    return [{"id": s.id, **get_task(s.task).score(s, reply(s), {}, False)} for s in samples]


def key_reply(s: Sample) -> str:
    """What a perfect model says: the letter, or the open answer in a sentence."""
    return f"The correct answer is ({s.answer})." if s.task == "mcq" else f"Final Answer: {s.answer}"


def imported(request: pytest.FixtureRequest, release: str, tmp_path: Path, **kw: Any) -> Bench:
    import_benchmark(NAMES[release], request.getfixturevalue(release), tmp_path / "b", **kw)
    return load_bench(tmp_path / "b")


@pytest.mark.parametrize("release", RELEASES)
def test_answer_key_scores_100_and_a_constant_letter_its_rate(release: str, request: pytest.FixtureRequest,
                                                              tmp_path: Path) -> None:
    bench = imported(request, release, tmp_path)
    key = summarize(bench.samples, score_all(bench.samples, key_reply), bootstrap=50)
    for task in key["tasks"].values():
        # an MMIU item whose gold letter lies outside the options can never be right
        # (its letter is not a valid choice, so the reply is unparsed)
        defective = sum("defects" in s.extra for s in bench.samples)
        assert task["metrics"]["correct"]["value"] == pytest.approx(1 - defective / task["n"])
        assert task["metrics"]["unparsed_rate"]["value"] == pytest.approx(defective / task["n"])
    mcq = [s for s in bench.samples if s.task == "mcq"]
    rows = score_all(mcq, lambda s: "A")
    assert benchmark_metrics(mcq, rows)["accuracy"].value == pytest.approx(
        sum(s.answer == "A" for s in mcq) / len(mcq))
    # per-category breakdowns come from the controls, unchanged
    by_control = summarize(mcq, rows, bootstrap=0)["tasks"]["mcq"]["by_control"]
    assert "n_images" in by_control


def test_consistency_needs_every_pair_of_a_sentence(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    bench = imported(request, "nlvr2_release", tmp_path)
    # always "True": right on the two True pairs, wrong on the two False ones -> no sentence consistent
    rows = score_all(bench.samples, lambda s: "True")
    m = benchmark_metrics(bench.samples, rows)
    assert (m["accuracy"].value, m["consistency"].value, m["consistency"].n) == (0.5, 0.0, 2)
    # right everywhere except one pair of sentence dev-11-0
    rows = score_all(bench.samples, lambda s: "False" if s.id == "nlvr2-dev-11-0-0" else s.options[ord(s.answer) - 65])
    assert consistency(bench.samples, rows).value == 0.5
    # a partial run leaves out the groups it has not finished
    assert consistency(bench.samples, rows[:3]).n == 1


def test_circular_accuracy_removes_letter_bias(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    bench = imported(request, "muirbench_release", tmp_path, circular_eval=True)
    always_a = score_all(bench.samples, lambda s: "A")
    assert benchmark_metrics(bench.samples, always_a)["accuracy"].value == pytest.approx(4 / 12)
    assert circular_accuracy(bench.samples, always_a).value == 0.0  # right once per item, never in all rotations
    key = score_all(bench.samples, key_reply)
    assert circular_accuracy(bench.samples, key).value == 1.0
    # wrong in one rotation of one item -> that item fails
    one_wrong = [dict(r, correct=0.0) if r["id"] == "muirbench-test_Ordering_0-rot2" else r for r in key]
    est = circular_accuracy(bench.samples, one_wrong)
    assert (est.value, est.n) == (0.75, 4)
    # accuracy per rotation (position bias) comes from the controls
    per_rotation = summarize(bench.samples, always_a, bootstrap=0)["tasks"]["mcq"]["by_control"]["rotation"]
    assert per_rotation["0"]["metrics"]["correct"]["value"] == 0.5  # gold A in 2 of the 4 original orders


def test_estimate_interval_is_seeded_and_brackets_the_mean() -> None:
    a = estimate([1, 0, 1, 1, 0, 1, 1, 1], replicates=500, seed=3)
    assert a == estimate([1, 0, 1, 1, 0, 1, 1, 1], replicates=500, seed=3)
    assert a.ci[0] <= a.value == 0.75 <= a.ci[1]
    assert estimate([]).value is None


def test_oracle_baseline_through_the_runner(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    from mimic_vlm.evaluate.runner import run_eval
    from mimic_vlm.models.registry import load_model

    for release in ("mirb_release", "mantis_release", "nlvr2_release"):
        bench = imported(request, release, tmp_path / release)
        scores = run_eval(bench, load_model("oracle"), tmp_path / release / "run")
        for task in scores["tasks"].values():
            assert task["metrics"]["correct"]["value"] == 1.0
