"""`mimic train` and `mimic eval --adapter` on bad input: one line naming the problem, nothing written, nothing
existing lost (a run folder of another command, an earlier training run)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from mimic_vlm.cli import main

BASE = '{"hidden_size": 32, "num_layers": 2}'


def write_llava(folder: Path, n: int = 4) -> Path:
    """`n` two-image conversations with 56 px images: enough for a real one-step run."""
    folder.mkdir(parents=True)
    rows = []
    for i in range(n):
        for j in range(2):
            Image.new("RGB", (56, 56), (40 * i, 200 - 40 * j, 90)).save(folder / f"{i}_{j}.png")
        rows.append({"id": f"s{i}", "image": [f"{i}_0.png", f"{i}_1.png"], "conversations": [
            {"from": "human", "value": "<image>\n<image>\nHow many images?"}, {"from": "gpt", "value": "2"}]})
    (folder / "train_llava.json").write_text(json.dumps(rows))
    return folder / "train_llava.json"


def train_args(data: Path, out: Path, *extra: str) -> list[str]:
    return ["train", "--model", "tiny:qwen2_vl", "--data", str(data), "--out", str(out), "--max-steps", "1",
            "--batch-size", "2", "--lora-r", "4", "--base-config", BASE, *extra]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_llava(tmp_path_factory.mktemp("data") / "d")


@pytest.fixture(scope="module")
def adapter(tmp_path_factory, data) -> Path:
    """A real LoRA adapter of tiny:qwen2_vl, one step."""
    out = tmp_path_factory.mktemp("adapter") / "lora"
    main(train_args(data, out))
    return out


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------- the output folder

@pytest.mark.parametrize("overwrite", [True, False], ids=["overwrite", "plain"])
def test_train_never_takes_an_eval_run_folder(bench_dir, data, tmp_path, cli, overwrite):
    """An eval run folder holds a run.json too; train used to take it for its own and replace it."""
    victim = tmp_path / "victim"
    assert cli("eval", bench_dir, "--model", "chance", "--out", victim, "--no-progress").code == 0
    before = snapshot(victim)
    assert "predictions.jsonl" in before
    cli(*train_args(data, victim, *(["--overwrite"] if overwrite else []))).one_error_line(
        f"{victim}: not a mimic train folder", "--overwrite replaces only a folder mimic train made")
    assert snapshot(victim) == before


def test_overwrite_still_replaces_a_training_run(data, adapter, tmp_path, cli):
    out = tmp_path / "again"
    assert cli(*train_args(data, out)).code == 0
    (out / "adapter_model.safetensors").write_bytes(b"old")
    assert cli(*train_args(data, out, "--overwrite")).code == 0
    assert (out / "adapter_model.safetensors").read_bytes() != b"old"


def test_an_option_that_fails_after_the_model_loads_costs_no_earlier_run(data, tmp_path, cli):
    """Mask layers beyond the base's layers are only known once the model is built: the old run must stay."""
    out = tmp_path / "run"
    assert cli(*train_args(data, out)).code == 0
    before = snapshot(out)
    cli(*train_args(data, out, "--overwrite", "--mask-layers", "5-9")).one_error_line(
        "mask layers '5-9': the text model has layers 0-1")
    assert snapshot(out) == before


