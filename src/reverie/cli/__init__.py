"""The ``reverie`` command line: text in, recipe out, progress shown, errors as one line."""
from __future__ import annotations

import signal
import sys
import threading

# Set by a Ctrl-C that came before a task's own Ctrl-C handling took over (see cli.task.ctrl_c_stops).
EARLY_CTRL_C = threading.Event()


def _defer(signum, frame) -> None:
    """The first Ctrl-C while the commands load only notes it: a KeyboardInterrupt raised inside C++
    code that calls back into Python (torch's extensions do, as they load) aborts the interpreter.
    The task's Ctrl-C handling then exits at once with one line; a second Ctrl-C raises here."""
    if EARLY_CTRL_C.is_set():
        raise KeyboardInterrupt
    EARLY_CTRL_C.set()


def main() -> None:
    """Console-script entry: imports the commands inside the Ctrl-C handling, so a Ctrl-C in the first
    seconds (while typer, rich and torch load) is one line and exit 130, not a traceback or an abort."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _defer)
    try:
        from reverie.cli.main import run
    except KeyboardInterrupt:
        EARLY_CTRL_C.set()
    if EARLY_CTRL_C.is_set():
        print("reverie: interrupted", file=sys.stderr)
        sys.exit(130)
    run()
    if EARLY_CTRL_C.is_set():  # a command with no task of its own finished before the note was read
        print("reverie: interrupted", file=sys.stderr)
        sys.exit(130)
