"""The example notebooks run on a real kernel, every cell, and show what they promise: images, and live
displays redrawn in place (one output per display, however many updates it got)."""
from __future__ import annotations

import base64
import io
from collections import Counter
from pathlib import Path

import nbformat
import pytest
from PIL import Image

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.ipynb"))


def test_there_are_example_notebooks():
    assert {path.stem for path in EXAMPLES} >= {"quickstart", "animation", "feature-visualization", "recipes"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.stem)
def test_example_is_stored_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: strip the outputs"


def images_in(output) -> list[Image.Image]:
    data = output.get("data", {})
    found = []
    for mime in ("image/png", "image/gif"):
        if mime in data:
            found.append(Image.open(io.BytesIO(base64.b64decode(data[mime]))))
    return found


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.stem)
def test_example_runs_on_a_kernel(path, execute):
    client = execute(nbformat.read(path, as_version=4))     # raises if any cell fails
    cells = client.nb.cells

    created = Counter((index, display_id) for index, kind, display_id in client.displays
                      if kind == "display_data" and display_id)
    assert created, "no live display"
    assert set(created.values()) == {1}, "a display was created twice instead of updated"
    updates = Counter((index, display_id) for index, kind, display_id in client.displays
                      if kind == "update_display_data")
    assert set(updates) <= set(created), "an update for a display that was never shown"
    assert max(updates.values()) >= 3, f"no display was redrawn several times: {updates}"

    for index, _ in created:   # the saved cell keeps one output per live display: its last frame
        live = [output for output in cells[index].outputs
                if output.output_type == "display_data" and "<progress" in output.data.get("text/html", "")]
        displays_here = sum(1 for cell_index, _ in created if cell_index == index)
        assert len(live) == displays_here, f"cell {index}: {len(live)} live outputs for {displays_here} displays"
        assert all(images_in(output) for output in live), f"cell {index}: a live display ended without a frame"
        assert all(("done in" in output.data["text/plain"]) for output in live), cells[index].source

    results = [output for cell in cells for output in cell.get("outputs", []) if output.output_type == "execute_result"]
    pictures = [image for output in results for image in images_in(output)]
    assert pictures and all(min(image.size) >= 8 for image in pictures)
    assert any("<details><summary>recipe</summary>" in output.data.get("text/html", "") for output in results)
