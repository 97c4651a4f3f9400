"""Importing each benchmark from files in its published layout; defects; atomic output; bad files."""

from __future__ import annotations

import io
import json
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest
from benchmark_files import png, png_bytes

from cli_exit import exit_code
from mimic_vlm.cli import main
from mimic_vlm.errors import MimicError
from mimic_vlm.evaluate.tasks import get_task
from mimic_vlm.store import check_images, load_bench
from mimic_vlm.suites.importer import import_benchmark
from mimic_vlm.suites.loaders import BLINK_SUBTASKS


def manifest(bench: Path) -> dict:
    return orjson.loads((bench / "manifest.json").read_bytes())


def test_muirbench(muirbench_release: Path, tmp_path: Path) -> None:
    report = import_benchmark("muirbench", muirbench_release, tmp_path / "b")
    bench = load_bench(tmp_path / "b")
    check_images(bench)
    assert report.samples == 4 and report.warnings == []
    s = bench.by_id()["muirbench-test_Counting_0"]
    assert (s.task, s.answer, s.gt, s.options, s.source) == ("mcq", "C", "C", ["1", "2", "3", "4"], "muirbench")
    assert s.controls == {"task": "Counting", "image_relation": "Independent", "image_type": "Photography",
                          "n_images": 2}
    assert s.extra["counterpart"] == "test_Counting_5"
    # the released image bytes are copied unchanged
    released = pq.read_table(next(muirbench_release.rglob("*.parquet"))).to_pylist()[0]["image_list"]
    assert [p.read_bytes() for p in bench.image_paths(s)] == [im["bytes"] for im in released]
    assert get_task("mcq").prompt(s) == (
        "How many dogs are in [image 1] and [image 2] together?\n(A) 1\n(B) 2\n(C) 3\n(D) 4\n"
        "Answer with the option's letter from the given choices directly.")
    # image options are numbered after the question's placeholders
    itm = bench.by_id()["muirbench-test_Image-Text_Matching_0"]
    assert "(A) [image 1]\n(B) [image 2]\n(C) None of the choices provided" in get_task("mcq").prompt(itm)
    assert manifest(tmp_path / "b")["benchmark"] == "muirbench"


def test_blink_reads_all_subtasks_of_the_val_split(blink_release: Path, tmp_path: Path) -> None:
    report = import_benchmark("blink", blink_release, tmp_path / "b")
    bench = load_bench(tmp_path / "b")
    assert report.samples == 2 * len(BLINK_SUBTASKS) and report.warnings == []
    assert {s.controls["sub_task"] for s in bench.samples} == set(BLINK_SUBTASKS)
    assert all(s.id.startswith("blink-val_") for s in bench.samples)  # test split (hidden answers) skipped
    s = bench.by_id()["blink-val_Jigsaw_2"]
    assert (s.answer, s.options) == ("C", ["yes", "no", "maybe"])
    # image_1..image_4 with unused slots null: Jigsaw is the 6th sub-task -> 2 images
    assert s.controls["n_images"] == len(s.images) == 2


def test_blink_warns_about_missing_subtasks(blink_release: Path, tmp_path: Path) -> None:
    report = import_benchmark("blink", blink_release / "Art_Style", tmp_path / "b")
    assert report.samples == 2
    assert report.warnings == ["blink: 13 of 14 sub_task value(s) absent: " + ", ".join(BLINK_SUBTASKS[1:])]


