"""A static file server for an atlas folder, bound to the loopback interface only."""
from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from reverie.errors import ReverieError

HOST = "127.0.0.1"
INFO = "atlas.json"  # reverie.atlas.build.INFO; not imported from there, which loads torch


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # one line per request would drown the terminal
        pass


@contextlib.contextmanager
def atlas_server(folder: str | os.PathLike, port: int = 8000) -> Iterator[ThreadingHTTPServer]:
    """An HTTP server for ``folder`` on 127.0.0.1:``port`` (0: any free port); closed on exit. Call
    ``serve_forever()`` on it (in a thread, for tests)."""
    folder = Path(folder)
    if not (folder / INFO).is_file() or not (folder / "index.html").is_file():
        raise ReverieError(f"{folder} holds no finished atlas (no {INFO} and index.html); "
                           f"build one with: reverie atlas build -o {folder} --layers ...")
    if not 0 <= port <= 65535:
        raise ReverieError(f"--port must be from 0 to 65535, got {port}")
    handler = functools.partial(_QuietHandler, directory=str(folder))
    try:
        server = ThreadingHTTPServer((HOST, port), handler)
    except OSError as error:
        raise ReverieError(f"cannot serve on {HOST}:{port}: {error.strerror or error} (try --port 0)") from None
    try:
        yield server
    finally:
        server.server_close()
