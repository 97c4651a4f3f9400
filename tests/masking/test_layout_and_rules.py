"""Image block ids and the restricted masks equal references built independently here, on random layouts."""

from __future__ import annotations

import random

import pytest
import torch
from torch.nn.attention.flex_attention import create_mask
from transformers.masking_utils import eager_mask, sdpa_mask

from mimic_vlm.errors import MimicError
from mimic_vlm.masking import ImageBlockMask, blocks, image_block_ids, mask_from_options, parse_layers
from mimic_vlm.masking.attention import resolve_backend
from mimic_vlm.masking.blocks import plan
from mimic_vlm.masking.mask import block_mask, padded_length, restrict_additive, restrict_bool
from mimic_vlm.models.tiny import FAMILIES, build

PAD = 0


def image_tokens(family: str, tok, rng: random.Random) -> list[tuple[int, bool]]:
    """One image as (token id, is a placeholder) pairs, laid out the way the family's processor does."""
    t = tok.convert_tokens_to_ids
    if family in ("qwen2_vl", "qwen2_5_vl"):
        return [(t("<|vision_start|>"), False)] + [(t("<|image_pad|>"), True)] * rng.choice([4, 9]) + [
            (t("<|vision_end|>"), False)]
    if family == "internvl":
        return [(t("<img>"), False)] + [(t("<IMG_CONTEXT>"), True)] * 4 * rng.choice([1, 3]) + [(t("</img>"), False)]
    if family == "llava_onevision":
        return [(t("<image>"), True)] * 17
    rows, cols = rng.choice([(0, 0), (1, 2), (2, 2)])
    out: list[tuple[int, bool]] = []
    for r in range(rows):
        for c in range(cols):
            out += [(t("<fake_token_around_image>"), False), (t(f"<row_{r + 1}_col_{c + 1}>"), False)]
            out += [(t("<image>"), True)] * 4
        out.append((10, False))
    return out + [(t("<fake_token_around_image>"), False), (t("<global-img>"), False)] + [
        (t("<image>"), True)] * 4 + [(t("<fake_token_around_image>"), False)]


