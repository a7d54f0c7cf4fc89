"""Running a task from the command line: the progress bar, and Ctrl-C as a stop that keeps the work.

The first Ctrl-C sets the stop signal the task checks after every step: the task returns what it has
made, with a recipe that records where it stopped, and the command saves it. A second Ctrl-C raises
KeyboardInterrupt at once (outputs are written atomically, so that leaves no half-written file).
"""
from __future__ import annotations

# Modules that load torch are imported inside the commands, not here: `reverie --help` must answer in
# well under a second (bench/startup.py).
import signal
import threading
from contextlib import contextmanager
from pathlib import Path

from reverie.cli import EARLY_CTRL_C
from reverie.cli.common import check_not_input, quoted, say, stderr
from reverie.cli.progress import progress_bar
from reverie.fields import escaped

STOPPED = 130  # the exit status of a run cut short by Ctrl-C, as shells report SIGINT


@contextmanager
def ctrl_c_stops():
    """Yields a ``threading.Event`` the first Ctrl-C sets; the second raises KeyboardInterrupt.
    The previous handler is back on exit. (Off the main thread, where Python allows no handler,
    Ctrl-C keeps its usual meaning.)"""
    stop = threading.Event()
    if EARLY_CTRL_C.is_set():  # Ctrl-C came while the command loaded: stop before any work
        raise KeyboardInterrupt
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def first(signum, frame) -> None:
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)
    previous = signal.signal(signal.SIGINT, first)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


def run_task(recipe, description: str, *, quiet: bool, device: str, outputs=(), overwrite_input: bool = False,
             **options):
    """Run ``recipe`` with a progress bar (unless ``quiet``), stopping cleanly on the first Ctrl-C.

    Returns the task's result and whether Ctrl-C stopped it (a replayed recipe that was stopped also
    stops, at the same point, without one).
    """
    from reverie.models import check_trusted  # heavy (torch): not for --help
    from reverie.pipelines.prepare import files_to_read
    from reverie.tasks import run

    check_trusted(recipe.model)  # the trust rule first: a recipe's model that runs code is refused unread
    note_machine(recipe, device)
    files = files_to_read(recipe)  # refuses a file outside the recipe's folder before any is read
    check_not_input(recipe, outputs, overwrite_input)
    if files:
        say("reading " + ", ".join(f"{name} {escaped(str(path))}" for name, path in files) + " (named by the recipe)")
    with ctrl_c_stops() as stop, progress_bar(description, quiet, stderr) as progress:
        result = run(recipe, progress=progress, stop=stop, device=device, **options)
    return result, stop.is_set()


def note_machine(recipe, device: str) -> None:
    """Say so when a replayed recipe was made with another PyTorch or device type (pixels may differ)."""
    from reverie.machine import machine_difference  # heavy (torch): only commands that run get here
    from reverie.models import resolve_device

    note = machine_difference(recipe.made_with, resolve_device(device))
    if note:
        say(note)


def report_stop(result, saved: Path, interrupted: bool) -> None:
    """After a one-image task saved ``result`` to ``saved``: if Ctrl-C stopped it, say where and exit
    130; if it stopped where its replayed recipe did, say so (the command goes on as usual)."""
    if not result.stopped:
        return
    point = result.recipe.stopped_at
    where = point.stage if point is not None and point.stage else "the start"
    if interrupted:
        say(f"reverie: stopped at {where}; wrote {saved} (replay with --recipe {quoted(saved)}, "
            f"or add --finish to complete it)")
        raise SystemExit(STOPPED)  # typer.Exit is returned, not raised, by app(standalone_mode=False)
    say(f"note: stopped at {where}, where the recipe's run was stopped; add --finish to complete it")


def report_frames_stop(result, interrupted: bool, resume: str) -> None:
    """After a frame task: if Ctrl-C stopped it, say how many frames are finished (and the video of
    them, if one was written) and how to continue, and exit 130."""
    if not (result.stopped and interrupted):
        return
    done = result.recipe.stopped_at.after if result.recipe.stopped_at is not None else 0
    video = f"; wrote {result.output} of them" if getattr(result, "output", None) is not None else ""
    say(f"reverie: stopped; {done} of {result.recipe.frames} frames are finished in {result.folder}{video}; "
        f"continue with: {resume}")
    raise SystemExit(STOPPED)
