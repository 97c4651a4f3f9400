"""Thread defaults chosen by the program, not only by the Makefile.

Torch and OpenMP start one busy-waiting thread per core; on a shared or busy machine they fight each other and
everything else (`mimic demo`: 114 s instead of 8 s on a loaded 2-core box). The models this tool runs on a
CPU are small (tiny test models, baselines), so a few threads are as fast and never oversubscribe. Any value
the user sets wins: `OMP_NUM_THREADS` (or `MIMIC_NUM_THREADS`, which sets both OpenMP and torch).
"""

from __future__ import annotations

import os
import sys

MAX_DEFAULT_THREADS = 4
"""The default never exceeds this many threads, nor half the CPUs this process may use."""


def default_threads(cpus: int) -> int:
    """Half the usable CPUs (the other half is left to the data pipeline and other work), 1 to 4."""
    return max(1, min(MAX_DEFAULT_THREADS, cpus // 2))


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def set_defaults() -> int:
    """Set `OMP_NUM_THREADS` (and torch's thread count, if torch is loaded already) unless the user chose;
    returns the thread count in force."""
    chosen = os.environ.get("MIMIC_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS")
    n = int(chosen) if chosen and chosen.isdigit() and int(chosen) > 0 else default_threads(usable_cpus())
    os.environ.setdefault("OMP_NUM_THREADS", str(n))
    if os.environ.get("MIMIC_NUM_THREADS"):
        os.environ["OMP_NUM_THREADS"] = str(n)
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n
