"""End-to-end training runs on a tiny Qwen2-VL: learning, what changes, saving/reloading, resuming, the CLI."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from peft import PeftModel
from transformers import TrainerCallback

from mimic_vlm.errors import MimicError
from mimic_vlm.models import tiny
from mimic_vlm.train.data import ChatCollator, load_data
from mimic_vlm.train.engine import TRAIN_SETTINGS, TrainConfig, last_checkpoint, load_trained, train
from mimic_vlm.train.finetune import LoraSettings, find_parts
from mimic_vlm.train.launch import accelerate_config_path, launch_command, strip_options

FAMILY = "qwen2_vl"


def config(toy, out: Path, **kw) -> TrainConfig:
    base = dict(model=f"tiny:{FAMILY}", data=[str(toy["llava"])], out=out, lora=LoraSettings(8, 16, 0.05),
                lr=1e-2, warmup_ratio=0.1, max_steps=20, batch_size=8, save_steps=1000, logging_steps=4)
    return TrainConfig(**(base | kw))


def losses(log) -> list[float]:
    return [e["loss"] for e in log if "loss" in e]


def logits(model, batch) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model(**{k: v for k, v in batch.items() if k != "labels"}).logits


@pytest.fixture(scope="module")
def batch(toy):
    _, processor = tiny.build(FAMILY)
    return ChatCollator(processor)(load_data([toy["messages"]]).conversations[:4])


@pytest.fixture(scope="module")
def lora_run(toy, tmp_path_factory):
    return train(config(toy, tmp_path_factory.mktemp("lora") / "out", train_projector=True))


def lora_learned(log) -> bool:
    """A random tiny model's head has small weights, so LoRA alone cannot push the loss far below ~4.4
    (full fine-tuning reaches ~0.2): a drop of 0.5 nats is the learnable signal, from ln(vocab) ~ 5.3."""
    first, *_, last = losses(log)
    return last < first - 0.5


def test_lora_learns_and_changes_only_adapter_and_projector(lora_run):
    assert lora_learned(lora_run.log)
    base, _ = tiny.build(FAMILY)
    projector = find_parts(base).projector[0]
    before = dict(base.named_parameters())
    changed = set()
    for name, p in lora_run.model.named_parameters():
        key = name.removeprefix("base_model.model.").replace(".base_layer", "")
        if ".lora_" in name or ".modules_to_save." in name:
            original = key.replace(".modules_to_save.default", "")
            if ".modules_to_save." in name and not torch.equal(p, before[original]):
                changed.add(original.rsplit(".", 1)[0])
            continue
        if ".original_module." in name:
            key = key.replace(".original_module", "")
        assert torch.equal(p.detach(), before[key]), f"{key} changed"
    assert changed and all(c.startswith(projector) for c in changed)
    assert any(".lora_B." in n and p.abs().sum() > 0 for n, p in lora_run.model.named_parameters())


def test_saved_adapter_reloads_to_the_same_outputs(lora_run, batch):
    expected = logits(lora_run.model, batch)
    fresh, _ = tiny.build(FAMILY)
    reloaded = PeftModel.from_pretrained(fresh, str(lora_run.out))
    assert torch.equal(logits(reloaded, batch), expected)
    merged, _, settings = load_trained(lora_run.out)
    assert torch.allclose(logits(merged, batch), expected, atol=1e-5)
    written = json.loads((lora_run.out / TRAIN_SETTINGS).read_text())
    assert written["base_model"] == "tiny:qwen2_vl" and written["method"] == "lora"
    assert written["lora"]["r"] == 8 and written["lora"]["train_projector"] is True
    assert written["steps"] == 20 and written["seed"] == 0 and written["mask_layers"] is None
    assert written["data"][0]["sha256"] and written["samples"] == 8 == settings["samples"]
    timing = written["timing"]  # what a mask's training cost is read from
    assert timing["steps"] == 20 and timing["seconds"] > 0
    assert timing["seconds_per_step"] == pytest.approx(timing["seconds"] / 20, rel=1e-3)


def test_masked_training_learns_and_reloads_with_its_mask(toy, tmp_path, batch):
    result = train(config(toy, tmp_path / "out", mask_layers="2-3"))
    assert lora_learned(result.log)
    expected = logits(result.model, batch)
    merged, _, settings = load_trained(tmp_path / "out")
    assert settings["mask_layers"] == "2-3" and settings["mask_backend"] == "auto"
    assert settings["mask_backend_resolved"] == "blocks"  # what auto ran on this CPU
    assert torch.allclose(logits(merged, batch), expected, atol=1e-5)
    from mimic_vlm.masking import ImageBlockMask

    ImageBlockMask("2-3").detach(merged)  # the mask was attached on load: without it, outputs differ
    assert not torch.allclose(logits(merged, batch), expected, atol=1e-3)


def test_full_lm_keeps_vision_tower_and_projector_bit_identical(toy, tmp_path, batch):
    result = train(config(toy, tmp_path / "out", method="full-lm"))
    first, *_, last = losses(result.log)
    assert last < 0.5 * first
    base, _ = tiny.build(FAMILY)
    parts = find_parts(base)
    trained = dict(result.model.named_parameters())
    for name, p in base.named_parameters():
        frozen = name.startswith(parts.vision + parts.projector)
        assert torch.equal(p, trained[name]) == frozen, name
    merged, _, _ = load_trained(tmp_path / "out")
    assert torch.equal(logits(merged, batch), logits(result.model, batch))


class StepRecorder(TrainerCallback):
    def __init__(self) -> None:
        self.seen: list[int] = []

    def on_step_end(self, args, state, control, **kwargs):
        self.seen.append(state.global_step)


def _weights(model) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def test_killed_run_resumes_to_the_same_weights(toy, tmp_path):
    """SIGKILL a `mimic train` process once a checkpoint exists; `--resume` ends where an uninterrupted run ends."""
    kw = dict(max_steps=12, batch_size=4, save_steps=2, logging_steps=1, train_projector=True)
    reference = train(config(toy, tmp_path / "ref", **kw))
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "mimic_vlm", "train", "--model", f"tiny:{FAMILY}", "--data", str(toy["llava"]),
           "--out", str(out), "--lora-r", "8", "--lora-alpha", "16", "--lr", "1e-2", "--warmup-ratio", "0.1",
           "--max-steps", "12", "--batch-size", "4", "--save-steps", "2", "--logging-steps", "1",
           "--train-projector"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while last_checkpoint(out / "checkpoints") is None and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / TRAIN_SETTINGS).exists(), "the run finished before it could be killed"
    assert last_checkpoint(out / "checkpoints") is not None
    with pytest.raises(MimicError, match="use --resume"):
        train(config(toy, out, **kw))
    steps = StepRecorder()
    resumed = train(config(toy, out, **kw), resume=True, callbacks=[steps])
    assert steps.seen[0] > 2 and steps.seen[-1] == 12  # it continued from a checkpoint, not from step 0
    timing = json.loads((out / TRAIN_SETTINGS).read_text())["timing"]
    assert timing["steps"] == 12 - (steps.seen[0] - 1)  # only the steps this process trained are timed
    want, got = _weights(reference.model), _weights(resumed.model)
    assert want.keys() == got.keys()
    assert all(torch.allclose(want[k], got[k], atol=1e-6) for k in want)
    assert losses(resumed.log)[-1] == pytest.approx(losses(reference.log)[-1], abs=1e-5)


def test_resume_refuses_changed_settings(toy, tmp_path):
    train(config(toy, tmp_path, max_steps=2, save_steps=2))
    (tmp_path / TRAIN_SETTINGS).unlink()  # as if killed after the last checkpoint
    with pytest.raises(MimicError, match=r"different settings \(lr\)"):
        train(config(toy, tmp_path, max_steps=2, save_steps=2, lr=1e-3), resume=True)


def test_cli_trains_and_reports_errors(toy, tmp_path, capsys):
    from mimic_vlm.cli import main

    out = tmp_path / "out"
    args = ["train", "--model", f"tiny:{FAMILY}", "--data", str(toy["messages"]), "--out", str(out),
            "--lora-r", "4", "--max-steps", "2", "--batch-size", "2", "--mask-layers", "second-half"]
    main(args)
    assert json.loads((out / TRAIN_SETTINGS).read_text())["mask_layers"] == "second-half"
    assert (out / "adapter_model.safetensors").is_file()
    with pytest.raises(SystemExit) as e:
        main(args)
    assert e.value.code == 2 and "holds a finished run" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text(json.dumps([{"id": "z", "image": ["gone.png"], "conversations": [
        {"from": "human", "value": "<image>\nhi"}, {"from": "gpt", "value": "1"}]}]))
    with pytest.raises(SystemExit) as e:
        main(["train", "--model", f"tiny:{FAMILY}", "--data", str(tmp_path / "bad.json"), "--out", str(tmp_path / "o")])
    assert e.value.code == 2 and "gone.png: image of sample 'z' not found" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    for option, message in ((["--method", "half"], "--method half: choose one of lora, full-lm, full"),
                            (["--mask-backend", "flash_attention_2"], "flash-attention kernels ignore custom masks")):
        with pytest.raises(SystemExit) as e:
            main([*args[:5], "--out", str(tmp_path / "o"), "--mask-layers", "all", *option])
        assert e.value.code == 2 and message in capsys.readouterr().err


def test_accelerate_relaunch_command():
    cfg = accelerate_config_path("zero2")
    assert cfg.is_file() and "zero_stage: 2" in cfg.read_text()
    argv = ["--model", "hf:x", "--accelerate-config", "zero2", "--num-processes=4", "--out", "o"]
    cmd = launch_command(cfg, strip_options(argv, ("--accelerate-config", "--num-processes")), 4)
    assert cmd[1:] == ["-m", "accelerate.commands.launch", "--config_file", str(cfg), "--num_processes", "4",
                       "-m", "mimic_vlm", "train", "--model", "hf:x", "--out", "o"]
    with pytest.raises(MimicError, match="neither a shipped config"):
        accelerate_config_path("zero9")


def test_adapter_through_mimic_eval_matches_the_trained_model(toy, tmp_path):
    """`mimic eval --model hf:BASE --adapter OUT` rebuilds the trained model, mask included."""
    from mimic_vlm.cli import main
    from mimic_vlm.evaluate.runner import run_eval
    from mimic_vlm.models.hf import HFModel
    from mimic_vlm.schema import read_jsonl
    from mimic_vlm.store import load_bench

    base, processor = tiny.build(FAMILY)
    base.save_pretrained(tmp_path / "base")
    processor.save_pretrained(tmp_path / "base")
    result = train(config(toy, tmp_path / "adapter", model=f"hf:{tmp_path / 'base'}", mask_layers="2-3"))
    main(["generate", "--task", "counting", "--count", "4", "--n-images", "2-3", "--toy-images", "12",
          "--out", str(tmp_path / "bench")])
    main(["eval", "--model", f"hf:{tmp_path / 'base'}", "--adapter", str(tmp_path / "adapter"),
          str(tmp_path / "bench"), "--out", str(tmp_path / "run"), "--device", "cpu", "--no-progress"])
    in_memory = HFModel(result.model, processor, name="in-memory")
    run_eval(load_bench(tmp_path / "bench"), in_memory, tmp_path / "run-mem")
    outputs = {r["id"]: r["output"] for r in read_jsonl(tmp_path / "run" / "predictions.jsonl")}
    assert outputs == {r["id"]: r["output"] for r in read_jsonl(tmp_path / "run-mem" / "predictions.jsonl")}
    assert len(outputs) == 4 and any(outputs.values())
    assert json.loads((tmp_path / "run" / "run.json").read_text())["settings"]["model"]["mask"]


def test_last_checkpoint_skips_one_killed_while_saving(tmp_path):
    for step, state in ((2, "{}"), (4, "{}"), (6, None), (10, '{"trunc')):
        (tmp_path / f"checkpoint-{step}").mkdir()
        if state is not None:
            (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text(state)
    assert last_checkpoint(tmp_path) == str(tmp_path / "checkpoint-4")
    assert last_checkpoint(tmp_path / "absent") is None


class Crash(TrainerCallback):
    """Dies right after the checkpoint of step `at` is written, as a killed run would."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_save(self, args, state, control, **kwargs):
        if state.global_step == self.at:
            raise KeyboardInterrupt