def test_mmiu_defects_are_reported_not_hidden(mmiu_release: Path, tmp_path: Path) -> None:
    report = import_benchmark("mmiu", mmiu_release, tmp_path / "b")
    bench = load_bench(tmp_path / "b")
    check_images(bench)
    assert [s.id for s in bench.samples] == ["mmiu-all-0", "mmiu-all-1", "mmiu-all-2"]
    assert report.warnings[0] == "mmiu-all-2: gold letter E outside the options A-D (kept, never correct)"
    assert "row 3: image './Temporal/temporal_ordering/temporal_ordering_3_1.jpg' not found" in report.warnings[1]
    assert report.warnings[1].endswith("(dropped)")
    assert manifest(tmp_path / "b")["warnings"] == report.warnings
    s0, s2 = bench.samples[0], bench.samples[2]
    assert s0.options == ["the first image", "the second image", "both", "neither"]
    assert s0.question == "You are given several images.\nWhich image is real? (0)"  # context kept
    assert s0.controls == {"task": "forensic_detection_blink", "visual_input_component": "natural image",
                           "relationship": "Low-level-semantic", "n_images": 2}
    assert s2.extra["defects"] == ["gold letter E outside the options A-D"]
    assert get_task("mcq").score(s2, "E", {}, False)["correct"] == 0.0  # E is not an option: never correct
    assert s0.images[0].endswith("forensic_detection_blink_0_0.jpg")  # the source's own file name
    # --drop-defective removes it instead
    dropped = import_benchmark("mmiu", mmiu_release, tmp_path / "d", drop_defective=True)
    assert dropped.samples == 2 and dropped.warnings[0].endswith("(dropped)")


def test_mirb_mixes_letters_and_open_answers(mirb_release: Path, tmp_path: Path) -> None:
    import_benchmark("mirb", mirb_release, tmp_path / "b")
    bench = load_bench(tmp_path / "b")
    by = bench.by_id()
    assert [(s.id, s.task, s.answer) for s in bench.samples] == [
        ("mirb-codeu-0", "mcq", "B"), ("mirb-count-0", "open", "7"),
        ("mirb-arxiv-0", "open", "Attention Is All You Need"), ("mirb-count-1", "open", "12")]
    assert by["mirb-count-0"].controls == {"subset": "count", "n_images": 3}
    assert get_task("open").prompt(by["mirb-count-0"]) == "How many birds?\nAnswer with a single number."
    assert get_task("mcq").score(by["mirb-codeu-0"], "B. print(3)", {}, False)["correct"] == 1.0


def test_mantis_eval(mantis_release: Path, tmp_path: Path) -> None:
    import_benchmark("mantis-eval", mantis_release, tmp_path / "b")
    by = load_bench(tmp_path / "b").by_id()
    mc, short = by["mantis-eval-1"], by["mantis-eval-3"]
    assert (mc.options, mc.answer) == (["yes", "no"], "B")  # "(A) yes" labels stripped, "(B)" -> B
    assert by["mantis-eval-2"].options == ["first", "second", "equal"]
    assert mc.controls == {"question_type": "multi-choice", "category": "similarity", "data_source": "mantis",
                           "n_images": 2}
    assert (short.task, short.answer) == ("open", "red")
    assert get_task("open").prompt(short).endswith('give your final answer as "Final Answer:"')
    assert get_task("open").score(short, "Both cars look alike. Final Answer: Red", {}, False)["correct"] == 1.0


def test_nlvr2_original_release(nlvr2_release: Path, tmp_path: Path) -> None:
    import_benchmark("nlvr2", nlvr2_release, tmp_path / "b")
    bench = load_bench(tmp_path / "b")
    check_images(bench)
    assert [s.id for s in bench.samples] == ["nlvr2-dev-10-0-0", "nlvr2-dev-10-1-0", "nlvr2-dev-11-0-0",
                                             "nlvr2-dev-11-1-0"]  # train.json ignored
    s = bench.samples[1]
    assert (s.options, s.answer, s.controls) == (["True", "False"], "B", {"label": "False", "n_images": 2})
    assert s.extra["consistency_group"] == "dev-10-0"
    assert s.images[0].endswith("dev-10-1-img0.png") and s.images[1].endswith("dev-10-1-img1.png")
    assert "There are 2 dogs in total." in s.question


