"""issue 23 §5-6: what servers and models send back is typed and bounded: malformed chat completions are one
line, a number of thousands of digits in an answer is no count (and no traceback), and a server that drips
its reply byte by byte meets a deadline for the whole request."""

from __future__ import annotations

import json
import time

import pytest
from hardening_helpers import ChatServer, rows

from mimic_vlm.evaluate.score import score_output
from mimic_vlm.schema import Sample


def _reply(message: object, usage: object = None) -> bytes:
    return json.dumps({"choices": [{"message": message}], "usage": usage or {"prompt_tokens": 1,
                                                                            "completion_tokens": 1}}).encode()


def _eval(cli, bench, server, out, *extra):
    return cli("eval", bench, "--model", f"openai:m@{server.url}", "--out", out, "--retries", "0",
               "--no-progress", *extra)


@pytest.mark.parametrize(("body", "problem"), [
    (_reply({"role": "assistant", "content": 3}), "the server's message content is a number, expected text"),
    (_reply({"role": "assistant", "content": {"text": "3"}}),
     "the server's message content is an object, expected text"),
    (_reply("3"), "the server's choices[0].message is a string, expected an object"),
    (_reply({"content": "3"}, usage="lots"), "the server's usage is a string, expected an object of token counts"),
    (_reply({"content": "3"}, usage={"prompt_tokens": "1"}),
     "the server's usage.prompt_tokens is '1', expected a whole number of tokens"),
    (_reply({"content": "3"}, usage={"prompt_tokens": -1}),
     "the server's usage.prompt_tokens is -1, expected a whole number of tokens"),
])
def test_a_malformed_reply_is_one_line(bench_dir, tmp_path, cli, body, problem):
    server = ChatServer(body)
    try:
        _eval(cli, bench_dir, server, tmp_path / "run").one_error_line(f"openai:m@{server.url}: sample", problem)
    finally:
        server.close()
    assert not (tmp_path / "run").exists()


def test_list_of_parts_content_is_read_as_its_text(bench_dir, tmp_path, cli):
    server = ChatServer(_reply({"role": "assistant", "content": [{"type": "text", "text": "There are "},
                                                                 {"type": "image_url", "image_url": {}},
                                                                 {"type": "text", "text": "3 dogs."}]}))
    try:
        assert _eval(cli, bench_dir, server, tmp_path / "run").code == 0
    finally:
        server.close()
    assert [r["output"] for r in rows(tmp_path / "run" / "predictions.jsonl")] == ["There are 3 dogs."] * 2
    assert [r["parsed"] for r in rows(tmp_path / "run" / "predictions.jsonl")] == [3, 3]


def test_a_dripping_server_meets_the_deadline_of_the_whole_request(bench_dir, tmp_path, cli):
    """Each byte comes well within the per-read timeout, so only a deadline for the whole reply ends it."""
    server = ChatServer(_reply({"content": "3"}), drip_s=0.05)  # ~100 bytes: ~5 s in all
    start = time.monotonic()
    try:
        _eval(cli, bench_dir, server, tmp_path / "run", "--timeout", "0.5", "--concurrency", "1").one_error_line(
            "no whole reply within 0.5 s")
    finally:
        server.close()
    assert time.monotonic() - start < 4


BIG = "9" * 5000


@pytest.mark.parametrize("official", [False, True], ids=["ours", "official"])
@pytest.mark.parametrize("output", [BIG, f"There are {BIG} dogs.", f"{BIG}.0", "9" * 400 + "e9", "9" * 19])
def test_a_number_of_thousands_of_digits_is_no_count(output, official):
    """Python's int() refuses strings past 4,300 digits, and JSON cannot hold ints past 19: one reply ended a run."""
    sample = Sample(id="a", task="counting", images=["x.png"], question="How many dogs?", answer=3, gt="3",
                    targets=["dog"], controls={}, source="toy")
    fields = score_output(sample, output, {}, official)
    exponent = output.endswith("e9") and not official  # ours reads the 9 of "e9", the only count-sized number
    assert fields["parsed"] == (9 if exponent else None) and fields["correct"] is False
    json.dumps(fields)


def test_an_answer_of_thousands_of_digits_is_scored_in_a_run(bench_dir, tmp_path, cli):
    server = ChatServer(_reply({"content": BIG}))
    try:
        assert _eval(cli, bench_dir, server, tmp_path / "run").code == 0
    finally:
        server.close()
    assert [r["parsed"] for r in rows(tmp_path / "run" / "predictions.jsonl")] == [None, None]