def test_full_weights_resume_restores_every_weight(toy, tmp_path):
    """Full-weight checkpoints are stored with the original key layout; resuming must convert them back
    (the stock Trainer leaves the vision tower and language model at their current values)."""
    kw = dict(method="full", max_steps=4, save_steps=2, batch_size=4, lr=1e-3)
    reference = train(config(toy, tmp_path / "ref", **kw))
    with pytest.raises(KeyboardInterrupt):
        train(config(toy, tmp_path / "run", **kw), callbacks=[Crash(2)])
    resumed = train(config(toy, tmp_path / "run", **kw), resume=True)
    want, got = _weights(reference.model), _weights(resumed.model)
    assert all(torch.allclose(want[k], got[k], atol=1e-6) for k in want)


def test_ddp_two_processes_equal_one_process_with_the_global_batch(toy, tmp_path):
    """`torchrun --nproc_per_node 2 -m mimic_vlm train` (gloo DDP on CPU): 2 x 2 samples per step give the
    weights of one process with 4 (every toy answer has the same number of label tokens, so the means agree)."""
    from safetensors.torch import load_file

    kw = dict(lora=LoraSettings(4, 8, 0.0), max_steps=3, batch_size=4, mask_layers="second-half")
    train(config(toy, tmp_path / "single", **kw))
    with socket.socket() as s:  # a free port for the rendezvous
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", port,
                    "-m", "mimic_vlm", "train", "--model", f"tiny:{FAMILY}", "--data", str(toy["llava"]),
                    "--out", str(tmp_path / "ddp"), "--max-steps", "3", "--batch-size", "2", "--lora-r", "4",
                    "--lora-alpha", "8", "--lora-dropout", "0", "--lr", "1e-2", "--warmup-ratio", "0.1",
                    "--mask-layers", "second-half"], check=True, capture_output=True)
    assert json.loads((tmp_path / "ddp" / TRAIN_SETTINGS).read_text())["world_size"] == 2
    single = load_file(tmp_path / "single" / "adapter_model.safetensors")
    ddp = load_file(tmp_path / "ddp" / "adapter_model.safetensors")
    assert single.keys() == ddp.keys()
    assert all(torch.allclose(single[k], ddp[k], atol=1e-5) for k in single)


