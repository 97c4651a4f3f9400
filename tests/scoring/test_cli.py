"""`mimic score` and `mimic report` end to end on files written by hand in tmp_path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mimic_vlm import plugins
from mimic_vlm.cli import main
from mimic_vlm.report.blocks import Section, Text

OUTPUTS = {"counting": "so 3 in total", "listing": "car, bus", "common": "carrot", "odd_one": "dog and cat"}


@pytest.fixture
def bench(make_sample, write_bench) -> Path:
    answers = {"counting": 3, "listing": ["bus", "car"], "common": "car", "odd_one": "dog"}
    samples = [make_sample(t, answers[t], i, n_images=2 + i % 2, spread=1 + i % 2, distractors=1, concepts=1)
               for i, t in enumerate(list(answers) * 3)]
    return write_bench(samples)


def _predictions(path: Path, bench: Path, skip: int = 0) -> Path:
    lines = [json.loads(x) for x in (bench / "samples.jsonl").read_text().splitlines()]
    path.write_text("".join(json.dumps({"id": s["id"], "output": OUTPUTS[s["task"]]}) + "\n"
                            for s in lines[skip:]))
    return path


def _run(args: list[str]) -> int:
    with pytest.raises(SystemExit) as e:
        main(args)
        raise SystemExit(0)
    return e.value.code


def test_score_cli_default_and_official(bench, tmp_path, capsys):
    preds = _predictions(tmp_path / "p.jsonl", bench, skip=1)
    assert _run(["score", str(bench), "--predictions", str(preds), "--out", str(tmp_path / "d.json"),
                 "--scored", str(tmp_path / "rows.jsonl"), "--bootstrap", "100"]) == 0
    out = capsys.readouterr().out
    assert "MIMIC score" in out and "1 without a prediction" in out
    d = json.loads((tmp_path / "d.json").read_text())
    rows = [json.loads(x) for x in (tmp_path / "rows.jsonl").read_text().splitlines()]
    assert rows[0] == {"id": "counting-000", "output": "", "missing": True, "parsed": None, "unparsed": True,
                       "correct": False, "abs_error": None, "off_by_one": False}
    assert rows[1]["parsed"] == ["bus", "car"] and rows[1]["exact"] is True
    assert d["official"] is False and d["overall"]["n_missing"] == 1
    assert d["tasks"]["common"]["metrics"]["correct"]["value"] == 0.0  # "carrot" is not "car"
    assert d["tasks"]["counting"]["metrics"]["correct"]["value"] == pytest.approx(2 / 3)  # one missing
    assert _run(["score", str(bench), "--predictions", str(preds), "--official",
                 "--out", str(tmp_path / "o.json"), "--bootstrap", "100"]) == 0
    assert "reproduces lmms-eval, bugs included" in capsys.readouterr().out
    o = json.loads((tmp_path / "o.json").read_text())
    assert o["official"] is True and o["scoring"]["mode"] == "official"
    assert o["tasks"]["common"]["metrics"]["correct"]["value"] == 1.0  # the substring rule
    assert o["tasks"]["listing"]["metrics"]["micro_recall"]["value"] == 0.5  # " car" never matches


@pytest.mark.parametrize(("lines", "message"), [
    ('{"id": "nope", "output": "3"}\n', "p.jsonl:1: id 'nope' is not a sample"),
    ('{"id": "counting-000", "output": "3"}\n{"id": "counting-000", "output": "4"}\n',
     "p.jsonl:2: duplicate id 'counting-000'"),
    ('{"id": "counting-000", "output": "3"}\n{oops\n', "p.jsonl:2: invalid JSON"),
    ('{"id": "counting-000"}\n', "p.jsonl:1: a prediction needs a string 'id' and a string 'output'"),
])
def test_score_cli_bad_predictions(bench, tmp_path, capsys, lines, message):
    (tmp_path / "p.jsonl").write_text(lines)
    out = tmp_path / "s.json"
    assert _run(["score", str(bench), "--predictions", str(tmp_path / "p.jsonl"),
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("error:") and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_report_md_and_html_with_plots(bench, tmp_path, capsys, monkeypatch):
    preds = _predictions(tmp_path / "p.jsonl", bench)
    runs = []
    for name, flags in (("model-a", []), ("model-a-official", ["--official"])):
        run = tmp_path / name
        run.mkdir()
        assert _run(["score", str(bench), "--predictions", str(preds), "--out",
                     str(run / "scores.json"), "--bootstrap", "50", *flags]) == 0
        runs.append(str(run))
    (Path(runs[0]) / "run.json").write_text(json.dumps(  # as `mimic eval` writes it
        {"settings": {"model": {"kind": "hf", "model": "tiny:qwen2_vl", "adapter": "/x/lora-7"}}, "bench": "/b/toy"}))
    (Path(runs[0]) / "predictions.jsonl").write_text(json.dumps({"id": "x-1", "output": "hmm", "unparsed": True}))

    def extra(runs_):
        return Section("Probe results", [Text(f"{len(runs_)} runs probed")])

    monkeypatch.setattr(plugins, "REPORT_SECTIONS", (*plugins.REPORT_SECTIONS, extra))
    assert _run(["report", *runs, "--out", str(tmp_path / "rep")]) == 0
    md = (tmp_path / "rep" / "report.md").read_text()
    html = (tmp_path / "rep" / "report.html").read_text()
    for heading in ("## Runs", "## Summary", "## Breakdown by control", "## How answers were scored",
                    "## Probe results", "## Unparsed answers (most frequent)"):
        assert heading in md
    assert "| model-a | tiny:qwen2_vl + adapter lora-7 | toy |" in md and "2 runs probed" in md and "'hmm'" in md
    figures = sorted(p.name for p in (tmp_path / "rep" / "figures").iterdir())
    # concepts and distractors have one value here: a table, no plot (issue 14)
    assert figures == ["control_n_images.png", "control_spread.png", "summary.png"]
    assert all((tmp_path / "rep" / "figures" / f).read_bytes()[:4] == b"\x89PNG" for f in figures)
    assert md.index("control_n_images") < md.index("control_spread")
    assert html.count("data:image/png;base64,") == 3 and "figures/" not in html
    assert "first predicted item never matches" in html
    assert _run(["report", *runs, "--out", str(tmp_path / "rep")]) == 2  # exists: refused without --overwrite
    assert "output folder exists" in capsys.readouterr().err


def test_report_rejects_a_folder_without_scores(tmp_path, capsys):
    assert _run(["report", str(tmp_path), "--out", str(tmp_path / "rep")]) == 2
    assert "not a run folder (no scores.json, attention.json, pooling.json, sweep.json)" in capsys.readouterr().err
    (tmp_path / "scores.json").write_text('{"accuracy": 1}')
    assert _run(["report", str(tmp_path), "--out", str(tmp_path / "rep")]) == 2
    assert "scores.json: not a mimic scores file" in capsys.readouterr().err
    assert not (tmp_path / "rep").exists()
