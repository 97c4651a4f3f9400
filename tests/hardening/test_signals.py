"""issue 23 §6: Ctrl-C and SIGTERM end a run in seconds, requests in flight included, with exit 130 and a line
saying what is kept (they waited for every request in flight to time out, up to --timeout each)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
from hardening_helpers import ChatServer, grow_bench


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_signal_with_requests_in_flight_ends_the_run_in_seconds(bench_dir, tmp_path, signum):
    grow_bench(bench_dir, 12)
    server = ChatServer(delay_s=0.0)
    server.hold_after = 4  # the first batch answers; every later request hangs until the server is released
    out = tmp_path / "run"
    try:
        proc = subprocess.Popen([sys.executable, "-m", "mimic_vlm", "eval", str(bench_dir), "--model",
                                 f"openai:m@{server.url}", "--out", str(out), "--concurrency", "4", "--timeout",
                                 "120", "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while server.served < 8:  # the second batch is in flight, held
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.02)
        time.sleep(0.2)
        start = time.monotonic()
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
        took = time.monotonic() - start
    finally:
        server.released.set()
        server.close()
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert err.strip().splitlines() == [f"error: {out}: interrupted after 4 of 12 samples; rerun the same command "
                                        "to resume"]
    assert took < 10, took
    assert (out / "predictions.jsonl").read_bytes().count(b"\n") == 4
