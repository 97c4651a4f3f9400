"""Served models of 2026 against a REAL loopback server that answers like vLLM: reasoning kept apart, usage
recorded, malformed replies one clear error, and the server's limits one line that names the option to use."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mimic_vlm.cli import main
from mimic_vlm.errors import MimicError
from mimic_vlm.models.openai_api import limit_message, parse_completion
from mimic_vlm.store import load_bench


def lines(run: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]


def eval_argv(bench: Path, server, out: Path, *extra: str) -> list[str]:
    return ["eval", str(bench), "--model", f"openai:served@{server.url}", "--out", str(out),
            "--no-progress", "--retries", "0", *extra]


def thinking_server(body: dict[str, Any], images: int) -> dict[str, Any]:
    """A reasoning model behind vLLM --reasoning-parser: thinking in `reasoning_content`, the answer in
    `content`; with a budget under 64 it runs out while thinking (content null, finish_reason "length")."""
    budget = body["max_tokens"]
    if budget < 64:
        message = {"role": "assistant", "content": None, "reasoning_content": "Image 1 shows two, image"}
        return {"choices": [{"message": message, "finish_reason": "length"}],
                "usage": {"prompt_tokens": 20 + 100 * images, "completion_tokens": budget,
                          "completion_tokens_details": {"reasoning_tokens": budget}}}
    message = {"role": "assistant", "content": f"{images}", "reasoning_content": f"I count {images + 1}? No: {images}."}
    return {"choices": [{"message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 20 + 100 * images, "completion_tokens": 30,
                      "completion_tokens_details": {"reasoning_tokens": 28}}}


def test_reasoning_server_preset_and_truncation(chat_server, bench_factory, tmp_path: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    bench = bench_factory("b", per_task=2)
    samples = load_bench(bench).samples
    chat_server.respond = thinking_server
    short = tmp_path / "short"
    main([*eval_argv(bench, chat_server, short, "--task", "counting")])  # the tasks' own 16 tokens
    rows = lines(short)
    assert all(r["truncated"] is True and r["unparsed"] is False and r["parsed"] is None for r in rows)
    assert all(r["reasoning"] == "Image 1 shows two, image" and r["reasoning_tokens"] == 16 for r in rows)
    scores = json.loads((short / "scores.json").read_text())
    assert scores["overall"]["n_truncated"] == 2 and scores["overall"]["n_unparsed"] == 0
    assert "truncated (token limit before an answer): 2" in " ".join(capsys.readouterr().out.split())

    full = tmp_path / "full"
    main([*eval_argv(bench, chat_server, full, "--reasoning")])
    assert {r["body"]["max_tokens"] for r in chat_server.requests[-len(samples):]} == {8192}
    run = json.loads((full / "run.json").read_text())
    assert run["settings"]["prompting"]["reasoning"] is True
    assert run["generation"] == {"max_new_tokens": {t: 8192 for t in ("counting", "listing", "common", "odd_one")},
                                 "reasoning_preset": True, "reasoning_tags": ["<think>", "</think>"]}
    counting = [r for r in lines(full) if r["task"] == "counting"]
    n_images = {s.id: len(s.images) for s in samples}
    assert [(r["output"], r["reasoning"], r["prompt_tokens"], r["output_tokens"], r["reasoning_tokens"])
            for r in counting] == [(str(n_images[r["id"]]), f"I count {n_images[r['id']] + 1}? No: "
                                    f"{n_images[r['id']]}.", 20 + 100 * n_images[r["id"]], 30, 28) for r in counting]
    usage = json.loads((full / "scores.json").read_text())["usage"]
    assert usage["overall"]["output_tokens_per_sample"] == 30 and usage["overall"]["reasoning_tokens_per_sample"] == 28
    assert usage["overall"]["answer_tokens_per_sample"] == 2
    mean_in = sum(20 + 100 * len(s.images) for s in samples) / len(samples)
    assert usage["overall"]["input_tokens_per_sample"] == pytest.approx(mean_in)

    explicit = tmp_path / "explicit"  # --max-new-tokens wins over the preset, and is recorded
    main([*eval_argv(bench, chat_server, explicit, "--reasoning", "--max-new-tokens", "300", "--limit", "1")])
    assert chat_server.requests[-1]["body"]["max_tokens"] == 300
    assert json.loads((explicit / "run.json").read_text())["generation"]["max_new_tokens"] == {"counting": 300}


def test_think_tags_inside_content_and_configured_tags(chat_server, bench_factory, tmp_path: Path) -> None:
    """A server without a reasoning parser returns the block inside `content`; the tags are configurable."""
    bench = bench_factory("b", per_task=1)
    chat_server.respond = lambda body, images: {"choices": [{"message": {
        "content": f"[[plan]]maybe {images + 3}[[/plan]] {images}"}, "finish_reason": "stop"}]}
    out = tmp_path / "run"
    main([*eval_argv(bench, chat_server, out, "--task", "counting", "--reasoning-tags", "[[plan]],[[/plan]]")])
    (row,) = lines(out)
    n = len(load_bench(bench).samples[0].images)
    assert row["output"] == f"[[plan]]maybe {n + 3}[[/plan]] {n}" and row["reasoning"] == f"maybe {n + 3}"
    assert row["parsed"] == n and row["correct"] is (n == load_bench(bench).samples[0].answer)
    assert json.loads((out / "run.json").read_text())["settings"]["prompting"]["reasoning_tags"] == ["[[plan]]",
                                                                                                    "[[/plan]]"]


@pytest.mark.parametrize(("reply", "message"), [
    ({"choices": [{"message": {"content": 7}}]}, "message content is a number, expected text"),
    ({"choices": [{"message": {"content": "7"}}], "usage": "12 tokens"}, "usage is a string, expected an object"),
    ({"choices": [{"message": {"content": "7"}}], "usage": {"prompt_tokens": -3}},
     "usage.prompt_tokens is -3, expected a whole number"),
    ({"choices": [{"message": {"content": "7"}}], "usage": {"completion_tokens": 1.5}},
     "usage.completion_tokens is 1.5, expected a whole number"),
    ({"choices": [{"message": {"content": "7", "reasoning_content": ["x"]}}]},
     "message reasoning_content is a list, expected text"),
    ({"choices": [{"message": "7"}]}, r"choices\[0\].message is a string, expected an object"),
    ({"choices": [{"message": {"content": "7"}, "finish_reason": 1}]}, "finish_reason is a number"),
])
def test_malformed_replies_are_one_clear_error(reply: dict[str, Any], message: str) -> None:
    with pytest.raises(MimicError, match=f"^server: sample 'x': the server's {message}"):
        parse_completion(json.dumps(reply).encode(), "server: sample 'x'")


def test_list_of_parts_content_and_new_reasoning_field() -> None:
    reply = {"choices": [{"message": {"content": [{"type": "text", "text": "Three"}, {"type": "text", "text": " dogs"}],
                                      "reasoning": "1 + 2"}, "finish_reason": "stop"}],
             "usage": {"prompt_tokens": 50, "completion_tokens": 9, "prompt_tokens_details": {"image_tokens": 40}}}
    gen = parse_completion(json.dumps(reply).encode(), "s")
    assert (gen.text, gen.reasoning, gen.prompt_tokens, gen.output_tokens, gen.vision_tokens, gen.finish_reason) == (
        "Three dogs", "1 + 2", 50, 9, 40, "stop")


def test_too_many_images_is_one_line_exit_2_and_keeps_predictions(chat_server, bench_factory, tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture) -> None:
    bench = bench_factory("b", per_task=3, max_images=4)
    samples = load_bench(bench).samples
    most = max(len(s.images) for s in samples)
    few = [s.id for s in samples if len(s.images) <= 2]
    chat_server.max_images = 2
    out = tmp_path / "run"
    main([*eval_argv(bench, chat_server, out, "--ids", ",".join(few))])  # within the limit: a run
    assert len(lines(out)) == len(few)
    chat_server.requests.clear()
    argv = ["eval", str(bench), "--model", f"openai:served@{chat_server.url}", "--out", str(out),
            "--no-progress", "--retries", "0"]
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and len(err.splitlines()) == 1
    assert f"the server takes at most 2 image(s) per prompt and this sample has {most}" in err
    assert f"vLLM --limit-mm-per-prompt '{{\"image\": {most}}}'" in err
    assert len(chat_server.requests) == 1  # the first request went alone, the heaviest sample
    assert len(lines(out)) == len(few)  # what was written stays


def test_request_too_large_names_the_client_options(chat_server, bench_factory, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    bench = bench_factory("b", per_task=1, max_images=4)
    chat_server.max_body = 4000  # the largest sample is 4.5 kB as sent, 3.8 kB as small JPEGs
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exc:
        main(eval_argv(bench, chat_server, out))
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and len(err.splitlines()) == 1
    assert "as too large (HTTP 413)" in err and "--max-pixels" in err and "--jpeg-quality" in err
    assert not out.exists()  # nothing predicted: no half-made run folder
    main([*eval_argv(bench, chat_server, out, "--max-pixels", "256", "--jpeg-quality", "60")])
    run = json.loads((out / "run.json").read_text())
    assert run["settings"]["model"]["jpeg_quality"] == 60 and run["settings"]["model"]["max_pixels"] == 256
    url = next(p for p in chat_server.requests[-1]["body"]["messages"][0]["content"] if p["type"] == "image_url")
    assert url["image_url"]["url"].startswith("data:image/jpeg;base64,")


def test_limit_messages() -> None:
    assert limit_message(400, '{"message": "At most 1 image(s) may be provided in one request."}', 5, 10) == (
        "the server takes at most 1 image(s) per prompt and this sample has 5: serve the model with vLLM "
        "--limit-mm-per-prompt '{\"image\": 5}' (SGLang, other servers: their per-request image limit), or "
        "evaluate a bench with fewer images per sample")
    context = limit_message(400, "This model's maximum context length is 32768 tokens. However, you requested "
                                 "40000 tokens", 8, 10)
    assert context is not None and "context of 32768 tokens" in context and "--max-new-tokens" in context
    assert limit_message(400, '{"message": "unknown model"}', 1, 10) is None
