"""The attention probe on real tiny models: block sums equal those of `output_attentions=True`, shares
partition each query's attention, and image-block-masked layers show exactly zero inter-image attention."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest
import torch

from mimic_vlm.cli import main
from mimic_vlm.errors import MimicError
from mimic_vlm.evaluate.stats import bootstrap_mean
from mimic_vlm.masking import ImageBlockMask, image_block_ids
from mimic_vlm.models.hf import HFModel
from mimic_vlm.models.tiny import build
from mimic_vlm.probe.attention import (
    AttentionProbe,
    encode,
    find_span,
    probe_bench,
    probe_sample,
    sample_shares,
)
from mimic_vlm.probe.sections import attention_section
from mimic_vlm.report.runs import RunData
from mimic_vlm.store import load_bench


def tiny(family: str, **kw) -> HFModel:
    return HFModel(*build(family, **kw), name=f"tiny:{family}")


def sample_inputs(hf: HFModel, bench_dir: Path):
    bench = load_bench(bench_dir)
    s = bench.samples[0]
    return encode(hf, s, bench.image_paths(s)), hf.tokenizer(s.question, add_special_tokens=False)["input_ids"]


@pytest.mark.parametrize("family", ["qwen2_vl", "llava_onevision"])
def test_block_sums_equal_output_attentions(family: str, bench_dir: Path) -> None:
    hf = tiny(family)
    inputs, question = sample_inputs(hf, bench_dir)
    AttentionProbe().attach(hf.model)
    collector = probe_sample(hf.model, inputs, question)
    reference, _ = build(family, attn_implementation={"text_config": "eager", "vision_config": "sdpa"})
    with torch.no_grad():
        attentions = reference(**inputs, output_attentions=True).attentions
    queries, keys = collector.query_groups[0], collector.key_groups[0]
    n = int(image_block_ids(inputs["input_ids"], hf.model).max()) + 1
    assert n == 4 and collector.n_query_groups == n + 2
    for layer, att in enumerate(attentions):
        p = att[0].double().mean(0)  # head average (q, k)
        expected = torch.stack([torch.stack([p[queries == gq][:, keys == gk].sum() for gk in range(n + 1)])
                                for gq in range(n + 2)])
        torch.testing.assert_close(collector.sums[layer][0], expected, atol=1e-5, rtol=0)
    counts = collector.counts()[0]
    assert counts[n + 1] == 1 and counts[n] == len(question)  # the answer position; the question tokens
    # each query's probabilities sum to 1, so each group's block row sums to its token count
    torch.testing.assert_close(collector.stacked()[:, 0].sum(-1), counts.expand(len(attentions), -1))


def test_shares_partition_and_split_targets(bench_dir: Path) -> None:
    hf = tiny("qwen2_vl")
    inputs, question = sample_inputs(hf, bench_dir)
    AttentionProbe().attach(hf.model)
    c = probe_sample(hf.model, inputs, question)
    shares = sample_shares(c.stacked()[:, 0].numpy(), c.counts()[0].numpy(), np.array([True, False, True, False]))
    np.testing.assert_allclose(shares["vision.own"] + shares["vision.other"] + shares["vision.text"], 1, atol=1e-9)
    for g in ("question", "answer"):
        np.testing.assert_allclose(shares[f"{g}.target"] + shares[f"{g}.distractor"] + shares[f"{g}.text"], 1,
                                   atol=1e-9)
        np.testing.assert_allclose(shares[f"{g}.per_target_image"], shares[f"{g}.target"] / 2)
    assert (shares["vision.other"] > 0).all()  # unmasked: images see each other


def test_masked_layers_show_zero_inter_image_attention(bench_dir: Path) -> None:
    hf = tiny("qwen2_vl")
    inputs, question = sample_inputs(hf, bench_dir)
    ImageBlockMask("2-3", backend="eager").attach(hf.model)
    AttentionProbe().attach(hf.model)
    c = probe_sample(hf.model, inputs, question)
    shares = sample_shares(c.stacked()[:, 0].numpy(), c.counts()[0].numpy(), None)
    assert (shares["vision.other"][:2] > 0.1).all()
    assert (shares["vision.other"][2:] == 0).all() and (shares["vision.text"][2:] == 0).all()
    np.testing.assert_allclose(shares["vision.own"][2:], 1)
    assert np.isnan(shares["answer.target"]).all()  # no per-image truth given: no split


def test_detach_restores_and_sdpa_mask_is_refused(bench_dir: Path) -> None:
    hf = tiny("qwen2_vl")
    inputs, _ = sample_inputs(hf, bench_dir)
    with torch.no_grad():
        before = hf.model(**inputs).logits
    probe = AttentionProbe()
    probe.attach(hf.model)
    assert hf.model.config.get_text_config()._attn_implementation == "eager"
    probe.detach(hf.model)
    assert hf.model.config.get_text_config()._attn_implementation == "sdpa"
    with torch.no_grad():
        assert torch.equal(hf.model(**inputs).logits, before)
    ImageBlockMask("all", backend="sdpa").attach(hf.model)
    with pytest.raises(MimicError, match="backend='eager'"):
        probe.attach(hf.model)


def test_helpers() -> None:
    assert find_span([5, 1, 2, 3, 9, 1, 2, 3], [1, 2, 3]) == slice(5, 8)
    assert find_span([5, 1, 2, 3, 9], [7, 2, 3, 8]) == slice(2, 4)  # edges re-tokenised differently
    assert find_span([1, 2], [7, 8]) is None
    b = bootstrap_mean(np.array([1.0, 1.0, np.nan])).to_dict()
    assert b == {"value": 1.0, "ci": [1.0, 1.0], "n": 2}


def test_probe_bench_and_cli(bench_dir: Path, tmp_path: Path) -> None:
    hf = tiny("llava_onevision")
    result = probe_bench(hf, load_bench(bench_dir), n_boot=50)
    assert result["samples"] == 2 and len(result["layers"]) == 4
    row = result["layers"][0]
    assert row["answer.target"]["n"] == 2 and row["answer.target"]["ci"][0] <= row["answer.target"]["value"]
    out = tmp_path / "probe"
    main(["probe", "attention", "--model", "tiny:qwen2_vl", str(bench_dir), "--out", str(out),
          "--limit", "1", "--mask-layers", "3", "--bootstrap", "20"])
    saved = orjson.loads((out / "attention.json").read_bytes())
    assert saved["samples"] == 1 and saved["layers"][3]["vision.other"]["value"] == 0
    assert saved["layers"][2]["vision.other"]["value"] > 0
    assert all((out / f"{n}.png").stat().st_size > 1000 for n in ("vision", "question", "answer"))
    section = attention_section([RunData("probe", out, {})])
    assert section.title == "Attention by layer" and len(section.blocks[1].rows) == 4
    assert [b.name for b in section.blocks[2:]] == ["attention-0-vision", "attention-0-question", "attention-0-answer"]
