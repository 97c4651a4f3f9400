"""Small file helpers shared by the hardening tests."""

from __future__ import annotations

import http.server
import json
import threading
import time
from pathlib import Path

import orjson


def rows(path: Path) -> list[dict]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines() if x.strip()]


def write_rows(path: Path, data: list) -> None:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in data))


ONE = json.dumps({"choices": [{"message": {"role": "assistant", "content": "1"}}],
                  "usage": {"prompt_tokens": 1, "completion_tokens": 1}}).encode()
"""The reply of a well-behaved server: the answer "1"."""


class ChatServer:
    """A real OpenAI-compatible server on 127.0.0.1, in a thread, answering every POST with `body` after
    `delay_s` (sent `drip_s` apart byte by byte when `drip_s` > 0).

    With `hold_after = k`, requests after the first k wait until `released` is set: a test can keep a run busy
    for as long as it needs, however slowly the machine starts a second process.
    """

    def __init__(self, body: bytes = ONE, delay_s: float = 0.0, drip_s: float = 0.0) -> None:
        self.hold_after: int | None = None
        self.released = threading.Event()
        self.served = 0
        lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers["Content-Length"]))
                with lock:
                    server.served += 1
                    held = server.hold_after is not None and server.served > server.hold_after
                if held:
                    server.released.wait(120)
                time.sleep(delay_s)
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    for chunk in ([body[i:i + 1] for i in range(len(body))] if drip_s else [body]):
                        self.wfile.write(chunk)
                        self.wfile.flush()
                        time.sleep(drip_s)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def grow_bench(bench: Path, n: int) -> None:
    """Make the hand-made bench hold `n` samples (copies of its first, with their own ids)."""
    first = rows(bench / "samples.jsonl")[0]
    write_rows(bench / "samples.jsonl", [{**first, "id": f"counting-{k:06d}"} for k in range(n)])