def test_circular_import(muirbench_release: Path, tmp_path: Path) -> None:
    report = import_benchmark("muirbench", muirbench_release, tmp_path / "b", circular_eval=True)
    bench = load_bench(tmp_path / "b")
    assert report.samples == 4 + 2 + 3 + 3
    rots = [s for s in bench.samples if s.extra["circular_group"] == "muirbench-test_Counting_0"]
    assert [(s.id, s.options, s.answer, s.controls["rotation"]) for s in rots] == [
        ("muirbench-test_Counting_0-rot0", ["1", "2", "3", "4"], "C", 0),
        ("muirbench-test_Counting_0-rot1", ["2", "3", "4", "1"], "B", 1),
        ("muirbench-test_Counting_0-rot2", ["3", "4", "1", "2"], "A", 2),
        ("muirbench-test_Counting_0-rot3", ["4", "1", "2", "3"], "D", 3)]
    assert all(s.options[ord(s.answer) - 65] == "3" for s in rots)


def test_output_is_atomic_and_refused_when_present(muirbench_release: Path, tmp_path: Path) -> None:
    out = tmp_path / "b"
    import_benchmark("muirbench", muirbench_release, out)
    before = (out / "samples.jsonl").read_bytes()
    with pytest.raises(MimicError, match="exists"):
        import_benchmark("muirbench", muirbench_release, out)
    # a failing import with --overwrite leaves the old bench in place and no temporary folder
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"idx": "1", "question": "q"}]))
    with pytest.raises(MimicError, match=r"bad.json: row 0: missing field 'options'"):
        import_benchmark("muirbench", bad, out, overwrite=True)
    assert (out / "samples.jsonl").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "bad.json"]
    # the same import again is byte-identical
    import_benchmark("muirbench", muirbench_release, out, overwrite=True)
    assert (out / "samples.jsonl").read_bytes() == before


def test_malformed_files_name_file_and_row(tmp_path: Path) -> None:
    broken = tmp_path / "mmiu.json"
    broken.write_text("[{")
    with pytest.raises(MimicError, match="mmiu.json: line 1: invalid JSON"):
        import_benchmark("mmiu", broken, tmp_path / "b")
    (tmp_path / "x.parquet").write_bytes(b"not parquet")
    with pytest.raises(MimicError, match=r"x.parquet: not a readable parquet file"):
        import_benchmark("blink", tmp_path / "x.parquet", tmp_path / "b")
    with pytest.raises(MimicError, match="unknown benchmark 'mmmu'"):
        import_benchmark("mmmu", tmp_path, tmp_path / "b")
    nlvr = tmp_path / "dev.json"
    nlvr.write_text(json.dumps({"identifier": "dev-1-0-0", "sentence": "s", "label": "maybe"}) + "\n")
    with pytest.raises(MimicError, match=r"dev.json: row 0: label 'Maybe' is not True/False"):
        import_benchmark("nlvr2", nlvr, tmp_path / "b")
    assert not (tmp_path / "b").exists()


def test_records_with_undecodable_images_are_dropped(tmp_path: Path) -> None:
    (tmp_path / "bad.png").write_bytes(b"garbage")
    (tmp_path / "good.png").write_bytes(png_bytes(1))
    rows = [{"subset": "count", "questions": "How many?", "answers": "2", "question_id": str(i),
             "image_list": [name]} for i, name in enumerate(("bad.png", "good.png"))]
    (tmp_path / "mirb.json").write_text(json.dumps(rows))
    report = import_benchmark("mirb", tmp_path / "mirb.json", tmp_path / "b")
    assert report.samples == 1
    assert report.warnings[0].endswith("row 0: image 1 (bad.png) is not a readable image (dropped)")
    assert sorted(p.name for p in (tmp_path / "b" / "images").iterdir()) == ["mirb-count-1-0-good.png"]