def test_cli_base_config_sizes_a_tiny_base_and_is_recorded(toy, tmp_path, capsys):
    from mimic_vlm.cli import main

    out = tmp_path / "full"
    spec = '{"hidden_size": 32, "num_layers": 2, "vision": {"depth": 1, "embed_dim": 48, "num_heads": 2}}'
    main(["train", "--model", f"tiny:{FAMILY}", "--base-config", spec, "--data", str(toy["llava"]), "--out",
          str(out), "--method", "full", "--max-steps", "1", "--batch-size", "2", "--no-gradient-checkpointing"])
    settings = json.loads((out / TRAIN_SETTINGS).read_text())
    assert settings["base_kwargs"] == json.loads(spec)
    config = json.loads((out / "config.json").read_text())
    assert config["text_config"]["hidden_size"] == 32 and config["text_config"]["num_hidden_layers"] == 2
    assert (config["vision_config"]["depth"], config["vision_config"]["embed_dim"]) == (1, 48)
    for argv, message in (([f"tiny:{FAMILY}", "{hidden"], "--base-config: invalid JSON"),
                          ([f"tiny:{FAMILY}", "[1]"], "--base-config: expected a JSON object, got '[1]'"),
                          (["hf:/nowhere", "{}"], "--base-config: only for tiny:FAMILY bases, not --model hf:/nowhere")):
        with pytest.raises(SystemExit) as e:
            main(["train", "--model", argv[0], "--base-config", argv[1], "--data", str(toy["llava"]),
                  "--out", str(tmp_path / "bad")])
        assert e.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_lr_scheduler_constant_keeps_the_peak_after_warm_up(toy, tmp_path):
    result = train(config(toy, tmp_path, max_steps=6, save_steps=6, logging_steps=1, lr=1e-3, warmup_ratio=0.34,
                          lr_scheduler="constant"))
    lrs = [row["learning_rate"] for row in result.log if "learning_rate" in row]
    assert lrs[0] < 1e-3 and lrs[-3:] == [pytest.approx(1e-3)] * 3
    assert json.loads((tmp_path / TRAIN_SETTINGS).read_text())["lr_scheduler"] == "constant"
    with pytest.raises(MimicError, match="--lr-scheduler step: choose one of cosine, linear, constant"):
        train(config(toy, tmp_path / "bad", lr_scheduler="step"))
    assert not (tmp_path / "bad").exists()


