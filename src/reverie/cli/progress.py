"""The progress bar every command shows, fed by the one :class:`reverie.Progress` event every task reports."""
from __future__ import annotations

from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as Bar


@contextmanager
def progress_bar(description: str, quiet: bool, console: Console):
    """Yields a progress callback (None when ``quiet``). The bar appears with the first event, so a
    mistake found while checking the inputs is reported as one clean line, with no empty bar above it."""
    if quiet:
        yield None
        return
    bar = Bar(TextColumn(f"[bold]{description}"), BarColumn(), TaskProgressColumn(),
              TextColumn("{task.fields[where]}", markup=False), TextColumn("score {task.fields[score]}", markup=False), TimeElapsedColumn(),
              TextColumn("ETA {task.fields[eta]}"), console=console, transient=False)
    task = None

    def update(event) -> None:  # event: reverie.Progress
        nonlocal task
        if task is None:
            bar.start()
            task = bar.add_task(description, total=1.0, where="", score="", eta="")
        where = f"{event.stage} step {event.step}/{event.steps}" if event.steps else event.stage  # 0: no steps
        bar.update(task, completed=event.fraction, where=where,
                   score=f"{event.score:.3g}" if event.score == event.score else "-", eta=duration(event.seconds_left))
    try:
        yield update
    finally:
        if task is not None:
            bar.stop()


def duration(seconds: float | None) -> str:
    """Seconds as H:MM:SS; "-" when unknown.

    >>> duration(3725.4), duration(None)
    ('1:02:05', '-')
    """
    if seconds is None:
        return "-"
    seconds = round(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
