"""A small real bench written by hand: real image files, answers derived from per-image objects exactly as
DESIGN.md defines them, so the oracle and single-image baselines are checked against the definitions."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from mimic_vlm.files import write_json_atomic, write_jsonl_atomic

VOCABULARY = {
    "dog": {"supercategory": "animal", "synonyms": ["puppy"]},
    "cat": {"supercategory": "animal", "synonyms": []},
    "horse": {"supercategory": "animal", "synonyms": []},
    "car": {"supercategory": "vehicle", "synonyms": ["automobile"]},
    "truck": {"supercategory": "vehicle", "synonyms": []},
    "bus": {"supercategory": "vehicle", "synonyms": []},
    "apple": {"supercategory": "food", "synonyms": []},
    "pizza": {"supercategory": "food", "synonyms": []},
}


def _answer(task: str, objects: list[dict[str, int]], targets: list[str]) -> Any:
    present = [set(o) for o in objects]
    if task == "counting":
        return sum(o.get(t, 0) for o in objects for t in targets)
    if task == "listing":
        return sorted({c for p in present for c in p if VOCABULARY[c]["supercategory"] in targets})
    if task == "common":
        return sorted(set.intersection(*present))[0]
    return next(c for p in present for c in p if sum(c in q for q in present) == 1)


def _objects(task: str, n: int, rng: random.Random) -> tuple[list[dict[str, int]], list[str]]:
    names = sorted(VOCABULARY)
    if task == "counting":
        return [{c: rng.randint(1, 4) for c in rng.sample(names, 2)} for _ in range(n)], ["dog"]
    if task == "listing":  # at least one vehicle, so the answer is never empty
        return [{c: 1 for c in rng.sample(names, 3) + ["bus"] * (i == 0)} for i in range(n)], ["vehicle"]
    if task == "common":
        shared = rng.choice(names)
        others = [c for c in names if c != shared]
        return [{shared: 2, **{c: 1 for c in rng.sample(others, 1 if i else 0)}} for i in range(n)], []
    odd, rest = rng.sample(names, 2)  # odd in image 0 only; rest in every image
    return [{odd: 1, rest: 3} if i == 0 else {rest: 1} for i in range(max(n, 2))], []


def make_bench(root: Path, per_task: int = 3, seed: int = 0, max_images: int = 4) -> Path:
    """A bench of `per_task` samples per task with 1..max_images images each (odd_one: at least 2)."""
    rng = random.Random(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    rows, k = [], 0
    for task in ("counting", "listing", "common", "odd_one"):
        for j in range(per_task):
            objects, targets = _objects(task, rng.randint(1, max_images), rng)
            images = []
            for _ in objects:
                ext = "png" if k % 2 else "jpg"
                name = f"images/{k:06d}.{ext}"
                w, h = rng.choice([(48, 32), (40, 40), (64, 48), (300, 200)])
                Image.new("RGB", (w, h), tuple(rng.randrange(256) for _ in range(3))).save(root / name)
                images.append(name)
                k += 1
            answer = _answer(task, objects, targets)
            rows.append({"id": f"{task}-{j:04d}", "task": task, "images": images,
                         "question": f"Question {task} {j} about {', '.join(targets) or 'objects'}?",
                         "answer": answer, "gt": ", ".join(answer) if isinstance(answer, list) else str(answer),
                         "targets": targets or ([answer] if isinstance(answer, str) else answer),
                         "controls": {"n_images": len(images), "spread": len(images), "distractors": 0,
                                      "concepts": 1}, "source": "test", "image_objects": objects,
                         "image_uncertain": [[] for _ in objects]})
    write_jsonl_atomic(root / "samples.jsonl", rows)
    write_json_atomic(root / "manifest.json", {"generator": "tests", "seed": seed, "vocabulary": VOCABULARY})
    return root


@pytest.fixture
def bench_dir(tmp_path: Path) -> Path:
    return make_bench(tmp_path / "bench")


@pytest.fixture
def bench_factory(tmp_path: Path):
    """`bench_factory(name, per_task=..., ...)` -> a new bench folder under tmp_path."""
    return lambda name, **kw: make_bench(tmp_path / name, **kw)


class ChatServer:
    """A real OpenAI-compatible chat-completions server on 127.0.0.1 (ephemeral port), in a thread.

    It answers each request with the number of images it received; `plan` scripts the next requests:
    "ok", "429", "500", "garbage", "nochoices", "drop" (close without answering), "sleep" (past the
    client's timeout). `max_in_flight` records the concurrency seen (requests inside their delay).

    Like vLLM, it refuses a prompt with more than `max_images` images (HTTP 400, vLLM's error object) and,
    like a proxy, a body over `max_body` bytes (HTTP 413). `respond(body, images)`, when set, gives the reply's
    JSON object (a reasoning server's `reasoning_content`, a malformed `usage`, ...).
    """

    def __init__(self) -> None:
        import http.server
        import threading

        self.plan: list[str] = []
        self.requests: list[dict[str, Any]] = []
        self.in_flight = self.max_in_flight = 0
        self.lock = threading.Lock()
        self.delay_s = 0.0
        self.max_images: int | None = None
        self.max_body: int | None = None
        self.respond: Any = None
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                import json
                import time

                raw = self.rfile.read(int(self.headers["Content-Length"]))
                body = json.loads(raw)
                with server.lock:
                    action = server.plan.pop(0) if server.plan else "ok"
                    server.requests.append({"body": body, "auth": self.headers.get("Authorization"),
                                            "path": self.path, "action": action})
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:  # in flight = arrived and not yet past its delay: strictly inside the client's request, so
                    time.sleep(server.delay_s)  # a reply the client already has cannot be counted
                finally:
                    with server.lock:
                        server.in_flight -= 1
                try:
                    if action == "drop":
                        self.close_connection = True
                        return
                    if action == "sleep":
                        time.sleep(1.0)
                    if action in ("429", "500"):
                        self.send_response(int(action))
                        if action == "429":
                            self.send_header("Retry-After", "0")
                        self.end_headers()
                        self.wfile.write(b'{"error": "busy"}')
                        return
                    images = sum(part.get("type") == "image_url" for m in body["messages"]
                                 if isinstance(m["content"], list) for part in m["content"])
                    refusal = None
                    if server.max_body is not None and len(raw) > server.max_body:
                        refusal = (413, b"<html><body><h1>413 Request Entity Too Large</h1></body></html>")
                    elif server.max_images is not None and images > server.max_images:
                        refusal = (400, json.dumps({  # vLLM's reply, word for word
                            "object": "error", "message": f"At most {server.max_images} image(s) may be provided "
                            "in one request.", "type": "BadRequestError", "param": None, "code": 400}).encode())
                    if refusal:
                        self.send_response(refusal[0])
                        self.send_header("Content-Length", str(len(refusal[1])))
                        self.end_headers()
                        self.wfile.write(refusal[1])
                        return
                    answer: dict[str, Any] = {"choices": [{"message": {"role": "assistant",
                                                                        "content": f" {images} "}}],
                                              "usage": {"prompt_tokens": 10 + images, "completion_tokens": 1}}
                    if server.respond:
                        answer = server.respond(body, images)
                    data = {"garbage": b"<html>oops</html>", "nochoices": b'{"object": "error"}'}.get(
                        action, json.dumps(answer).encode())
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                    pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def chat_server():
    server = ChatServer()
    yield server
    server.close()
