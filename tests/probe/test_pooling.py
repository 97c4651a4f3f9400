"""Vision-token pooling on real tiny Qwen2-VL and LLaVA-OneVision: k divides each image's tokens (ceil),
k = 1 is bit-identical to the unmodified model, pooled models still run forward and generate, and the
multimodal rotary positions follow the documented centroid rule."""

from __future__ import annotations

import math
from pathlib import Path

import orjson
import pytest
import torch

from mimic_vlm.errors import MimicError
from mimic_vlm.models.hf import HFModel
from mimic_vlm.models.tiny import build
from mimic_vlm.probe.attention import encode
from mimic_vlm.probe.pooling import (
    image_features,
    image_token_counts,
    mrope_positions,
    pool_inputs,
    pool_tokens,
    pooled_model,
    pooling_study,
)
from mimic_vlm.probe.sections import pooling_section
from mimic_vlm.report.runs import load_run
from mimic_vlm.store import load_bench


def setup(family: str, bench_dir: Path):
    hf = HFModel(*build(family), name=f"tiny:{family}")
    bench = load_bench(bench_dir)
    s = bench.samples[0]
    return hf, encode(hf, s, bench.image_paths(s))


def test_pool_tokens_averages_runs_of_k() -> None:
    x = torch.arange(10.0).view(5, 2)
    assert torch.equal(pool_tokens(x, 1), x)
    assert torch.equal(pool_tokens(x, 2), torch.tensor([[1.0, 2.0], [5.0, 6.0], [8.0, 9.0]]))  # last run: 1 row
    assert pool_tokens(x, 8).shape == (1, 2)


def test_mrope_positions_take_the_rounded_down_centroid() -> None:
    types = torch.tensor([0, 0, 1, 1, 0])  # 2 text tokens, a 2x4 image pooled by 4, 1 text token
    pos = mrope_positions(types, [(1, 2, 4)], 4)
    # row 0: cols 0-3 -> (t 0, h 0, w 1.5 -> 1); row 1 -> (0, 1, 1); offsets 2; text resumes at 2 + max(2, 4)
    assert pos.tolist() == [[0, 1, 2, 2, 6], [0, 1, 2, 3, 6], [0, 1, 3, 3, 6]]


@pytest.mark.parametrize("family", ["qwen2_vl", "qwen2_5_vl", "llava_onevision", "internvl"])
def test_pooling_divides_tokens_and_keeps_the_model_runnable(family: str, bench_dir: Path) -> None:
    hf, inputs = setup(family, bench_dir)
    model, image_token = hf.model, hf.model.config.image_token_id
    with torch.no_grad():
        features, _ = image_features(model, inputs)
        n = [f.shape[0] for f in features]
        logits = model(**inputs).logits
        generated = model.generate(**inputs, max_new_tokens=4, do_sample=False)
        same = pool_inputs(model, inputs, 1)
        assert torch.equal(model(**same).logits, logits)  # k = 1: bit-identical
        assert torch.equal(model.generate(**same, max_new_tokens=4, do_sample=False), generated)
        for k in (2, 3, 4):
            pooled = pool_inputs(model, inputs, k)
            expected = [math.ceil((m - 1) / k) + 1 if family == "llava_onevision" else math.ceil(m / k) for m in n]
            assert int((pooled["input_ids"] == image_token).sum()) == sum(expected)
            features_in = pooled["mm_encoder_outputs"]["image"].pooler_output
            if isinstance(features_in, tuple):
                assert [len(f) for f in features_in] == expected
            else:  # InternVL scatters one tensor
                assert len(features_in) == sum(expected)
            out = model(**pooled).logits
            assert out.shape[1] == pooled["input_ids"].shape[1] and torch.isfinite(out).all()
            gen = model.generate(**pooled, max_new_tokens=3, do_sample=False)
            assert gen.shape == (1, pooled["input_ids"].shape[1] + 3)
    if family.startswith("qwen"):  # k = 1 positions are the model's own
        ref, _ = model.model.get_rope_index(inputs["input_ids"], inputs["mm_token_type_ids"],
                                            inputs["image_grid_thw"], attention_mask=inputs["attention_mask"])
        assert torch.equal(same["position_ids"][1:], ref)
    elif family == "llava_onevision":
        assert n == [17] * 4  # 16 patches + the image newline


def test_unsupported_family_is_refused(bench_dir: Path) -> None:
    hf, inputs = setup("idefics3", bench_dir)
    with pytest.raises(MimicError, match="model type 'idefics3' is not supported"):
        pool_inputs(hf.model, inputs, 2)
    with pytest.raises(MimicError, match="not supported"):
        pooled_model(hf, 2)


def test_pooling_study_runs_the_bench_per_factor(bench_dir: Path, tmp_path: Path) -> None:
    hf = HFModel(*build("qwen2_vl"), name="tiny:qwen2_vl")
    bench = load_bench(bench_dir)
    result = pooling_study(hf, bench, [1, 4], tmp_path / "pool")
    assert [p["k"] for p in result["points"]] == [1, 4]
    tokens = [p["tokens_per_image"] for p in result["points"]]
    counts = image_token_counts(hf, bench, bench.samples)
    features, _ = image_features(hf.model, encode(hf, bench.samples[0], bench.image_paths(bench.samples[0])))
    assert counts == [f.shape[0] for f in features] * 2 and len(set(counts)) > 1  # images of several sizes
    assert tokens == [sum(counts) / 8, sum(math.ceil(n / 4) for n in counts) / 8]
    assert orjson.loads((tmp_path / "pool" / "pooling.json").read_bytes()) == result
    assert (tmp_path / "pool" / "pooling.png").stat().st_size > 1000
    section = pooling_section([load_run(tmp_path / "pool" / "runs" / "k=4")])  # a run of the study leads to it
    assert section.blocks[1].rows[1][:2] == ["4", f"{tokens[1]:.1f}"] and section.blocks[2].name == "pooling-0"
    plain = hf.generate([_request(bench, s) for s in bench.samples])
    pooled_1 = orjson.loads((tmp_path / "pool" / "runs" / "k=1" / "predictions.jsonl").read_bytes().splitlines()[0])
    assert pooled_1["output"] == plain[0].text  # k = 1 answers exactly as the unpooled model


def _request(bench, s):
    from mimic_vlm.evaluate.tasks import get_task
    from mimic_vlm.models.base import Request

    return Request(id=s.id, images=tuple(bench.image_paths(s)), text=get_task(s.task).prompt(s), max_new_tokens=16)
