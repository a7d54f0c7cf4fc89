"""A real Jupyter kernel for the notebook tests: this interpreter, this checkout's ``src``, everything it
writes (connection files, IPython's history) under a temporary folder; and a client that records every
display message, so a test can tell a display updated in place from outputs appended one by one."""
from __future__ import annotations

import asyncio
import json
import os
import sys
from collections import Counter
from pathlib import Path

import pytest

# reverie[notebook-test] (in all-test, which CI installs): missing, these fail rather than skip
import ipykernel  # noqa: E402, F401 - the kernel the tests start
import nbclient  # noqa: E402
import nbformat  # noqa: E402

SOURCE = Path(__file__).resolve().parents[2] / "src"
KERNEL = "reverie-test"


@pytest.fixture(scope="session")
def kernel_home(tmp_path_factory):
    """A kernelspec that runs this interpreter with ``src`` first on its path (a fresh CI venv has a
    ``python3`` kernelspec that may name another interpreter, or none at all)."""
    home = tmp_path_factory.mktemp("jupyter")
    spec = home / "kernels" / KERNEL
    spec.mkdir(parents=True)
    path = os.pathsep.join(filter(None, [str(SOURCE), os.environ.get("PYTHONPATH", "")]))
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Reverie tests", "language": "python", "interrupt_mode": "signal",
        # one torch thread: the suite runs on small shared CPUs (see tests/conftest.py)
        "env": {"PYTHONPATH": path, "OMP_NUM_THREADS": "1", "REVERIE_EXAMPLE_SCALE": "0.1",
                "REVERIE_NOTEBOOK_INTERVAL": "0.05"},
    }))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", str(home))
        patch.setenv("JUPYTER_RUNTIME_DIR", str(home / "runtime"))
        patch.setenv("IPYTHONDIR", str(home / "ipython"))
        yield home


class RecordingClient(nbclient.NotebookClient):
    """Runs a notebook and records (cell index, message type, display id) for every display message.

    ``interrupt``: {cell index: n} interrupts the kernel (as the stop button does) when that cell's
    live display has been redrawn n times.
    """

    def __init__(self, notebook, interrupt: dict[int, int] | None = None, **options):
        super().__init__(notebook, **options)
        self.displays: list[tuple[int, str, str | None]] = []
        self.interrupt_at = dict(interrupt or {})
        self.interrupts = 0

    def process_message(self, msg, cell, cell_index):
        kind = msg["msg_type"]
        if kind in ("display_data", "update_display_data", "execute_result"):
            transient = msg["content"].get("transient") or {}
            self.displays.append((cell_index, kind, transient.get("display_id")))
            redraws = sum(1 for index, seen, _ in self.displays if index == cell_index and seen == "update_display_data")
            if kind == "update_display_data" and self.interrupt_at.get(cell_index) == redraws:
                del self.interrupt_at[cell_index]
                self.interrupts += 1
                asyncio.ensure_future(self.km.interrupt_kernel())  # the kernel manager is asynchronous
        return super().process_message(msg, cell, cell_index)

    def updates(self, cell_index: int) -> Counter:
        """How many update_display_data messages each display id of the cell got."""
        return Counter(display_id for index, kind, display_id in self.displays
                       if index == cell_index and kind == "update_display_data")


@pytest.fixture
def execute(kernel_home, tmp_path):
    """execute(notebook, **options) -> the client, after running every cell on a fresh kernel in tmp_path."""
    def run(notebook, interrupt=None, timeout=240):
        client = RecordingClient(notebook, interrupt=interrupt, kernel_name=KERNEL, timeout=timeout,
                                 resources={"metadata": {"path": str(tmp_path)}})
        client.execute()
        return client
    return run


def code_notebook(*cells: str, tags: dict[int, list[str]] | None = None):
    """A notebook of code cells (``tags``: cell index -> its tags, e.g. "raises-exception")."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    for index, names in (tags or {}).items():
        notebook.cells[index].metadata["tags"] = names
    return notebook


@pytest.fixture
def new_notebook():
    return code_notebook
