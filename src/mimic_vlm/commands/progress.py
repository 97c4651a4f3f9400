"""The rich adapter of the core's `Progress` callback: one bar per phase, shared by every long command."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from mimic_vlm.progress import library_bars


class _Speed(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:.2f}/s" if task.speed else "", style="progress.data.speed")


class RichProgress:
    """`with RichProgress() as progress: job(..., progress=progress)`: a bar per phase, with count, rate,
    elapsed and remaining time and the job's info line. On a non-terminal (a log file) it prints one line
    per info update instead, so logs keep the training loss."""

    def __init__(self, console: Console | None = None, transient: bool = False, disable: bool = False) -> None:
        self.bars = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), _Speed(),
                             TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                             TextColumn("{task.fields[info]}"), console=console, transient=transient,
                             disable=disable)
        self.tasks: dict[str, TaskID] = {}
        self.quiet = library_bars(not disable)  # --no-progress silences transformers' bars too

    def __call__(self, phase: str, done: int, total: int | None = None, info: str = "") -> None:
        if phase not in self.tasks:
            self.tasks[phase] = self.bars.add_task(phase, total=total, completed=done, info=info)
        self.bars.update(self.tasks[phase], completed=done, total=total, info=info)
        if info and not self.bars.console.is_terminal and not self.bars.disable:
            self.bars.console.print(f"{phase} {done}/{total if total is not None else '?'}  {info}",
                                    highlight=False)

    def __enter__(self) -> RichProgress:
        self.quiet.__enter__()
        self.bars.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.bars.stop()
        self.quiet.__exit__(kind, error, tb)
