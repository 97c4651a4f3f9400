"""`--model SPEC` -> Model: every kind, and one clear error for the rest."""

from __future__ import annotations

import pytest

from mimic_vlm.errors import MimicError
from mimic_vlm.models.base import Model
from mimic_vlm.models.registry import BUILDERS, load_model


def test_unknown_kind_lists_the_known_ones() -> None:
    with pytest.raises(MimicError, match=r"--model gpt9: unknown model kind 'gpt9'; known: hf:PATH_OR_ID, "
                                         r"tiny:FAMILY, toy:NAME, openai:MODEL@BASE_URL, chance, prior, single-image, oracle"):
        load_model("gpt9")
    with pytest.raises(MimicError, match="unknown option"):
        load_model("oracle", temperature=1)
    with pytest.raises(MimicError, match="tiny: needs an argument"):
        load_model("tiny:")
    with pytest.raises(MimicError, match="unknown tiny model family"):
        load_model("tiny:gpt2")
    with pytest.raises(MimicError, match=r"toy:nosuch: no packaged model of that name; known: mimic-study, mimic-tiny"):
        load_model("toy:nosuch")


def test_kinds_build_models() -> None:
    assert set(BUILDERS) == {"hf", "tiny", "toy", "openai", "chance", "prior", "single-image", "oracle"}
    oracle = load_model("oracle", batch_size=64)
    assert isinstance(oracle, Model) and oracle.max_batch_size == 64
    served = load_model("openai:m@http://127.0.0.1:1/v1", concurrency=3)
    assert served.max_batch_size == 3 and served.describe()["model"] == "m"
    tiny = load_model("tiny:llava_onevision", batch_size=4, device="cpu")
    assert tiny.max_batch_size == 4 and tiny.describe()["model"] == "tiny:llava_onevision"