def test_cli_import_prints_warnings_and_refuses_existing(mmiu_release: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    main(["import", "mmiu", str(mmiu_release), "--out", str(tmp_path / "b")])
    out = capsys.readouterr().out
    assert "gold letter E outside the options A-D" in out and "warnings" in out
    with pytest.raises(SystemExit) as e:
        main(["import", "mmiu", str(mmiu_release), "--out", str(tmp_path / "b")])
    assert e.value.code == 2
    assert "output folder exists" in capsys.readouterr().err


def test_io_helpers_accept_bytes_paths_and_structs(tmp_path: Path) -> None:
    from mimic_vlm.suites.files import Defect, ImageSink

    (tmp_path / "a.png").write_bytes(png_bytes(3))
    sink = ImageSink(tmp_path / "bench")
    paths = sink.save_all([png_bytes(1), {"bytes": png_bytes(2), "path": "x/y.png"}, "a.png"], "s 1", tmp_path)
    assert paths == ["images/s_1-0-image.png", "images/s_1-1-y.png", "images/s_1-2-a.png"]
    with pytest.raises(Defect, match="not found"):
        sink.save_all(["missing.png"], "s2", tmp_path)
    assert io.BytesIO((tmp_path / "bench" / paths[2]).read_bytes()).read() == png_bytes(3)


def test_nlvr2_mantis_style_copy_uses_its_only_split(mantis_release: Path, tmp_path: Path) -> None:
    """The copy the paper's harness reads (TIGER-Lab/NLVR2) has Mantis-Eval's fields and only a test split."""
    import shutil

    shutil.copytree(mantis_release, tmp_path / "nlvr2")
    report = import_benchmark("nlvr2", tmp_path / "nlvr2", tmp_path / "b")
    bench = load_bench(tmp_path / "b")
    assert report.samples == 3 and manifest(tmp_path / "b")["split"] == "test"
    s = bench.by_id()["nlvr2-1"]
    assert (s.source, s.options, s.extra["consistency_group"]) == (
        "nlvr2", ["yes", "no"], "<image> <image> are these the same dog?")
    with pytest.raises(MimicError, match="no 'dev' split files"):
        import_benchmark("nlvr2", tmp_path / "nlvr2", tmp_path / "c", split="dev")


def test_nlvr2_pair_without_its_images_is_dropped(nlvr2_release: Path, tmp_path: Path) -> None:
    import shutil

    shutil.copytree(nlvr2_release, tmp_path / "nlvr2")
    (tmp_path / "nlvr2" / "dev" / "dev-11-1-img1.png").unlink()
    report = import_benchmark("nlvr2", tmp_path / "nlvr2", tmp_path / "b")
    assert report.samples == 3
    assert report.warnings == [f"{(tmp_path / 'nlvr2' / 'dev.json').resolve()}: row 3: image dev-11-1-img1 not "
                               f"found under {(tmp_path / 'nlvr2').resolve()} (dropped)"]


@pytest.fixture
def nlvr2_full_release(tmp_path: Path) -> Path:
    """The lil-lab/nlvr layout: train/dev/test1.json, balanced/ and unbalanced/ subsets, image folders."""
    root = tmp_path / "nlvr2"
    files = {"train.json": "train-1", "dev.json": "dev-2", "test1.json": "test1-3",
             "balanced/balanced_dev.json": "dev-2", "balanced/balanced_test1.json": "test1-3",
             "unbalanced/unbalanced_test1.json": "test1-4"}
    for name, prefix in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        split = prefix.split("-")[0]
        (root / name).write_text(json.dumps({"identifier": f"{prefix}-0-0", "sentence": f"{name} says so.",
                                             "label": "True"}) + "\n")
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        for k in (0, 1):
            png(k).save(root / "images" / split / f"{prefix}-0-img{k}.png")
    return root


@pytest.mark.parametrize(("split", "ident", "file"), [
    (None, "nlvr2-dev-2-0-0", "dev.json"), ("dev", "nlvr2-dev-2-0-0", "dev.json"),
    ("test1", "nlvr2-test1-3-0-0", "test1.json"), ("train", "nlvr2-train-1-0-0", "train.json"),
    ("balanced_test1", "nlvr2-test1-3-0-0", "balanced/balanced_test1.json"),
    ("unbalanced", "nlvr2-test1-4-0-0", "unbalanced/unbalanced_test1.json"),  # the only unbalanced part
])
def test_nlvr2_release_split_names(nlvr2_full_release: Path, tmp_path: Path, split, ident, file) -> None:
    import_benchmark("nlvr2", nlvr2_full_release, tmp_path / "b", split=split)
    bench = load_bench(tmp_path / "b")
    assert [s.id for s in bench.samples] == [ident]
    assert f"{file} says so." in bench.samples[0].question
    resolved = {None: "dev", "unbalanced": "unbalanced_test1"}.get(split, split)  # the part it read
    assert bench.manifest["split"] == resolved and bench.manifest["source_files"][0]["file"] == file


def test_nlvr2_split_errors_name_the_choices(nlvr2_full_release: Path, tmp_path: Path) -> None:
    with pytest.raises(MimicError, match="--split balanced has 2 parts; choose one of balanced_dev, balanced_test1"):
        import_benchmark("nlvr2", nlvr2_full_release, tmp_path / "b", split="balanced")
    with pytest.raises(MimicError, match=r"no 'test2' split files \(splits found: balanced_dev, balanced_test1, "
                                         r"dev, test1, train, unbalanced_test1\)"):
        import_benchmark("nlvr2", nlvr2_full_release, tmp_path / "b", split="test2")


def test_mirb_original_release_json_per_subset_and_images_zip(tmp_path: Path) -> None:
    import zipfile

    root = tmp_path / "MIRB"
    root.mkdir()
    (root / "count.json").write_text(json.dumps([
        {"questions": "How many birds?", "answers": 7, "images": ["count/b1.png", "count/b2.png"]},
        {"questions": "How many boats?", "answers": "12", "images": ["count/c1.png"]}]))
    (root / "codeu.json").write_text(json.dumps([
        {"questions": "Which code prints 3?\nA. print(1)\nB. print(3)", "answers": "B", "images": ["codeu/x.png"]}]))
    with zipfile.ZipFile(root / "images.zip", "w") as z:
        for k, name in enumerate(["count/b1.png", "count/b2.png", "count/c1.png", "codeu/x.png"]):
            z.writestr(f"images/{name}", png_bytes(k))
    report = import_benchmark("mirb", root, tmp_path / "b")
    assert report.by_task == {"mcq": 1, "open": 2}
    bench = load_bench(tmp_path / "b")
    check_images(bench)
    by = bench.by_id()
    assert sorted(by) == ["mirb-codeu-0", "mirb-count-0", "mirb-count-1"]
    birds = by["mirb-count-0"]
    assert (birds.task, birds.answer, birds.controls) == ("open", "7", {"subset": "count", "n_images": 2})
    assert [(tmp_path / "b" / p).read_bytes() for p in birds.images] == [png_bytes(0), png_bytes(1)]
    assert get_task("open").prompt(birds) == "How many birds?\nAnswer with a single number."
    assert by["mirb-codeu-0"].answer == "B"
    (root / "count.json").write_text(json.dumps([{"questions": "q", "answers": "1", "images": ["count/zz.png"]}]))
    report = import_benchmark("mirb", root, tmp_path / "c")
    assert any("image 'count/zz.png' not found" in w for w in report.warnings)


def test_import_and_generate_overwrite_only_their_own_benches(mirb_release, tmp_path):
    """A generated training set (its conversations) is no import's to replace, and an import no generate's."""
    generated, imported = tmp_path / "generated", tmp_path / "imported"
    assert exit_code(["generate", "--out", str(generated), "--toy-images", "10", "--count", "2", "--task", "counting",
                  "--for", "training"]) == 0
    import_benchmark("mirb", mirb_release, imported)
    with pytest.raises(MimicError, match="holds files mimic did not write there"):
        import_benchmark("mirb", mirb_release, generated, overwrite=True)
    assert (generated / "train_llava.json").is_file()
    assert exit_code(["generate", "--out", str(imported), "--toy-images", "10", "--count", "2", "--task", "counting",
                  "--overwrite"]) == 2
    assert load_bench(imported).manifest["kind"] == "benchmark"
    import_benchmark("mirb", mirb_release, imported, overwrite=True)  # its own: replaced
