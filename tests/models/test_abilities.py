"""One answer per model kind to "what can it do" (`models/kinds.py`); toy: models get what hf: models get."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from mimic_vlm.cli import main
from mimic_vlm.errors import MimicError
from mimic_vlm.models.kinds import kind_of as abilities


def test_abilities_by_kind() -> None:
    for spec in ("hf:some/model", "tiny:qwen2_vl", "toy:mimic-tiny"):
        a = abilities(spec)
        assert a.transformers and a.mask and a.pooling and a.adapter and a.pixel_cap and a.vision_tokens
    api = abilities("openai:gpt@http://localhost:1")
    assert api.pixel_cap and not (api.transformers or api.mask or api.pooling or api.adapter or api.vision_tokens)
    for spec in ("oracle", "prior", "chance", "single-image"):
        assert not (abilities(spec).mask or abilities(spec).transformers) and abilities(spec).needs_bench
    with pytest.raises(MimicError, match="unknown model kind 'nope'"):
        abilities("nope:x")


def test_eval_takes_a_mask_on_a_toy_model(bench_dir: Path, tmp_path: Path) -> None:
    main(["eval", str(bench_dir), "--model", "toy:mimic-tiny", "--mask-layers", "2-3", "--limit", "1",
          "--out", str(tmp_path / "run"), "--no-progress"])
    run = orjson.loads((tmp_path / "run" / "run.json").read_bytes())
    assert run["settings"]["model"]["mask"]["layers"] == "2-3"
