"""The one progress interface of the core: long jobs report `(phase, done, total)` to a callback.

Library functions take `progress: Progress | None`; the commands pass a rich adapter
(`commands/progress.py`), tests pass nothing or a list's append. Reporting never changes what a job computes.

```python
def generate(..., progress: Progress | None = None):
    for k, sample in enumerate(samples, 1):
        report(progress, "composing counting", k, len(samples))
```
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol


class Progress(Protocol):
    def __call__(self, phase: str, done: int, total: int | None = None, info: str = "") -> None:
        """`done` of `total` units of `phase` are finished (`total` None: unknown); `info` is a short status
        line (e.g. the training loss)."""


def report(progress: Progress | None, phase: str, done: int, total: int | None = None, info: str = "") -> None:
    """Call `progress` if there is one."""
    if progress is not None:
        progress(phase, done, total, info)


@contextmanager
def library_bars(show: bool) -> Iterator[None]:
    """While inside, transformers' and huggingface_hub's own tqdm bars ("Loading weights") are shown only if
    `show`: a caller that asked for no progress gets none, from us or from the libraries we call."""
    if show:
        yield
        return
    from transformers.utils import logging as hf_logging

    was = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was:
            hf_logging.enable_progress_bar()
