"""A Rich progress bar (stage, step, ETA) fed by the engine's Progress events."""
from __future__ import annotations

from contextlib import contextmanager

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
