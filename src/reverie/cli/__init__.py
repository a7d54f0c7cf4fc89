"""The ``reverie`` command line: text in, recipe out, progress shown, errors as one line."""
from __future__ import annotations

import sys


def main() -> None:
    """Console-script entry: imports the commands inside the Ctrl-C handling, so a Ctrl-C in the first
    split second (while typer and rich load) is one line and exit 130, not a traceback."""
    try:
        from reverie.cli.main import run
    except KeyboardInterrupt:
        print("reverie: interrupted", file=sys.stderr)
        sys.exit(130)
    run()
