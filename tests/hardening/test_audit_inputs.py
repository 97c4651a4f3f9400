"""Bad input found by an audit, each with the one clear refusal (or warning) it now gets: `mimic score` outputs
that would destroy an input, garbage pickles, predictions of another bench, `--shared-ids` on benches that
share ids but not samples, re-exports, `--name` paths, corrupt images, empty list items."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hardening_helpers import rows, write_rows

from mimic_vlm.bench.export import check_name
from mimic_vlm.errors import MimicError
from mimic_vlm.evaluate.runner import select
from mimic_vlm.ranges import parse_int_list, parse_name_list
from mimic_vlm.schema import Sample


@pytest.fixture
def preds(bench_dir, tmp_path) -> Path:
    path = tmp_path / "p.jsonl"
    write_rows(path, [{"id": r["id"], "output": "3"} for r in rows(bench_dir / "samples.jsonl")])
    return path


def _score(cli, bench, predictions, *extra):
    return cli("score", bench, "--predictions", predictions, "--bootstrap", "10", *extra)


def _edited(bench: Path, to: Path, ids: set[str]) -> Path:
    """A copy of `bench` whose samples `ids` ask for another answer: other samples under the same ids."""
    shutil.copytree(bench, to)
    data = rows(to / "samples.jsonl")
    write_rows(to / "samples.jsonl", [{**r, "answer": 4, "gt": "4"} if r["id"] in ids else r for r in data])
    return to


# ---- 1. score --out / --scored


def test_score_refuses_to_write_over_its_predictions_even_with_overwrite(cli, bench_dir, preds):
    before = preds.read_bytes()
    for flag in ("--out", "--scored"):
        for extra in ((), ("--overwrite",)):
            _score(cli, bench_dir, preds, flag, preds, *extra).one_error_line(flag, str(preds), "--predictions")
    link = preds.with_name("link.jsonl")
    link.symlink_to(preds)
    _score(cli, bench_dir, link, "--out", preds, "--overwrite").one_error_line("--predictions")
    assert preds.read_bytes() == before


def test_score_refuses_any_file_in_the_bench_even_with_overwrite(cli, bench_dir, preds):
    samples = (bench_dir / "samples.jsonl").read_bytes()
    for target in (bench_dir / "samples.jsonl", bench_dir / "manifest.json", bench_dir / "new.json"):
        _score(cli, bench_dir, preds, "--out", target, "--overwrite").one_error_line(str(target), "bench folder")
    assert (bench_dir / "samples.jsonl").read_bytes() == samples and not (bench_dir / "new.json").exists()


def test_score_refuses_an_existing_file_without_overwrite(cli, bench_dir, preds, tmp_path):
    out, scored = tmp_path / "scores.json", tmp_path / "rows.jsonl"
    out.write_text("precious")
    _score(cli, bench_dir, preds, "--out", out).one_error_line(str(out), "--overwrite")
    assert out.read_text() == "precious" and not scored.exists()
    _score(cli, bench_dir, preds, "--out", out, "--scored", out).one_error_line("--scored", "--out")
    _score(cli, bench_dir, preds, "--out", out, "--overwrite").one_error_line(
        f"--out {out}: not a file mimic score wrote, so --overwrite does not replace it")
    assert out.read_text() == "precious"
    out.unlink()
    assert _score(cli, bench_dir, preds, "--out", out, "--scored", scored).code == 0
    assert _score(cli, bench_dir, preds, "--out", out, "--scored", scored, "--overwrite").code == 0  # its own
    assert json.loads(out.read_text())["overall"]["n"] == 2 and len(rows(scored)) == 2


def test_score_never_writes_into_another_bench_or_run(cli, bench_dir, preds, tmp_path):
    """Not the predictions read nor the --bench only: any bench's or run's files are off limits."""
    run = tmp_path / "run"
    assert cli("eval", bench_dir, "--model", "oracle", "--out", run).code == 0
    before = (run / "predictions.jsonl").read_bytes()
    _score(cli, bench_dir, preds, "--scored", run / "predictions.jsonl", "--overwrite").one_error_line(
        f"is inside the run folder {run}")
    other = tmp_path / "other"
    other.mkdir()
    (other / "manifest.json").write_text("{}")
    (other / "samples.jsonl").write_text("")
    _score(cli, bench_dir, preds, "--out", other / "samples.jsonl", "--overwrite").one_error_line(
        f"is inside the bench folder {other}")
    assert (run / "predictions.jsonl").read_bytes() == before and (other / "samples.jsonl").read_text() == ""
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # atomic: no temp file left


# ---- 2. a garbage pickle


def test_score_garbage_pickle_is_one_error_line(cli, bench_dir, tmp_path):
    pkl = tmp_path / "x.pkl"
    pkl.write_bytes(b"garbage\n")  # 'g' is pickle's GET opcode: int('arbage') raises ValueError
    _score(cli, bench_dir, pkl).one_error_line(str(pkl), "not a VLMEvalKit prediction pickle")


# ---- 3. predictions of another bench


def test_score_refuses_a_run_of_another_bench(cli, bench_dir, tmp_path):
    run = tmp_path / "run"
    assert cli("eval", bench_dir, "--model", "oracle", "--out", run).code == 0
    other = _edited(bench_dir, tmp_path / "other", {"counting-000000"})
    line = _score(cli, other, run / "predictions.jsonl").one_error_line(str(run / "predictions.jsonl"), str(other),
                                                                        str(bench_dir), "manifest hash")
    assert "not on the bench" in line
    assert _score(cli, bench_dir, run / "predictions.jsonl").code == 0  # its own bench: fine


def _two_runs(cli, bench_dir: Path, tmp_path: Path, differ: set[str]) -> tuple[Path, Path, Path]:
    other = _edited(bench_dir, tmp_path / "other", differ)
    a, b = tmp_path / "a", tmp_path / "b"
    assert cli("eval", bench_dir, "--model", "oracle", "--out", a).code == 0
    assert cli("eval", other, "--model", "oracle", "--out", b).code == 0
    return a, b, other


def test_compare_shared_ids_refuses_benches_that_share_ids_but_no_sample(cli, bench_dir, tmp_path):
    a, b, _ = _two_runs(cli, bench_dir, tmp_path, {"counting-000000", "counting-000001"})
    cli("compare", a, b, "--shared-ids").one_error_line(str(a), str(b), "different samples")


def test_compare_shared_ids_pairs_only_the_same_samples_and_says_so(cli, bench_dir, tmp_path):
    a, b, other = _two_runs(cli, bench_dir, tmp_path, {"counting-000001"})
    r = cli("compare", a, b, "--shared-ids", "--bootstrap", "10", "--out", tmp_path / "cmp")
    assert r.code == 0 and "1 shared id(s) name different samples" in r.err
    [result] = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert (result["n_shared"], result["n_differing"]) == (1, 1)
    assert "left out" in (tmp_path / "cmp" / "compare.md").read_text()
    shutil.rmtree(other)  # the bench is gone: the ids cannot be checked, and the command says so
    r = cli("compare", a, b, "--shared-ids", "--bootstrap", "10")
    assert r.code == 0 and "warning:" in r.err and "without checking" in r.err


# ---- 4./5. export


@pytest.mark.parametrize("first", ["hf", "lmms-eval", "vlmevalkit"])
def test_export_overwrite_replaces_an_export_of_any_format(cli, bench_dir, tmp_path, first):
    out = tmp_path / "e"
    assert cli("export", bench_dir, "--format", first, "--out", out, "--name", "one").code == 0
    for fmt in ("vlmevalkit", "hf", "lmms-eval"):
        assert cli("export", bench_dir, "--format", fmt, "--out", out, "--overwrite", "--name", "two").code == 0
    assert (out / "utils.py").is_file() and not (out / "one.tsv").exists()


def test_export_overwrite_still_refuses_a_folder_with_other_files(cli, bench_dir, tmp_path):
    out = tmp_path / "e"
    assert cli("export", bench_dir, "--format", "vlmevalkit", "--out", out).code == 0
    (out / "mine.tsv").write_text("index\tquestion\n0\tmy own dataset\n")
    cli("export", bench_dir, "--format", "hf", "--out", out, "--overwrite").one_error_line("did not write")
    assert (out / "mine.tsv").is_file()


@pytest.mark.parametrize("name", ["a/b", "..", ".", "", "a b", "x.", "../up"])
@pytest.mark.parametrize("fmt", ["vlmevalkit", "lmms-eval"])
def test_export_name_must_be_one_plain_word(cli, bench_dir, tmp_path, name, fmt):
    cli("export", bench_dir, "--format", fmt, "--out", tmp_path / "e", "--name", name).one_error_line("--name")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench"]


def test_export_name_rule():
    assert check_name("mimic_v1.2-test") == "mimic_v1.2-test"
    with pytest.raises(MimicError, match="--name"):
        check_name("a\\b")


def test_export_default_name_of_dot_is_the_folder_name(cli, bench_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(bench_dir)
    assert cli("export", ".", "--format", "vlmevalkit", "--out", tmp_path / "e").code == 0
    assert [p.name for p in (tmp_path / "e").iterdir()] == ["bench.tsv"]


# ---- 6. corrupt images


@pytest.fixture
def corrupt_bench(cli, tmp_path) -> tuple[Path, str, str]:
    """A generated bench with one image overwritten by garbage: (bench, a sample using it, its file)."""
    bench = tmp_path / "gen"
    assert cli("generate", "--out", bench, "--toy-images", "10", "--count", "2", "--task", "counting").code == 0
    first = rows(bench / "samples.jsonl")[0]
    (bench / first["images"][0]).write_text("garbage\n")
    return bench, first["id"], first["images"][0]


def test_validate_flags_a_corrupt_image(cli, corrupt_bench):
    bench, sample, image = corrupt_bench
    r = cli("validate", bench)
    assert r.code == 1 and "Traceback" not in r.out + r.err
    [line] = [x for x in r.out.splitlines() if "corrupt" in x]
    assert sample in line and image in line


def test_inspect_warns_about_an_unreadable_image(cli, corrupt_bench, tmp_path):
    bench, sample, image = corrupt_bench
    r = cli("inspect", bench, "--sheet", tmp_path / "sheet.png")
    assert r.code == 0 and (tmp_path / "sheet.png").is_file()
    [line] = [x for x in r.err.splitlines() if x.strip()]
    assert line.startswith("warning:") and sample in line and image in line


# ---- 7. empty list items


@pytest.mark.parametrize("text", ["2,,4", "2,", ",2", ",", " , "])
def test_int_list_refuses_empty_items(text):
    with pytest.raises(ValueError, match="empty item"):
        parse_int_list(text)


def test_generate_refuses_an_empty_item(cli, tmp_path):
    cli("generate", "--out", tmp_path / "g", "--toy-images", "10", "--count", "2", "--n-images", "2,,4"
        ).one_error_line("--n-images", "2,,4", "empty item")
    assert not (tmp_path / "g").exists()


def test_eval_refuses_an_empty_task_list(cli, bench_dir, tmp_path):
    for flag in ("--task", "--ids"):
        cli("eval", bench_dir, "--model", "oracle", "--out", tmp_path / "r", flag, ","
            ).one_error_line(f"{flag} ',': names nothing")
    for flag, value in (("--task", "counting,,listing"), ("--ids", "a,")):
        cli("eval", bench_dir, "--model", "oracle", "--out", tmp_path / "r", flag, value
            ).one_error_line(f"{flag} {value!r}: an empty item in the list")
    assert not (tmp_path / "r").exists()


def test_select_and_name_lists():
    s = Sample(id="a", task="counting", images=[], question="q", answer=1, gt="1", targets=[], controls={},
               source="toy")
    with pytest.raises(MimicError, match="--task"):
        select([s], tasks=[])
    assert select([s], tasks=None) == [s]
    assert parse_name_list(None, "--task") is None
    assert parse_name_list(" counting, listing ", "--task") == ["counting", "listing"]
    for bad, why in ((",", "names nothing"), ("", "names nothing"), ("counting,,listing", "empty item")):
        with pytest.raises(MimicError, match=why):
            parse_name_list(bad, "--task")


def test_sweep_values_refuse_an_empty_item():
    from mimic_vlm.probe.sweep import sweep_values

    assert sweep_values("2, 4") == ["2", "4"]
    with pytest.raises(MimicError, match="--vary values '2,,4': an empty item"):
        sweep_values("2,,4")


def test_inspect_sheet_replaces_only_an_earlier_sheet(cli, bench_dir, tmp_path):
    """`--sheet samples.jsonl` wrote a PNG over a bench's samples."""
    samples = bench_dir / "samples.jsonl"
    before = samples.read_bytes()
    cli("inspect", bench_dir, "--sheet", samples).one_error_line(f"--sheet {samples}: exists and is not a PNG")
    mine = tmp_path / "mine.png"
    mine.write_text("not an image")
    cli("inspect", bench_dir, "--sheet", mine).one_error_line(f"--sheet {mine}: exists and is not a PNG")
    assert samples.read_bytes() == before and mine.read_text() == "not an image"
    sheet = tmp_path / "sheet.png"
    assert cli("inspect", bench_dir, "--sheet", sheet).code == 0
    assert cli("inspect", bench_dir, "--sheet", sheet).code == 0  # an earlier sheet is redrawn


def test_demo_models_and_pooling_factors_are_strict_lists(cli, bench_dir, tmp_path):
    cli("demo", "--out", tmp_path / "d", "--models", "chance,,chance").one_error_line("--models", "an empty item")
    cli("demo", "--out", tmp_path / "d", "--models", "chance,chance").one_error_line("a model is named twice")
    cli("probe", "pooling", "--model", "tiny:qwen2_vl", bench_dir, "--out", tmp_path / "p",
        "--factors", "1,,2").one_error_line("--factors '1,,2': an empty item")
    assert not (tmp_path / "d").exists() and not (tmp_path / "p").exists()
