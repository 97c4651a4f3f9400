"""`mimic study` end to end on a small tiny-preset world: baselines whose answers are known (oracle, prior) and a
tiny transformers model; resuming, refusing a changed setting, redoing it with --overwrite; the report section."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from mimic_vlm.annotations.toyworld import render_toy_world
from mimic_vlm.cli import main
from mimic_vlm.errors import MimicError
from mimic_vlm.study.analysis import FINDING_KEYS, STUDY_KEYS
from mimic_vlm.study.run import model_world, study


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_toy_world(tmp_path_factory.mktemp("w") / "world", n_images=120, seed=5, preset="tiny")


def _argv(world: Path, out: Path, *extra: str) -> list[str]:
    return ["study", "--out", str(out), "--annotations", str(world), "--images-dir", str(world.parent / "images"),
            "--count", "4", "--bootstrap", "200", "--no-progress", *extra]


def _exit(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as e:
        return int(e.code or 0)
    return 0


def test_oracle_study_resumes_refuses_a_change_and_redoes_it_with_overwrite(world: Path, tmp_path: Path,
                                                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s"
    main(_argv(world, out, "--model", "oracle"))
    record = orjson.loads((out / "study.json").read_bytes())
    assert set(record) == set(STUDY_KEYS) and record["model"] == "oracle" and record["profile"] == "quick"
    by_id = {f["id"]: f for f in record["findings"]}
    assert list(by_id) == ["F1", "F2", "F3", "F4", "F5", "F6", "F7"]
    assert all(set(f) == set(FINDING_KEYS) for f in record["findings"])
    f1 = by_id["F1"]
    assert [(lv["value"], lv["n"], lv["metric"]) for lv in f1["levels"]] == [(n, 4, 1.0) for n in (2, 4, 6, 8)]
    assert f1["effect"] == {"value": 0.0, "ci": [0.0, 0.0], "p": 1.0} and f1["design"]["paired"] is True
    assert f1["verdict"] == "not_reproduced" and f1["testable"] is True  # a perfect model: no fall, measured exactly
    assert by_id["F2"]["verdict"] == "not_testable" and "no vision-token budget" in by_id["F2"]["reason"]
    assert by_id["F6"]["verdict"] == "not_testable" and "transformers models only" in by_id["F6"]["reason"]
    assert by_id["F3"]["design"]["paired"] is False and by_id["F3"]["levels"][0]["value"] == 1
    assert [lv["value"] for lv in by_id["F7"]["levels"]] == [False, True]
    assert [lv["value"] for lv in by_id["F4"]["levels"]] == [1, 2]
    for fid in ("F1", "F3", "F4", "F5", "F7"):
        assert (out / "figures" / f"{fid}.png").stat().st_size > 1000
    md = (out / "study.md").read_text()
    assert "| F1 | accuracy falls as the number of images grows | +0.000 [+0.000, +0.000] | 1.000 |" in md
    assert "![F1: counting accuracy by n_images](figures/F1.png)" in md

    predictions = out / "runs" / "F1" / "predictions.jsonl"
    lines = predictions.read_bytes().splitlines(keepends=True)
    predictions.write_bytes(b"".join(lines[:5]))  # a run killed after 5 predictions
    (out / "study.json").unlink()
    main(_argv(world, out, "--model", "oracle"))  # the same command continues
    assert orjson.loads((out / "study.json").read_bytes()) == record
    assert len(predictions.read_bytes().splitlines()) == len(lines)

    capsys.readouterr()
    assert _exit(_argv(world, out, "--model", "oracle", "--count", "5")) == 2
    err = capsys.readouterr().err
    assert "holds a study made with other settings (count: 4 -> 5); use --overwrite" in err
    assert orjson.loads((out / "study.json").read_bytes()) == record  # nothing touched
    main(_argv(world, out, "--model", "oracle", "--count", "5", "--overwrite", "--findings", "F1,F7"))
    redone = orjson.loads((out / "study.json").read_bytes())
    assert [f["id"] for f in redone["findings"]] == ["F1", "F7"]
    assert {lv["n"] for f in redone["findings"] for lv in f["levels"]} == {5}


def test_prior_is_never_testable(world: Path, tmp_path: Path) -> None:
    record = study("prior", tmp_path / "p", findings="F1,F5,F7", count=4, replicates=200,
                   source=_source(world))
    for f in record["findings"]:
        assert f["verdict"] == "not_testable" and "not well above the answer prior" in f["reason"], f


def test_a_transformers_model_runs_the_token_budgets_and_the_attention_probe(world: Path, tmp_path: Path) -> None:
    record = study("tiny:qwen2_vl", tmp_path / "t", findings="F2,F6", count=2, replicates=200,
                   source=_source(world))
    f2, f6 = record["findings"]
    tokens = [lv["vision_tokens"] for lv in f2["levels"]]
    assert [lv["value"] for lv in f2["levels"]] == [224 * 224, 168 * 168, 112 * 112, 84 * 84]
    assert tokens[0] == tokens[1] == tokens[2] > tokens[3]  # a 112-px world: only the cap below 112² shrinks
    assert "caps above the images' own size change nothing" in f2["reason"] or f2["verdict"] == "not_testable"
    shares = orjson.loads((tmp_path / "t" / "attention" / "F6.json").read_bytes())["per_sample"]["vision.other"]
    assert len(shares) == 8  # 2 bases x 4 levels of F1
    assert [lv["value"] for lv in f6["levels"]] == list(range(len(shares[0]))) and len(shares[0]) >= 2
    assert f6["testable"] is True and f6["effect"]["value"] is not None and f6["levels"][0]["n"] == 8
    assert f6["levels"][0]["metric"] == pytest.approx(sum(s[0] for s in shares) / 8)


def test_report_over_a_study_run_shows_the_study(world: Path, tmp_path: Path) -> None:
    from mimic_vlm.plugins import REPORT_SECTIONS
    from mimic_vlm.report import write_report

    study("oracle", tmp_path / "s", findings="F1", count=2, replicates=200, source=_source(world))
    report = write_report([tmp_path / "s" / "runs" / "F1"], tmp_path / "r", REPORT_SECTIONS)
    text = (report / "report.md").read_text()
    assert "## The paper's study" in text and "| F1 | accuracy falls as the number of images grows |" in text


def test_bad_requests_fail_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit(["study", "--model", "oracle", "--out", str(tmp_path / "x"), "--findings", "F1,F9"]) == 2
    assert "--findings 'F1,F9': expected some of F1, F2, F3, F4, F5, F6, F7" in capsys.readouterr().err
    assert _exit(["study", "--model", "oracle", "--out", str(tmp_path / "x"), "--profile", "huge"]) == 2
    assert "--profile 'huge': expected one of quick, paper" in capsys.readouterr().err
    assert _exit(["study", "--model", "oracle", "--out", str(tmp_path / "x"), "--mask-layers", "1"]) == 2
    assert "--mask-layers: --model oracle takes no attention mask" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    assert model_world("toy:mimic-tiny") == "tiny" and model_world("oracle") == "tiny"


def test_a_model_folder_names_the_toy_world_the_study_renders(tmp_path: Path) -> None:
    """A model trained on another toy world records it (`toy_world.json`); the study renders that world (read
    through the model kind: a comparison of the kind record with a string had made every model `tiny`)."""
    folder = tmp_path / "model"
    folder.mkdir()
    assert model_world(f"hf:{folder}") == "tiny"
    (folder / "toy_world.json").write_text('{"preset": "study"}')
    assert model_world(f"hf:{folder}") == "study"
    with pytest.raises(MimicError, match="toy_world.json of hf:.*: unknown toy world preset"):
        (folder / "toy_world.json").write_text('{"preset": "huge"}')
        study(f"hf:{folder}", tmp_path / "s", findings="F1", count=2)
    assert not (tmp_path / "s").exists()


def _source(world: Path):  # type: ignore[no-untyped-def]
    from mimic_vlm.bench.generate import Source

    return Source("toy", world, world.parent / "images")


def test_token_budgets_fall_back_to_pooling_where_the_pixel_cap_sets_no_tokens(world: Path, tmp_path: Path) -> None:
    """LLaVA-OneVision sees every image at one size: F2 pools its vision tokens by 1, 2, 4, 8 instead."""
    [f2] = study("tiny:llava_onevision", tmp_path / "l", findings="F2", count=2, replicates=200,
                 source=_source(world))["findings"]
    assert f2["design"]["vary"] == "pooling" and [lv["value"] for lv in f2["levels"]] == [1, 2, 4, 8]
    tokens = [lv["vision_tokens"] for lv in f2["levels"]]
    assert tokens == sorted(tokens, reverse=True) and tokens[0] > tokens[-1]


def test_the_long_profile_runs_16_to_64_image_designs(world: Path, tmp_path: Path) -> None:
    """`--profile long` (issue 24: long-context models): F1's levels are 16, 32, 48 and 64 images of the same
    target images, each sample as many distinct images as its level."""
    out = tmp_path / "long"
    main(_argv(world, out, "--model", "oracle", "--profile", "long", "--findings", "F1", "--count", "2"))
    record = orjson.loads((out / "study.json").read_bytes())
    f1 = record["findings"][0]
    assert record["profile"] == "long" and [lv["value"] for lv in f1["levels"]] == [16, 32, 48, 64]
    assert all(lv["n"] == 2 and lv["metric"] == 1.0 for lv in f1["levels"])
    from mimic_vlm.store import load_bench

    sizes = {len(s.images) for b in (out / "benches").iterdir() if (b / "samples.jsonl").is_file()
             for s in load_bench(b).samples}
    assert sizes == {16, 32, 48, 64}
