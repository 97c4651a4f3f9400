"""FLOP and memory accounting: exact pair counts, the 1 - 1/N limit, known shapes, and the `mimic cost` CLI."""

from __future__ import annotations

import json

import pytest
import torch

from mimic_vlm.cli import main
from mimic_vlm.masking.cost import KNOWN_MODELS, SequenceLayout, causal_pairs, mask_cost, masked_pairs
from mimic_vlm.masking.mask import restrict_bool


def test_pairs_equal_a_counted_mask() -> None:
    layout = SequenceLayout(images=3, tokens_per_image=5, text=4, prefix=2)
    ids = torch.tensor([[-1] * 2 + [k for k in range(3) for _ in range(5)] + [-1] * 4])
    n = layout.length
    assert causal_pairs(layout) == int(torch.ones(n, n).tril().sum())
    assert masked_pairs(layout) == int(restrict_bool(None, ids, n, n).sum())
    assert masked_pairs(SequenceLayout(images=1, tokens_per_image=5, text=4)) == causal_pairs(
        SequenceLayout(images=1, tokens_per_image=5, text=4))


def test_reductions_and_memory() -> None:
    shape = KNOWN_MODELS["llava-ov-7b"]
    r = mask_cost(shape, SequenceLayout(images=10, tokens_per_image=730, text=50), frozenset(range(14, 28)))
    assert r["layout"]["length"] == 7350
    assert r["mask_bytes"]["official_dense_per_head"] / 2**30 == pytest.approx(1.41, abs=0.01)  # paper.md 7.2
    assert r["mask_bytes"]["sdpa_vs_official"] == 1 / shape.heads
    masked_layer = r["attention_flops_masked_layer"]["reduction"]
    assert masked_layer == pytest.approx(1 - 1 / 10, abs=0.02)
    assert r["attention_flops_all_layers"]["reduction"] == pytest.approx(masked_layer / 2)
    assert r["decoder_flops"]["reduction"] < 0.05  # the whole model saves little
    assert r["attention_flops_masked_layer"]["dense"] == 4 * 28 * 128 * 7350 * 7351 // 2


def test_cli_json_and_errors(tmp_path, capsys) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"text_config": {"num_hidden_layers": 24, "num_attention_heads": 14,
                                                  "num_key_value_heads": 2, "hidden_size": 896,
                                                  "intermediate_size": 4864}}))
    outputs = []
    for argv in (["cost", str(config), "--mask-layers", "12-23", "--json"],
                 ["cost", "llava-ov-0.5b", "--mask-layers", "12-23", "--json"],
                 ["cost", "--layers", "24", "--heads", "14", "--kv-heads", "2", "--hidden", "896",
                  "--intermediate", "4864", "--mask-layers", "12-23", "--json"]):
        main(argv)
        outputs.append(json.loads(capsys.readouterr().out))
    assert outputs[0] == outputs[1] == outputs[2]
    main(["cost", "qwen2-vl-7b", "--n-images", "4"])
    assert "attention FLOPs, one masked layer" in capsys.readouterr().out
    for argv, message in ((["cost", "gpt-9"], "gpt-9: neither a config.json path nor a known model"),
                          (["cost", "--layers", "4"], "missing --heads, --hidden, --intermediate"),
                          (["cost", "qwen2-vl-7b", "--mask-layers", "30-40"], "layers 0-27")):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize(("config", "message"), [
    ({"num_hidden_layers": 0, "num_attention_heads": 0, "hidden_size": 0, "intermediate_size": 0},
     "num_attention_heads 0: expected a positive integer"),  # was a ZeroDivisionError
    ({"num_hidden_layers": "a", "num_attention_heads": 2, "hidden_size": 8, "intermediate_size": 8},
     "num_hidden_layers 'a': expected a positive integer"),  # was a TypeError
    ({"num_hidden_layers": 2, "num_attention_heads": 2, "hidden_size": 8}, "the text config has no 'intermediate_size'"),
    ([1, 2], "not a model config (expected a JSON object)"),
])
def test_a_malformed_config_is_one_error(tmp_path, capsys, config, message) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    with pytest.raises(SystemExit) as exit_info:
        main(["cost", str(path)])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == f"error: {path}: {message}"
