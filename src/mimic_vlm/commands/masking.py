"""`mimic cost`: what the image-block mask saves in FLOPs and mask memory, for a model and a layout."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from mimic_vlm.commands.options import MASK_LAYERS
from mimic_vlm.errors import MimicError
from mimic_vlm.limits import MAX_LAYERS


def register(app: typer.Typer) -> None:
    app.command("cost")(cost)


def cost(
    model: str | None = typer.Argument(None, metavar="MODEL", help="A config.json (or model folder), or a known model: "
                                                  "llava-ov-0.5b, llava-ov-7b, qwen2-vl-2b, qwen2-vl-7b, ..."),
    layers: int | None = typer.Option(None, min=1, max=MAX_LAYERS, help="Decoder layers (explicit sizes instead of MODEL)."),
    heads: int | None = typer.Option(None, min=1, help="Attention heads."),
    kv_heads: int | None = typer.Option(None, min=1, help="Key/value heads (default: heads)."),
    head_dim: int | None = typer.Option(None, min=1, help="Head dimension (default: hidden / heads)."),
    hidden: int | None = typer.Option(None, min=1, help="Hidden size."),
    intermediate: int | None = typer.Option(None, min=1, help="MLP intermediate size."),
    images: int = typer.Option(8, "--n-images", min=1, help="Images per sample."),
    tokens_per_image: int = typer.Option(730, min=1, help="Tokens per image (LLaVA-OV: 729 + newline)."),
    text_tokens: int = typer.Option(60, min=0, help="Text tokens after the images."),
    prefix_tokens: int = typer.Option(0, min=0, help="Text tokens before the images."),
    mask_layers: str = typer.Option("second-half", help=f"Masked {MASK_LAYERS}."),
    batch: int = typer.Option(1, "--batch-size", min=1, help="Samples per batch (scales FLOPs and mask memory)."),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """Attention and decoder FLOPs with/without the image-block mask, and official vs our mask memory."""
    from mimic_vlm.masking.attention import parse_layers
    from mimic_vlm.masking.cost import SequenceLayout, TextModelShape, mask_cost, resolve_shape

    sizes = {"layers": layers, "heads": heads, "hidden": hidden, "intermediate": intermediate}
    if model is not None:
        shape = resolve_shape(model)
    elif None in sizes.values():
        missing = ", ".join(f"--{k}" for k, v in sizes.items() if v is None)
        raise MimicError(f"mimic cost: give a MODEL (config.json or known name) or all explicit sizes (missing {missing})")
    else:
        assert layers is not None and heads is not None and hidden is not None and intermediate is not None
        if heads > hidden and head_dim is None:  # hidden // heads: a head of 0 dimensions
            raise MimicError(f"--heads {heads}: more heads than --hidden {hidden} (or give --head-dim)")
        shape = TextModelShape(layers=layers, heads=heads, kv_heads=kv_heads or heads,
                               head_dim=head_dim or hidden // heads, hidden=hidden, intermediate=intermediate)
    if shape.layers > MAX_LAYERS:  # the masked-layer set is built in memory
        raise MimicError(f"{model}: {shape.layers} layers; mimic cost takes up to {MAX_LAYERS}")
    layout = SequenceLayout(images=images, tokens_per_image=tokens_per_image, text=text_tokens, prefix=prefix_tokens)
    result = mask_cost(shape, layout, parse_layers(mask_layers, shape.layers), batch=batch)
    if as_json:
        print(json.dumps(result, indent=2))
        return
    Console().print(cost_table(result))


def _human(n: float, unit: str) -> str:
    for prefix in ("", "K", "M", "G", "T", "P"):
        if abs(n) < 1000:
            return f"{n:.3g} {prefix}{unit}"
        n /= 1000
    return f"{n:.3g} E{unit}"


def cost_table(result: dict) -> Table:
    lay = result["layout"]
    table = Table(title=f"image-block mask: {lay['images']} images x {lay['tokens_per_image']} tokens + "
                        f"{lay['prefix'] + lay['text']} text = {lay['length']} tokens, "
                        f"{len(result['masked_layers'])}/{result['model']['layers']} layers masked")
    for col in ("quantity", "without mask", "with mask", "reduction"):
        table.add_column(col, justify="left" if col == "quantity" else "right")
    for key, label in (("attention_flops_masked_layer", "attention FLOPs, one masked layer"),
                       ("attention_flops_all_layers", "attention FLOPs, all layers"),
                       ("decoder_flops", "decoder FLOPs (proj + MLP + attention)")):
        row = result[key]
        table.add_row(label, _human(row["dense"], "FLOP"), _human(row["masked"], "FLOP"), f"{row['reduction']:.1%}")
    mem = result["mask_bytes"]
    table.add_row("mask memory: official [B,H,L,L] -> ours sdpa [B,1,L,L]", _human(mem["official_dense_per_head"], "B"),
                  _human(mem["ours_sdpa"], "B"), f"{1 - mem['sdpa_vs_official']:.1%}")
    table.add_row("mask memory: ours flex BlockMask", "", _human(mem["ours_flex_block_mask"], "B"),
                  f"{1 - mem['ours_flex_block_mask'] / mem['official_dense_per_head']:.2%}")
    table.caption = ("The paper-style '~81% fewer FLOPs' is the attention-FLOP reduction in a masked layer "
                     "(~1 - 1/images); the whole decoder saves far less.")
    return table
