"""The OpenAI-compatible back-end against a REAL HTTP server on 127.0.0.1: concurrency, retries, faults."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from mimic_vlm.cli import main
from mimic_vlm.errors import MimicError
from mimic_vlm.evaluate.runner import run_eval
from mimic_vlm.models.base import Request
from mimic_vlm.models.openai_api import OpenAIModel, load_openai
from mimic_vlm.store import load_bench


def requests_of(bench_dir: Path) -> list[Request]:
    bench = load_bench(bench_dir)
    return [Request(s.id, tuple(bench.image_paths(s)), s.question, 16, s.to_dict()) for s in bench.samples]


def client(server, **kw) -> OpenAIModel:
    return OpenAIModel("tiny-served", server.url, backoff_s=0.01, **{"timeout": 5.0, "retries": 3, **kw})


def test_happy_path_concurrent_in_order_with_images_and_key(chat_server, bench_dir: Path) -> None:
    chat_server.delay_s = 0.05
    reqs = requests_of(bench_dir)
    model = client(chat_server, concurrency=4, api_key="sk-test")
    gens = model.generate(reqs)
    assert [g.text for g in gens] == [str(len(r.images)) for r in reqs]  # each answer to its own request
    assert [g.prompt_tokens for g in gens] == [10 + len(r.images) for r in reqs]
    assert chat_server.max_in_flight == 4
    first = chat_server.requests[0]
    assert first["path"] == "/v1/chat/completions" and first["auth"] == "Bearer sk-test"
    body = first["body"]
    assert body["temperature"] == 0 and body["max_tokens"] == 16 and body["model"] == "tiny-served"
    url = next(p for p in body["messages"][0]["content"] if p["type"] == "image_url")["image_url"]["url"]
    mime, data = url.split(",", 1)
    assert mime in ("data:image/jpeg;base64", "data:image/png;base64") and base64.b64decode(data)[:2] in (b"\xff\xd8",
                                                                                                         b"\x89P")


@pytest.mark.parametrize("plan", [["429", "429"], ["500", "500", "500"], ["drop"], ["sleep"]])
def test_transient_faults_are_retried(chat_server, bench_dir: Path, plan: list[str]) -> None:
    chat_server.plan = list(plan)
    req = requests_of(bench_dir)[:1]
    assert client(chat_server, timeout=0.5, concurrency=1).generate(req)[0].text == str(len(req[0].images))
    assert [r["action"] for r in chat_server.requests] == [*plan, "ok"]


@pytest.mark.parametrize(("plan", "message"), [
    (["garbage"], "the server returned no chat completion: b'<html>oops</html>'"),
    (["nochoices"], "the server returned no chat completion"),
    (["500"] * 4, r"HTTP 500 .*gave up after 4 attempts"),
    (["sleep"] * 4, r"TimeoutError: timed out \(gave up after 4 attempts\)"),
])
def test_persistent_faults_name_server_and_sample(chat_server, bench_dir: Path, plan, message) -> None:
    chat_server.plan = list(plan)
    req = requests_of(bench_dir)[:1]
    with pytest.raises(MimicError, match=rf"openai:tiny-served@{chat_server.url}: sample 'counting-0000': {message}"):
        client(chat_server, timeout=0.3, concurrency=1).generate(req)


def test_unreachable_server_and_bad_specs(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(MimicError, match="gave up after 2 attempts"):
        OpenAIModel("m", "http://127.0.0.1:9/v1", retries=1, backoff_s=0.01).generate(
            [Request("x", (), "hi", 4)])
    with pytest.raises(MimicError, match="expected openai:MODEL@BASE_URL"):
        load_openai("just-a-model")
    with pytest.raises(MimicError, match="must start with http"):
        load_openai("m@localhost:8000")
    monkeypatch.delenv("MY_KEY", raising=False)
    with pytest.raises(MimicError, match="--api-key-env MY_KEY: that environment variable is not set"):
        load_openai("m@http://127.0.0.1:1/v1", api_key_env="MY_KEY")
    monkeypatch.setenv("MY_KEY", "sk-x")
    assert load_openai("m@http://127.0.0.1:1/v1", api_key_env="MY_KEY").api_key == "sk-x"


def test_run_over_server_then_garbage_keeps_what_was_saved(chat_server, bench_dir: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "run"
    chat_server.plan = ["ok"] * 5 + ["garbage"]
    argv = ["eval", str(bench_dir), "--model", f"openai:served@{chat_server.url}", "--out", str(out),
            "--no-progress"]
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--concurrency", "1"])
    assert exc.value.code == 2
    assert f"openai:served@{chat_server.url}: sample" in capsys.readouterr().err
    saved = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(saved) == 5 and not (out / "scores.json").exists()
    main([*argv, "--concurrency", "3"])  # the server recovered: resume, concurrency is no setting
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    bench = load_bench(bench_dir)
    assert [r["id"] for r in rows] == [s.id for s in bench.samples]
    assert {r["id"]: r["output"] for r in rows} == {s.id: str(len(s.images)) for s in bench.samples}
    assert len(chat_server.requests) == 6 + len(bench.samples) - 5
    scores = json.loads((out / "scores.json").read_text())
    assert scores["overall"]["n"] == len(bench.samples)


def test_run_eval_records_server_runtime_apart_from_settings(chat_server, bench_dir: Path, tmp_path: Path) -> None:
    bench = load_bench(bench_dir)
    run_eval(bench, client(chat_server, concurrency=2), tmp_path / "r", limit=2)
    run = json.loads((tmp_path / "r" / "run.json").read_text())
    assert run["settings"]["model"]["model"] == "tiny-served"
    assert run["runtime"]["concurrency"] == 2 and "base_url" not in run["settings"]["model"]
