"""Rich progress bars fed by the engine's events: stages and steps, or frames; and small helpers for their messages."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress as Bar, TaskProgressColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from reverie.engine.progress import Progress


@contextmanager
def progress_bar(description: str, console: Console):
    """Yields a callback for the engine. The bar appears with the first event, so a mistake found
    while checking the inputs is reported as one clean line, with no empty bar above it."""
    columns = (
        TextColumn("[bold]{task.description}"), BarColumn(), TaskProgressColumn(),
        TextColumn("{task.fields[stage]} step {task.fields[step]}"),
        TextColumn("score {task.fields[score]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
    )
    bar = Bar(*columns, console=console, transient=False)
    task = None

    def update(event: Progress) -> None:
        nonlocal task
        if task is None:
            bar.start()
            task = bar.add_task(description, total=1.0, stage="", step="", score="")
        bar.update(task, completed=event.fraction, stage=event.stage,
                   step=f"{event.step}/{event.steps}", score=f"{event.score:.3g}")
    try:
        yield update
    finally:
        if task is not None:
            bar.stop()


@contextmanager
def frame_bar(description: str, quiet: bool, console: Console):
    """A progress bar of frames with the engine's ETA, or None when ``quiet``; it appears with the first
    finished frame, so a mistake found while checking the inputs stays one clean line."""
    if quiet:
        yield None
        return
    from rich.progress import MofNCompleteColumn

    bar = Bar(TextColumn(f"[bold]{description}"), BarColumn(), MofNCompleteColumn(), TextColumn("frames"),
              TextColumn("score {task.fields[score]}"), TimeElapsedColumn(), TextColumn("ETA {task.fields[eta]}"),
              console=console, transient=False)
    task = None

    def update(event) -> None:
        nonlocal task
        if task is None:
            bar.start()
            task = bar.add_task(description, total=event.steps, completed=event.step - 1, score="", eta="")
        bar.update(task, completed=event.step, score=f"{event.score:.3g}", eta=duration(event.seconds_left))
    try:
        yield update
    finally:
        if task is not None:
            bar.stop()


def duration(seconds: float | None) -> str:
    """Seconds as H:MM:SS; "-" when unknown."""
    if seconds is None:
        return "-"
    seconds = round(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def quoted(path: Path) -> str:
    """A path as a shell would need it written, for a command line to copy."""
    import shlex

    return shlex.quote(str(path))
