"""issue 11 §2: numeric options, output paths, model specs and training options: one line naming the option."""

from __future__ import annotations

import importlib.util
import json

import pytest
import torch

EVAL_CASES = [
    (["--batch-size", "0"], "'--batch-size': Input should be greater than or equal to 1"),
    (["--batch-size", "-3"], "'--batch-size': Input should be greater than or equal to 1"),
    (["--max-new-tokens", "0"], "'--max-new-tokens': Input should be greater than or equal to 1"),
    (["--limit", "-1"], "'--limit': Input should be greater than or equal to 1"),
    (["--concurrency", "0"], "'--concurrency': Input should be greater than or equal to 1"),
]


@pytest.mark.parametrize(("extra", "message"), EVAL_CASES, ids=[c[0][0] + c[0][1] for c in EVAL_CASES])
def test_eval_numbers_are_checked_where_they_enter(bench_dir, tmp_path, cli, extra, message):
    r = cli("eval", bench_dir, "--model", "oracle", "--out", tmp_path / "run", *extra)
    r.one_error_line(message, "mimic eval --help")
    assert not (tmp_path / "run").exists()


SEEDED = [["toy", "--toy-images", "2"], ["generate", "--count", "2"], ["demo"], ["eval", "--model", "chance"],
          ["sweep", "--model", "chance", "--vary", "n_images=2,3"], ["score"], ["compare"]]


@pytest.mark.parametrize("seed", ["-1", str(2**32)])
@pytest.mark.parametrize("argv", SEEDED, ids=[a[0] for a in SEEDED])
def test_a_seed_out_of_range_is_a_usage_error(bench_dir, tmp_path, cli, argv, seed):
    """One seed range everywhere, 0 to 2**32 - 1 (numpy's legacy generator, which the Trainer seeds), refused
    where it enters, as the help shows it; negative seeds were tracebacks."""
    out = tmp_path / "out"
    if argv[0] in ("score", "compare"):
        run = tmp_path / "run"
        assert cli("eval", bench_dir, "--model", "oracle", "--out", run).code == 0
        argv = [*argv, *([bench_dir, "--predictions", run / "predictions.jsonl"] if argv[0] == "score"
                         else [run, run])]
    bench = [bench_dir] if argv[0] == "eval" else []
    r = cli(*argv, *bench, "--out", out, "--seed", seed)
    r.one_error_line("'--seed': Input should be", f"mimic {argv[0]} --help")
    assert not out.exists()


def test_other_commands_numbers(bench_dir, tmp_path, cli, capsys):
    (tmp_path / "p.jsonl").write_text('{"id": "counting-000000", "output": "3"}\n')
    cli("score", bench_dir, "--predictions", tmp_path / "p.jsonl", "--bootstrap", "-1").one_error_line(
        "'--bootstrap': Input should be greater than or equal to 0")
    cli("generate", "--out", tmp_path / "b", "--min-area", "-1").one_error_line(
        "'--min-area': Input should be greater than or equal to 0")
    cli("generate", "--out", tmp_path / "b", "--toy-images", "0").one_error_line(
        "'--toy-images': Input should be greater than or equal to 1")
    for option, value, message in [("--lr", "-1", "'--lr': Input should be greater than or equal to 0"),
                                   ("--batch-size", "0", "'--batch-size': Input should be greater than or equal to 1")]:
        cli("train", "--model", "tiny:qwen2_vl", "--data", tmp_path / "d.json", "--out", tmp_path / "t",
            option, value).one_error_line(message)
    assert not (tmp_path / "b").exists() and not (tmp_path / "t").exists()


def test_out_an_existing_file_or_folder(bench_dir, tmp_path, cli):
    file = tmp_path / "file.txt"
    file.write_text("mine")
    cli("eval", bench_dir, "--model", "oracle", "--out", file).one_error_line(
        f"{file}: is a file, expected a run folder")
    cli("generate", "--out", file, "--toy-images", "10").one_error_line(f"{file}: is a file, expected a folder")
    cli("export", bench_dir, "--format", "hf", "--out", file).one_error_line(f"{file}: is a file")
    assert file.read_text() == "mine"
    (tmp_path / "p.jsonl").write_text('{"id": "counting-000000", "output": "3"}\n')
    folder = tmp_path / "folder"
    folder.mkdir()
    cli("score", bench_dir, "--predictions", tmp_path / "p.jsonl", "--out", folder).one_error_line(
        f"--out {folder}: is a folder, expected a file name to write")
    assert list(folder.iterdir()) == []


def test_model_specs(bench_dir, tmp_path, cli):
    empty = tmp_path / "emptydir"
    empty.mkdir()
    cli("eval", bench_dir, "--model", f"hf:{empty}", "--out", tmp_path / "run").one_error_line(
        f"hf:{empty}: no config.json in this folder")
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a torch without CUDA")
def test_cuda_device_on_a_cpu_only_torch(bench_dir, tmp_path, cli):
    cli("eval", bench_dir, "--model", "tiny:qwen2_vl", "--device", "cuda", "--out",
        tmp_path / "run").one_error_line("--device cuda: ", "use --device cpu")
    assert not (tmp_path / "run").exists()


def _llava(folder, image):
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "d.json"
    data.write_text(json.dumps([{"id": "a", "image": image, "conversations": [
        {"from": "human", "value": "<image>\nHow many?"}, {"from": "gpt", "value": "1"}]}]))
    return data


def test_training_data_and_options(tmp_path, cli):
    from PIL import Image

    train = ["train", "--model", "tiny:qwen2_vl", "--out", tmp_path / "t"]
    cli(*train, "--data", _llava(tmp_path / "d5", 5)).one_error_line("d.json: sample 0: ", "'image' must be a path or a list")
    good = _llava(tmp_path / "ok", "x.png")
    Image.new("RGB", (8, 8)).save(tmp_path / "ok" / "x.png")
    mix = tmp_path / "mix.yaml"
    mix.write_text(f"datasets:\n- path: {good}\n  sampling: first:150%\n")
    cli(*train, "--data", mix).one_error_line("sampling 'first:150%': a percentage is at most 100%")
    cli(*train, "--data", good, "--resume").one_error_line("--resume, but there is no complete checkpoint")
    cli(*train, "--data", _llava(tmp_path / "esc", "../ok/x.png")).one_error_line(
        "image '../ok/x.png' is outside", "relative paths must stay inside it")
    assert not (tmp_path / "t").exists()


@pytest.mark.skipif(importlib.util.find_spec("deepspeed") is not None, reason="deepspeed is installed here")
def test_zero2_without_deepspeed_says_what_to_install(tmp_path, cli):
    cli("train", "--model", "tiny:qwen2_vl", "--data", tmp_path / "d.json", "--out", tmp_path / "t",
        "--accelerate-config", "zero2").one_error_line("--accelerate-config zero2: needs the deepspeed package",
                                                        "pip install deepspeed")


@pytest.mark.parametrize(("name", "message"), [
    ("foo", "--attn-implementation 'foo': unknown; choose one of eager, "),
    ("flash_attention_2", "--attn-implementation flash_attention_2: needs the flash_attn package"),
])
def test_an_attention_this_machine_cannot_run_is_one_error(bench_dir, tmp_path, cli, name, message):
    if name == "flash_attention_2" and importlib.util.find_spec("flash_attn") is not None:
        pytest.skip("flash-attn is installed here")
    out = tmp_path / "run"
    cli("eval", bench_dir, "--model", "tiny:qwen2_vl", "--out", out, "--attn-implementation", name
        ).one_error_line(message)
    assert not out.exists()
