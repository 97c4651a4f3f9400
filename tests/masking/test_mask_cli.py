"""Mask options are checked where they enter: a bad one fails before any bench, data or model is read."""

from __future__ import annotations

from pathlib import Path

import pytest

from mimic_vlm.cli import main


@pytest.mark.parametrize(("option", "message"), [
    (["--mask-layers", "abc"], "mask layers 'abc': expected 'A-B'"),
    (["--mask-layers", "9-2"], "mask layers '9-2': expected 'A-B' (A <= B)"),
    (["--mask-layers", "all", "--mask-backend", "xformers"], "mask backend 'xformers': choose one of auto, blocks"),
])
def test_eval_and_train_refuse_bad_mask_options_first(option: list[str], message: str, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    missing = tmp_path / "missing"  # neither bench, data nor model exist: the mask option is what fails
    commands = [["eval", str(missing), "--model", f"hf:{missing}", "--out", str(tmp_path / "run")],
                ["train", "--model", f"hf:{missing}", "--data", str(missing / "d.json"), "--out", str(tmp_path / "o")]]
    for command in commands:
        with pytest.raises(SystemExit) as exc:
            main([*command, *option])
        err = capsys.readouterr().err
        assert exc.value.code == 2 and message in err, err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert sorted(tmp_path.iterdir()) == []  # nothing written