def test_a_run_recorded_before_lr_scheduler_existed_still_resumes(toy, tmp_path):
    train(config(toy, tmp_path, max_steps=2, save_steps=2))
    (tmp_path / TRAIN_SETTINGS).unlink()  # as if killed after the last checkpoint
    settings = tmp_path / "run.json"
    record = json.loads(settings.read_text())
    del record["lr_scheduler"]  # as an older version wrote it (it always used cosine)
    settings.write_text(json.dumps(record))
    train(config(toy, tmp_path, max_steps=2, save_steps=2), resume=True)
    (tmp_path / TRAIN_SETTINGS).unlink()
    with pytest.raises(MimicError, match=r"different settings \(lr_scheduler\)"):
        train(config(toy, tmp_path, max_steps=2, save_steps=2, lr_scheduler="constant"), resume=True)


def test_a_second_train_into_the_same_folder_is_refused_even_with_overwrite(toy, tmp_path):
    """Two real processes: while one trains, a second `mimic train` into its --out (with --overwrite too) is
    refused with one line, and deletes nothing; once the first is killed, its lock is gone."""
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "mimic_vlm", "train", "--model", f"tiny:{FAMILY}", "--data", str(toy["llava"]),
           "--out", str(out), "--lora-r", "4", "--batch-size", "2", "--save-steps", "1", "--logging-steps", "1"]
    first = subprocess.Popen([*cmd, "--max-steps", "100000"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while last_checkpoint(out / "checkpoints") is None and first.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    try:
        assert last_checkpoint(out / "checkpoints") is not None, "the first run saved no checkpoint"
        for extra in ([], ["--overwrite"]):
            second = subprocess.run([*cmd, "--max-steps", "1", *extra], capture_output=True, text=True, timeout=120)
            assert second.returncode == 2 and second.stderr.strip().splitlines() == [
                f"error: {out}: another mimic train is writing to this folder right now; wait for it to finish or "
                "choose another --out"], second.stderr
            assert first.poll() is None and (out / "run.json").exists()  # the first run is untouched
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    again = subprocess.run([*cmd, "--max-steps", "1", "--overwrite"], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert (out / TRAIN_SETTINGS).exists() and not any(p.name.startswith(".") for p in out.iterdir())


def test_a_run_refused_before_training_leaves_no_folder(toy, tmp_path):
    out = tmp_path / "new"
    with pytest.raises(MimicError, match="--resume, but there is no complete checkpoint"):
        train(config(toy, out), resume=True)
    assert not out.exists()