def test_a_run_that_fails_before_its_first_checkpoint_leaves_no_folder(data, tmp_path):
    from transformers import TrainerCallback

    from mimic_vlm.train import TrainConfig, train

    class Boom(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            raise RuntimeError("boom")

    out = tmp_path / "fresh"
    cfg = TrainConfig(model="tiny:qwen2_vl", data=[str(data)], out=out, max_steps=2, batch_size=2,
                      base_kwargs=json.loads(BASE))
    with pytest.raises(RuntimeError, match="boom"):
        train(cfg, callbacks=[Boom()])
    assert not out.exists()
    out.mkdir()  # an empty folder given as --out is left empty again
    with pytest.raises(RuntimeError, match="boom"):
        train(cfg, callbacks=[Boom()])
    assert out.is_dir() and not any(out.iterdir())


@pytest.mark.skipif(torch.cuda.is_available(), reason="flex trains on a GPU")
def test_flex_on_the_cpu_is_refused_before_anything_is_written(data, tmp_path, cli):
    out = tmp_path / "trx"
    cli(*train_args(data, out, "--mask-backend", "flex", "--mask-layers", "all")).one_error_line(
        "--mask-backend flex: compiled FlexAttention has no backward on the CPU")
    assert not out.exists()


# ---------------------------------------------------------------- options

BASE_CONFIGS = [
    ('{"hidden_size": -1}', "--base-config: 'hidden_size' must be a whole number >= 1, not -1"),
    ('{"hidden_size": "x"}', "--base-config: 'hidden_size' must be a whole number >= 1, not 'x'"),
    ('{"hidden_size": 33}', "--base-config: 'hidden_size' 33 must be a multiple of 'num_attention_heads' 4"),
    ('{"hidden_size": 33, "num_heads": 4}', "--base-config: unknown option(s) 'num_heads'; known: num_layers"),
    ('{"foo": 1}', "--base-config: unknown option(s) 'foo'; known: num_layers, seed, vision, words, hidden_size"),
    ('{"num_attention_heads": 4, "num_key_value_heads": 3}',
     "--base-config: 'num_attention_heads' 4 must be a multiple of 'num_key_value_heads' 3"),
    ('{"vision": {"depth": 0}}', "--base-config: vision option 'depth' must be a whole number >= 1, not 0"),
    ('{"vision": {"hidden_act": 3}}', "--base-config: vision option 'hidden_act'"),
]


@pytest.mark.parametrize(("spec", "message"), BASE_CONFIGS, ids=[c[0] for c in BASE_CONFIGS])
def test_base_config_is_checked_key_by_key(data, tmp_path, cli, spec, message):
    args = train_args(data, tmp_path / "t")
    args[args.index("--base-config") + 1] = spec
    cli(*args).one_error_line(message)
    assert not (tmp_path / "t").exists()


def test_tiny_build_refuses_what_base_config_refuses():
    from mimic_vlm.errors import MimicError
    from mimic_vlm.models.tiny import build

    with pytest.raises(MimicError, match="tiny:qwen2_vl: unknown option"):
        build("qwen2_vl", foo=1)
    with pytest.raises(MimicError, match="tiny:qwen2_vl: 'num_layers' must be a whole number >= 1, not 0"):
        build("qwen2_vl", num_layers=0)


OPTIONS = [
    (["--seed", "-1"], "'--seed': Input should be greater than or equal to 0"),
    (["--seed", str(2**32)], "'--seed': Input should be less than or equal to 4294967295"),
    (["--max-steps", "0"], "--max-steps 0: give a number of steps >= 1, or -1 to train for --epochs"),
    (["--max-steps", "-1", "--epochs", "0"], "'--epochs': 0 is not in the range 0<x<=10000"),
    (["--num-processes", "2"], "--num-processes 2: only with --accelerate-config"),
]


@pytest.mark.parametrize(("extra", "message"), OPTIONS, ids=[" ".join(c[0]) for c in OPTIONS])
def test_train_options(data, tmp_path, cli, extra, message):
    cli(*train_args(data, tmp_path / "t", *extra)).one_error_line(message)
    assert not (tmp_path / "t").exists()


@pytest.mark.parametrize(("text", "message"), [
    ("hi\n", "must be a mapping of settings"), ("", "not empty"), ("a: [1\n", "invalid YAML"),
    ("num_processes: -3\n", "distributed_type None: expected one of NO, MULTI_CPU"),  # accelerate died on these
    ("distributed_type: BOGUS\n", "distributed_type 'BOGUS': expected one of"),
    ("distributed_type: MULTI_GPU\nnum_processes: -3\n", "num_processes -3: expected a positive integer"),
])
def test_accelerate_config_must_be_a_mapping(data, tmp_path, cli, text, message):
    config = tmp_path / "a.yaml"
    config.write_text(text)
    cli(*train_args(data, tmp_path / "t", "--accelerate-config", str(config))).one_error_line(
        f"--accelerate-config {config}", message)
    assert not (tmp_path / "t").exists()


# ---------------------------------------------------------------- eval --adapter

def broken_copy(adapter: Path, to: Path, name: str, content: bytes | None) -> Path:
    """A copy of `adapter` with file `name` replaced by `content` (None: removed)."""
    import shutil

    shutil.copytree(adapter, to, ignore=shutil.ignore_patterns("checkpoints"))
    if content is None:
        (to / name).unlink()
    else:
        (to / name).write_bytes(content)
    return to


def test_eval_adapter_problems_name_the_folder(bench_dir, adapter, tmp_path, cli):
    def ev(model: str, folder: Path):
        return cli("eval", bench_dir, "--model", model, "--adapter", folder, "--out", tmp_path / "ev",
                   "--no-progress")

    ev("tiny:smolvlm", adapter).one_error_line(f"--adapter {adapter}: trained on --model tiny:qwen2_vl, "
                                               "not tiny:smolvlm")
    bare = broken_copy(adapter, tmp_path / "bare", "mimic_train.json", None)  # a PEFT adapter from elsewhere
    ev("tiny:smolvlm", bare).one_error_line(f"--adapter {bare}: cannot apply it to this model",
                                            "NoMatchingPeftModuleError")
    torn = broken_copy(adapter, tmp_path / "torn", "adapter_model.safetensors",
                       (adapter / "adapter_model.safetensors").read_bytes()[:100])
    ev("tiny:qwen2_vl", torn).one_error_line(f"--adapter {torn}: cannot apply it to this model "
                                             "(trained on tiny:qwen2_vl)", "SafetensorError")
    bad = broken_copy(adapter, tmp_path / "bad", "adapter_config.json", b'{"r": ')
    ev("tiny:qwen2_vl", bad).one_error_line(f"{bad / 'adapter_config.json'}: invalid JSON")
    ev("chance", adapter).one_error_line(f"--adapter {adapter}: only hf:, tiny:, toy: models take an adapter, "
                                         "not --model chance")
    assert not (tmp_path / "ev").exists()
    assert ev("tiny:qwen2_vl", adapter).code == 0  # the sound adapter still loads


def test_train_outputs_honour_the_umask(data, tmp_path, cli):
    """safetensors writes its files 0600: a shared adapter was unreadable for the group."""
    import os
    import stat

    out = tmp_path / "t"
    old = os.umask(0o022)
    try:
        assert cli(*train_args(data, out, "--save-steps", "1")).code == 0
    finally:
        os.umask(old)
    weights = sorted(out.rglob("*.safetensors"))
    assert len(weights) >= 2  # the adapter and its checkpoint's
    assert {stat.S_IMODE(p.stat().st_mode) for p in weights} == {0o644}