def random_batch(family: str, tok, seed: int, side: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Rows with 0-4 images, sometimes touching, padded on `side`: (input_ids, attention_mask, expected ids)."""
    rng = random.Random(seed)
    rows = []
    for n_images in rng.sample([0, 1, 2, 3, 4], 4):
        ids, blocks = [rng.randrange(33, 120) for _ in range(rng.randrange(1, 4))], []
        blocks = [-1] * len(ids)
        for k in range(n_images):
            for token, is_image in image_tokens(family, tok, rng):
                ids.append(token)
                blocks.append(k if is_image and n_images > 1 else -1)
            if rng.random() < 0.5:  # text between images, or touching images
                ids.append(rng.randrange(33, 120))
                blocks.append(-1)
        rows.append((ids, blocks))
    width = max(len(ids) for ids, _ in rows)

    def pad(seq: list[int], value: int) -> list[int]:
        fill = [value] * (width - len(seq))
        return fill + seq if side == "left" else seq + fill

    input_ids = torch.tensor([pad(ids, PAD) for ids, _ in rows])
    attention = torch.tensor([pad([1] * len(ids), 0) for ids, _ in rows])
    return input_ids, attention, torch.tensor([pad(blocks, -1) for _, blocks in rows])


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("side", ["left", "right"])
def test_block_ids_match_layout(family: str, side: str) -> None:
    model, proc = build(family, num_layers=1)
    for seed in range(5):
        input_ids, _, expected = random_batch(family, proc.tokenizer, seed, side)
        assert torch.equal(image_block_ids(input_ids, model), expected)
        assert torch.equal(image_block_ids(input_ids, model.config), expected)


def reference_mask(blocks: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
    """Loop version of the rule: causal, no padded key, and an image query sees only its own image."""
    rows = []
    for ids, keep in zip(blocks.tolist(), attention.tolist(), strict=True):
        rows.append([[kv <= q and bool(keep[kv]) and (ids[q] < 0 or ids[q] == ids[kv]) for kv in range(len(ids))]
                     for q in range(len(ids))])
    return torch.tensor(rows)[:, None]


@pytest.mark.parametrize("side", ["left", "right"])
def test_restricted_masks_equal_reference(side: str) -> None:
    _, proc = build("idefics3", num_layers=1)
    for seed in range(3):
        _, attention, blocks = random_batch("idefics3", proc.tokenizer, seed, side)
        batch, n = blocks.shape
        expected = reference_mask(blocks, attention)
        real_queries = attention.bool()[:, None, :, None].expand_as(expected)  # pad query rows are don't-care
        base = sdpa_mask(batch_size=batch, q_length=n, kv_length=n, attention_mask=attention.bool())
        assert torch.equal(restrict_bool(base, blocks, n, n)[real_queries], expected[real_queries])
        additive = restrict_additive(eager_mask(batch_size=batch, q_length=n, kv_length=n,
                                                attention_mask=attention.bool()), blocks, n, n, torch.float32)
        assert torch.equal((additive == 0)[real_queries], expected[real_queries])
        flex = block_mask(blocks, attention, n, n, compile=False)
        assert torch.equal(create_mask(flex.mask_mod, batch, 1, n, n), expected)
        size = padded_length(n, 64)
        padded = create_mask(block_mask(blocks, attention, n, n, compile=False, tile=64, pad_to=(size, size)).mask_mod,
                             batch, 1, size, size)
        assert size % 64 == 0 and torch.equal(padded[..., :n, :n], expected)
        assert not padded[..., n:].any()  # padded keys are never attended
        assert torch.equal(planned_pairs(blocks, base, n, n)[real_queries], expected[real_queries])
    unpadded = torch.tensor([[-1, 0, 0, -1, 1, 1, -1]])
    assert torch.equal(restrict_bool(None, unpadded, 7, 7), reference_mask(unpadded, torch.ones(1, 7)))


def planned_pairs(blocks: torch.Tensor, base: torch.Tensor | None, q_len: int, kv_len: int) -> torch.Tensor:
    """The (query, key) pairs the blocks backend's grouping computes, as a dense `[B, 1, Q, KV]` mask."""
    layout = plan(blocks, base, q_len, kv_len)
    pairs = torch.zeros(blocks.shape[0], 1, q_len, kv_len, dtype=torch.bool)
    covered = torch.zeros(blocks.shape[0] * q_len, dtype=torch.long)
    for g in layout.groups:
        for row, pos, mask in zip(g.rows.tolist(), g.pos, g.mask if g.mask is not None else [None] * len(g.rows),
                                  strict=True):
            covered[row * q_len + pos] += 1
            if mask is None:  # causal among the image's own positions
                keys = pos + kv_len - q_len
                pairs[row, 0, pos[:, None], keys[None, :]] = keys[None, :] <= keys[:, None]
            else:
                pairs[row, 0, pos] = mask[0]
    assert covered.tolist() == [1] * len(covered)  # every query answered exactly once
    flat = torch.cat([g.flat for g in layout.groups])
    assert sorted(flat.tolist()) == list(range(len(covered)))
    return pairs


def test_blocks_plan_groups_equal_images_into_one_call() -> None:
    ids = torch.tensor([[-1, 0, 0, 0, -1, 1, 1, 1, -1, 2, 2, -1], [-1, -1, 0, 0, 0, 1, 1, -1, -1, -1, -1, -1]])
    layout = plan(ids, None, 12, 12)
    shapes = sorted((tuple(g.pos.shape), g.mask is None) for g in layout.groups)
    assert shapes == [((1, 4), False), ((1, 7), False), ((2, 2), True), ((3, 3), True)]  # images by length
    assert torch.equal(planned_pairs(ids, None, 12, 12), reference_mask(ids, torch.ones(2, 12)))
    chunk = torch.tensor([[0, 0, 1, 1, -1]])  # 3 cached tokens, then a chunk with two images
    assert torch.equal(planned_pairs(chunk, None, 5, 8), restrict_bool(None, chunk, 5, 8))


def test_decode_step_sees_everything_and_cached_keys_are_text() -> None:
    last_text = torch.tensor([[0, 0, 1, 1, -1]])
    assert restrict_bool(None, last_text[:, -1:], 1, 5).all()  # a generated token is text: full attention
    chunk = torch.tensor([[0, 0, 1]])  # 2 cached tokens, then a chunk with two images
    assert restrict_bool(None, chunk, 3, 5)[0, 0].tolist() == [
        [False, False, True, False, False], [False, False, True, True, False], [False, False, False, False, True]]


def test_layers_and_options() -> None:
    assert parse_layers("12-23", 24) == frozenset(range(12, 24))
    assert parse_layers("0,3-4", 8) == {0, 3, 4}
    assert parse_layers("second-half", 5) == {2, 3, 4}
    assert parse_layers("all", 3) == {0, 1, 2} == parse_layers(range(3), 3) == parse_layers([2, 1, 0], 3)
    with pytest.raises(MimicError, match="layers 0-3, got \\[4, 5\\]"):
        parse_layers("4-5", 4)
    with pytest.raises(MimicError, match="expected 'A-B'"):
        parse_layers("deep", 4)
    with pytest.raises(MimicError, match="choose one of auto, blocks, sdpa, eager, flex"):
        ImageBlockMask("all", backend="xformers")
    for bad in ("abc", "3-1", "1,,2", ""):  # syntax fails at construction, before any model exists
        with pytest.raises(MimicError, match=f"mask layers {bad!r}"):
            ImageBlockMask(bad)
    with pytest.raises(MimicError, match="mask layers 'x'"):
        mask_from_options("x")
    assert ImageBlockMask("40-47").layers == "40-47"  # the range is checked against the model at attach
    assert mask_from_options(None, "sdpa") is None and mask_from_options("none", "sdpa") is None
    mask = mask_from_options("2-3", "eager")
    assert (mask.layers, mask.backend) == ("2-3", "eager")
    model, _ = build("qwen2_vl", num_layers=2)
    with pytest.raises(MimicError, match="layers 0-1, got \\[2, 3\\]"):
        mask.attach(model)
    assert model.config.get_text_config()._attn_implementation == "sdpa"  # nothing changed on failure


def test_auto_is_the_default_and_resolves_per_device_and_phase() -> None:
    mask = ImageBlockMask("all")
    assert mask.backend == "auto" == mask_from_options("all").backend and mask.resolved is None
    model, _ = build("qwen2_vl", num_layers=2)
    mask.attach(model)
    assert mask.resolved == {"prefill": "blocks", "training": "blocks"}
    assert model.config.get_text_config()._attn_implementation == "mimic_image_block_auto"
    assert resolve_backend("auto", "cuda:0", "training") == "blocks"
    assert resolve_backend("flex", "cpu", "prefill") == "flex"  # a named backend is itself
    assert ImageBlockMask("all", "sdpa").resolve("cpu") == {"prefill": "sdpa", "training": "sdpa"}


def reference_varlen(q, k, v, cu_q, cu_k, max_q, max_k, *, scale, window_size, enable_gqa):
    """`varlen_attn`'s contract in plain torch (the flash kernel itself runs on CUDA only)."""
    assert window_size == (-1, 0) and torch.equal(cu_q, cu_k) and max_q == max_k == int(cu_q.diff().max())
    out = torch.empty_like(q)
    for a, b in zip(cu_q[:-1].tolist(), cu_q[1:].tolist(), strict=True):
        qs, ks, vs = (x[a:b].transpose(0, 1) for x in (q, k, v))
        out[a:b] = torch.nn.functional.scaled_dot_product_attention(
            qs, ks, vs, is_causal=True, scale=scale, enable_gqa=enable_gqa).transpose(0, 1)
    return out


def test_packed_images_in_one_varlen_call_equal_the_grouped_calls() -> None:
    """Images of unequal lengths, left padding and a cached prefix: one varlen call answers every image query
    as the per-length SDPA calls do; text queries are untouched."""
    ids = torch.tensor([[-1, 0, 0, 0, -1, 1, 1, 1, 1, 1, -1, 2, 2, -1],
                        [-1, -1, -1, -1, 0, 0, 1, 1, 1, -1, -1, -1, -1, -1]])
    for q_len, kv_len in ((14, 14), (10, 12)):
        layout = plan(ids, None, q_len, kv_len)
        assert layout.packed is not None and layout.packed.cu.tolist()[-1] == int((ids[:, -q_len:] >= 0).sum())
        torch.manual_seed(q_len)
        q = torch.randn(2, 4, q_len, 8)
        k, v = torch.randn(2, 2, kv_len, 8), torch.randn(2, 2, kv_len, 8)
        want, _ = blocks.attend(None, q, k, v, layout)  # CPU: no varlen kernel, the grouped calls
        got, _ = blocks.attend(None, q, k, v, layout, varlen=reference_varlen)
        assert torch.allclose(got, want, atol=1e-6)
    assert plan(torch.full((1, 5), -1), None, 5, 5).packed is None
    assert blocks.varlen_kernel(q, 0.0) is None  # CPU: the grouped calls
