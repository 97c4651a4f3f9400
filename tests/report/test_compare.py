"""Paired comparisons: exact counts, exact McNemar p-values against hand computations, the paired bootstrap,
`mimic compare` end to end and its refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from report_files import right, write_test_bench

from mimic_vlm.cli import main
from mimic_vlm.errors import MimicError
from mimic_vlm.evaluate.compare import compare_rows, counts, mcnemar_exact
from mimic_vlm.report.compare import compare_pairs, compare_runs, compare_section
from mimic_vlm.report.runs import load_run, load_runs

# A right on counting 0-4, B right on 2-8: both right {2,3,4}, fixed {5,6,7,8}, broken {0,1}, both wrong {9}.
A_RIGHT, B_RIGHT = range(0, 5), range(2, 9)


def _run(args: list[str]) -> int:
    with pytest.raises(SystemExit) as e:
        main(args)
        raise SystemExit(0)
    return e.value.code


def test_mcnemar_exact_by_hand():
    # 6 discordant pairs split 4/2: 2 * (C(6,0) + C(6,1) + C(6,2)) / 2^6 = 2 * 22 / 64
    assert mcnemar_exact(4, 2) == 44 / 64 == mcnemar_exact(2, 4)
    # 10 vs 2: 2 * (1 + 12 + 66) / 4096
    assert mcnemar_exact(10, 2) == 158 / 4096
    assert mcnemar_exact(3, 0) == 2 / 8
    assert mcnemar_exact(0, 0) == 1.0 and mcnemar_exact(5, 5) == 1.0  # capped at 1
    assert mcnemar_exact(40, 0) == 2 / 2**40  # exact far in the tail, no normal approximation


def test_counts():
    a = [{"correct": v} for v in (True, True, False, False, None)]
    b = [{"correct": v} for v in (True, False, True, False, True)]
    assert counts(a, b, "correct") == {"fixed": 2, "broken": 1, "both_right": 1, "both_wrong": 1}


def test_compare_runs_exact(bench, make_run):
    a = make_run(bench, "a", {**right(A_RIGHT), "listing-000": "car, dog", "listing-001": "car"})
    b = make_run(bench, "b", {**right(B_RIGHT), "listing-000": "car", "listing-001": "car, dog"})
    r = compare_runs(load_run(a), load_run(b), replicates=500)
    assert (r["a"], r["b"], r["n_shared"], r["only_a"], r["only_b"]) == ("a", "b", 12, 0, 0)
    c = r["tasks"]["counting"]
    assert c["headline"] == "correct" and c["verdict"] == "correct"
    e = c["all"]
    assert (e["n"], e["fixed"], e["broken"], e["both_right"], e["both_wrong"]) == (10, 4, 2, 3, 1)
    assert e["a"] == 0.5 and e["b"] == 0.7 and e["diff"] == pytest.approx(0.2)
    assert e["mcnemar_p"] == 44 / 64
    assert e["ci"][0] < 0.2 < e["ci"][1]
    two, four = c["by_control"]["n_images"]["2"], c["by_control"]["n_images"]["4"]
    assert (two["n"], two["fixed"], two["broken"], two["both_right"], two["both_wrong"]) == (6, 1, 2, 3, 0)
    assert two["mcnemar_p"] == 1.0  # 2 * (1 + 3) / 8, capped
    assert (four["n"], four["fixed"], four["broken"], four["both_right"], four["both_wrong"]) == (4, 3, 0, 0, 1)
    assert four["mcnemar_p"] == 0.25 and four["diff"] == pytest.approx(0.75)
    assert set(c["by_control"]) == {"n_images", "spread"}
    listing = r["tasks"]["listing"]
    assert listing["headline"] == "micro_f1" and listing["verdict"] == "exact"
    assert (listing["all"]["fixed"], listing["all"]["broken"]) == (1, 1)
    # micro F1: A has tp 3 of n_pred 3, n_gt 4 -> 6/7; B the same by symmetry -> difference 0
    assert listing["all"]["a"] == pytest.approx(6 / 7) and listing["all"]["diff"] == pytest.approx(0.0)
    m = r["mimic_score"]
    assert m["tasks"] == ["counting", "listing"] and m["diff"] == pytest.approx(0.1)


def test_paired_interval_of_identical_runs_is_zero(bench, make_run):
    a = make_run(bench, "a", right(A_RIGHT))
    b = make_run(bench, "b", right(A_RIGHT))
    e = compare_runs(load_run(a), load_run(b), replicates=200)["tasks"]["counting"]["all"]
    assert e["diff"] == 0.0 and e["ci"] == [0.0, 0.0] and e["mcnemar_p"] == 1.0
    assert (e["fixed"], e["broken"]) == (0, 0)


def test_paired_interval_is_narrower_than_unpaired():
    """B = A plus one fixed sample on 200: the paired interval sees one discordant pair, the marginal
    intervals (each ~ +-0.07) overlap almost entirely."""
    a = [{"id": str(i), "task": "counting", "correct": i % 2 == 0} for i in range(200)]
    b = [dict(r, correct=r["correct"] or r["id"] == "1") for r in a]
    e = compare_rows(a, b, replicates=1000)["tasks"]["counting"]["all"]
    assert e["diff"] == pytest.approx(0.005) and (e["fixed"], e["broken"]) == (1, 0)
    assert 0.0 <= e["ci"][0] and e["ci"][1] <= 0.02


def test_compare_rows_is_seeded():
    a = [{"id": str(i), "task": "counting", "correct": i % 3 == 0} for i in range(60)]
    b = [{"id": str(i), "task": "counting", "correct": i % 2 == 0} for i in range(60)]
    assert compare_rows(a, b, seed=3) == compare_rows(a, b, seed=3)
    assert compare_rows(a, b, seed=3)["tasks"]["counting"]["all"]["ci"] != \
        compare_rows(a, b, seed=4)["tasks"]["counting"]["all"]["ci"]


def test_compare_cli(bench, make_run, tmp_path, capsys):
    a = make_run(bench, "a", right(A_RIGHT))
    b = make_run(bench, "b", right(B_RIGHT))
    out = tmp_path / "cmp"
    assert _run(["compare", str(a), str(b), "--out", str(out), "--bootstrap", "200"]) == 0
    text = capsys.readouterr().out
    assert "B = b vs A = a" in text and "McNemar p" in text
    [result] = json.loads((out / "compare.json").read_text())
    assert result["tasks"]["counting"]["all"]["fixed"] == 4
    md = (out / "compare.md").read_text()
    assert "| counting | all | 10 | accuracy | 0.500 | 0.700 | +0.200 [" in md
    assert "| 4 | 2 | 3 | 1 | 0.688 |" in md
    assert "| counting | n_images=4 | 4 |" in md and "| listing | all | 2 |" in md
    assert "| listing | n_images=2 |" not in md  # listing has one n_images value: the row would repeat "all"
    assert _run(["compare", str(a), str(b), "--out", str(out)]) == 2  # exists


def test_compare_refuses_other_benches(tmp_path, make_run, capsys):
    from mimic_vlm.store import load_bench

    one = load_bench(write_test_bench(tmp_path / "one", seed=0))
    other = load_bench(write_test_bench(tmp_path / "two", n_counting=8, seed=1))
    a, b = make_run(one, "a", right(A_RIGHT)), make_run(other, "b", right(B_RIGHT))
    assert _run(["compare", str(a), str(b)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "different benches" in err and "--shared-ids" in err
    with pytest.raises(MimicError, match="different benches"):
        compare_runs(load_run(a), load_run(b))
    r = compare_runs(load_run(a), load_run(b), shared_ids=True)
    assert (r["n_shared"], r["only_a"], r["only_b"]) == (10, 2, 0)
    e = r["tasks"]["counting"]["all"]
    assert e["n"] == 8 and (e["fixed"], e["broken"], e["both_right"], e["both_wrong"]) == (3, 2, 3, 0)


def test_compare_needs_predictions_and_two_runs(bench, make_run, capsys):
    a = make_run(bench, "a", right(A_RIGHT))
    assert _run(["compare", str(a)]) == 2
    assert "at least two run folders" in capsys.readouterr().err
    (Path(a) / "predictions.jsonl").unlink()
    b = make_run(bench, "b", right(B_RIGHT))
    assert _run(["compare", str(a), str(b)]) == 2
    assert "no predictions.jsonl" in capsys.readouterr().err


def test_report_pairs_fine_tuned_with_base_else_first_with_others(bench, make_run):
    base = make_run(bench, "base", right(A_RIGHT), model="m")
    other = make_run(bench, "other", right(B_RIGHT), model="z")
    tuned = make_run(bench, "tuned", right(B_RIGHT), model="m", adapter="/ckpt/lora")
    runs = load_runs([other, base, tuned])
    assert [(a.name, b.name) for a, b in compare_pairs(runs)] == [("base", "tuned")]
    assert [(a.name, b.name) for a, b in compare_pairs(runs[:2])] == [("other", "base")]
    section = compare_section(runs)
    assert section is not None and section.title == "Paired comparisons"
    table = section.blocks[2]
    assert table.rows[1][:3] == ["counting", "all", "10"] and table.rows[1][7:] == ["4", "2", "3", "1", "0.688"]
    assert compare_section(runs[:1]) is None


def test_compare_pairs_a_bench_with_its_packed_copy(bench, make_run, tmp_path, capsys):
    """Issue 25: a bench and its packed copy hold the same samples under the same ids (packed variants), so
    compare pairs them without --shared-ids and says so."""
    from mimic_vlm.bench.pack import pack_bench
    from mimic_vlm.store import load_bench

    packed = load_bench(pack_bench(bench.root, tmp_path / "packed"))
    a, b = make_run(bench, "a", right(A_RIGHT)), make_run(packed, "b", right(B_RIGHT))
    r = compare_runs(load_run(a), load_run(b))
    assert r["n_shared"] == len(bench.samples) and "packed copy" in r["variants"]
    assert (r["tasks"]["counting"]["all"]["fixed"], r["tasks"]["counting"]["all"]["broken"]) == (4, 2)
    assert _run(["compare", str(a), str(b)]) == 0
    assert "packed copy" in capsys.readouterr().err
