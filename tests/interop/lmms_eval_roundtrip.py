"""The real lmms-eval evaluator on an exported MIMIC task, against a loopback OpenAI-compatible server; checks
per-sample agreement with `mimic score` on lmms-eval's own `--log_samples` files. A script, not a pytest test:
lmms-eval's full install replaces torch with a CUDA build, so it runs in its own venv (see RESULT.md here).

    python -m venv /work/lmms-venv
    echo /work/main/.venv/lib/python3.11/site-packages > /work/lmms-venv/lib/python3.11/site-packages/shared.pth
    /work/lmms-venv/bin/pip install --no-deps -r tests/interop/requirements-lmms-eval.txt
    PYTHONPATH=src python tests/interop/lmms_eval_roundtrip.py --lmms-python /work/lmms-venv/bin/python --count 6

(the .pth reuses the project venv's torch 2.13 CPU, transformers, datasets, ...). Exit 0 when every sample
agrees; the summary is printed as JSON.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

STYLES = ("{gt}", " {gt}\n", "{gt}.", "The answer is {gt}.", "no idea")  # raw outputs: spaces, newlines


def key(sample: dict[str, Any]) -> str:
    """What the server can tell a request by: the question and the number of images."""
    return f"{sample['question']}|{len(sample['images'])}"


def reply(sample: dict[str, Any]) -> str:
    """A sample's gold answer in one of STYLES, or "no idea": right for some samples, wrong for others
    (samples that share a question and an image count get the same reply)."""
    return STYLES[sum(map(ord, key(sample))) % len(STYLES)].format(gt=sample["gt"])


class Server:
    """Answers a chat completion with `reply` of the bench sample whose question it carries."""

    def __init__(self, samples: list[dict[str, Any]]) -> None:
        self.requests = 0
        self.replies: dict[str, str] = {}

        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                images = sum(part.get("type") == "image_url" for m in body["messages"]
                             if isinstance(m["content"], list) for part in m["content"])
                text = " ".join(part.get("text", "") for m in body["messages"] if isinstance(m["content"], list)
                                for part in m["content"])
                sample = next(s for s in samples if s["question"] in text and len(s["images"]) == images)
                outer.requests += 1
                outer.replies[key(sample)] = reply(sample)
                data = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                                   "choices": [{"index": 0, "finish_reason": "stop", "message": {
                                       "role": "assistant", "content": reply(sample)}}],
                                   "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lmms-python", required=True, help="python of the venv with lmms-eval 0.7.3")
    parser.add_argument("--count", type=int, default=4, help="samples per MIMIC task")
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="lmms-roundtrip-"))
    src = Path(__file__).resolve().parents[2] / "src"
    env = {**os.environ, "PYTHONPATH": str(src), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "OPENAI_API_KEY": "EMPTY", "OMP_NUM_THREADS": "1"}
    mimic = [sys.executable, "-m", "mimic_vlm"]
    bench = work / "bench"
    subprocess.run([*mimic, "generate", "--source", "toy", "--task", "all", "--count", str(args.count),
                    "--n-images", "2-5", "--out", str(bench)], check=True, env=env, capture_output=True)
    tasks = work / "tasks" / "mimic_bench"
    subprocess.run([*mimic, "export", str(bench), "--format", "lmms-eval", "--out", str(tasks)], check=True,
                   env=env, capture_output=True)
    server = Server([json.loads(x) for x in (bench / "samples.jsonl").read_text().splitlines()])
    started = time.perf_counter()
    run = subprocess.run([args.lmms_python, "-m", "lmms_eval", "--include_path", str(tasks), "--tasks",
                          "mimic_bench", "--model", "openai", "--model_args",
                          f"model_version=loopback,base_url={server.url},api_key=EMPTY", "--batch_size", "1",
                          "--log_samples", "--output_path", str(work / "out")],
                         cwd=work, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if run.returncode != 0:
        print(run.stdout[-3000:], run.stderr[-6000:], sep="\n")
        return 1
    logs = sorted((work / "out").rglob("*_samples_*.jsonl"))
    predictions = [a for p in logs for a in ("--predictions", str(p))]
    subprocess.run([*mimic, "score", str(bench), *predictions, "--scored", str(work / "rows.jsonl"),
                    "--out", str(work / "scores.json"), "--bootstrap", "0"], check=True, env=env, capture_output=True)
    # per sample: the score lmms-eval logged (from the exported hooks) == the score `mimic score` gives
    logged: dict[str, dict[str, Any]] = {}
    for path in logs:
        for line in path.read_text().splitlines():
            row = json.loads(line)
            nested = next(v for v in row.values() if isinstance(v, dict) and "id" in v)
            logged[nested["id"]] = {**nested, "filtered_resps": row.get("filtered_resps")}
    ours = {r["id"]: r for r in map(json.loads, (work / "rows.jsonl").read_text().splitlines())}
    fields = ("parsed", "unparsed", "correct", "tp", "n_pred", "n_gt", "f1")
    disagree = [i for i, r in ours.items() if i not in logged
                or any(r.get(f) != logged[i].get(f) for f in fields) or r["output"] != logged[i]["output"]]
    by_id = {s["id"]: s for s in map(json.loads, (bench / "samples.jsonl").read_text().splitlines())}
    sent = {i: server.replies[key(by_id[i])] for i in logged}
    results = json.loads(next((work / "out").rglob("*_results.json")).read_text())["results"]
    scores = json.loads((work / "scores.json").read_text())
    headline = {t: e["metrics"][e["headline"]]["value"] for t, e in scores["tasks"].items()}
    lmms = {k.rsplit("mimic_bench_", 1)[-1]: {m: v for m, v in r.items() if not m.endswith("_stderr,none")
                                              and m != "alias"} for k, r in results.items() if "_bench_" in k}
    summary = {"lmms_eval": "0.7.3", "samples": len(ours), "logged": len(logged), "requests": server.requests,
               "disagreeing_samples": disagree, "mimic_score_headlines": headline, "lmms_eval_results": lmms,
               "outputs_with_outer_whitespace_sent": sum(sent[i] != sent[i].strip() for i in logged),
               "of_them_stripped_by_lmms_eval": sum(logged[i]["output"] == sent[i].strip() != sent[i] for i in logged),
               "lmms_eval_seconds": round(seconds, 1), "work": str(work)}
    print(json.dumps(summary, indent=1))
    return 0 if not disagree and len(logged) == len(ours) else 1


if __name__ == "__main__":
    sys.exit(main())
