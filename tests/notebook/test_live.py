"""The live display and the interrupt, on a real kernel and in-process."""
from __future__ import annotations

import base64
import io
import time

import pytest
import torch
from PIL import Image

import reverie
from reverie.engine.progress import Progress
from reverie.notebook import live
from reverie.notebook.live import LiveDisplay, shown

SETUP = """
import torch
import reverie
from reverie import notebook
notebook.settings.interval = 0.05   # redraw often: a short run then shows several updates
settings = reverie.DreamSettings(octaves=1, steps=12, jitter=4)
"""
DREAM = 'result = reverie.dream("chelsea", size=(64, 48), settings=settings)'
LONG = 'long = reverie.dream("chelsea", size=(64, 48), settings=reverie.DreamSettings(octaves=1, steps=3000, jitter=4))'
CHECK = """
point = long.recipe.stopped_at
assert long.stopped and point is not None and 0 < point.after < 3000, (long.stopped, point)
assert tuple(long.image.shape) == (1, 3, 48, 64), long.image.shape
again = reverie.run(reverie.read_recipe(long.recipe.to_json()), display=False)   # replays to the same step
assert again.stopped and torch.equal(again.image, long.image)
print("stopped after", point.after)
"""
MISTAKE = 'reverie.dream("chelsea", size=(64, 48), objective="layer(blocks.99)", settings=settings)'
QUIET = 'quiet = reverie.dream("chelsea", size=(64, 48), settings=settings, display=False)'
OFF = """
notebook.settings.display = False
off = reverie.visualize("channel(blocks.6, 3)", size=(48, 48), settings=reverie.RenderSettings(steps=4))
notebook.settings.display = True
"""


@pytest.fixture
def session(execute, new_notebook):
    notebook = new_notebook(SETUP, DREAM, LONG, CHECK, MISTAKE, QUIET, OFF, tags={4: ["raises-exception"]})
    return execute(notebook, interrupt={2: 2})


def test_notebook_session(session):
    """One kernel for every behaviour below (a kernel start costs seconds on a small CPU)."""
    cells = session.nb.cells

    # a run shows one display, updated in place several times; the notebook keeps one output: the last frame
    assert len(session.updates(1)) == 1 and sum(session.updates(1).values()) >= 3, session.displays
    shown_outputs = [output for output in cells[1].outputs if output.output_type == "display_data"]
    assert len(shown_outputs) == 1
    last = Image.open(io.BytesIO(base64.b64decode(shown_outputs[0].data["image/png"])))
    assert last.size == (64, 48)
    assert "done in" in shown_outputs[0].data["text/plain"]
    assert "<progress" in shown_outputs[0].data["text/html"]

    # the kernel's interrupt stops the run and keeps the work, with one line saying so
    assert session.interrupts == 1
    streams = "".join(output.get("text", "") for output in cells[2].outputs if output.output_type == "stream")
    assert "interrupted; stopped early at" in streams and len(streams.strip().splitlines()) == 1
    assert not [output for output in cells[2].outputs if output.output_type == "error"]
    live_output = next(output for output in cells[2].outputs if output.output_type == "display_data")
    assert "(interrupted)" in live_output.data["text/plain"]
    assert "stopped after" in cells[3].outputs[0].text

    # a user mistake is its one line (after IPython's own "use %tb to see the full traceback"), no frames
    error = next(output for output in cells[4].outputs if output.output_type == "error")
    assert error.ename == "ReverieError" and "blocks.99" in error.traceback[-1]
    assert len(error.traceback) == 2 and "%tb" in error.traceback[0], error.traceback
    assert not [entry for entry in session.displays if entry[0] == 4]   # no empty preview above it

    # display=False, and the setting, show nothing
    assert not [entry for entry in session.displays if entry[0] in (5, 6)]


class Recorder:
    def __init__(self):
        self.bundles: list[tuple[dict, bool]] = []

    def __call__(self, bundle: dict, update: bool) -> None:
        self.bundles.append((bundle, update))


def event(step: int, steps: int = 100, image: torch.Tensor | None = None) -> Progress:
    picture = torch.rand(1, 3, 20, 30) if image is None else image
    return Progress("octave 1/1", step, steps, step, steps, 0.5, lambda: picture)


def test_redraws_at_most_once_per_interval(monkeypatch):
    monkeypatch.setattr(live.settings, "interval", 0.2)
    recorder = Recorder()
    display = LiveDisplay("dream", recorder)
    began = time.monotonic()
    step = 0
    while time.monotonic() - began < 0.5:
        step += 1
        display(event(step))
    redraws = len(recorder.bundles)          # the first step shows the output, later ones update it
    assert step > 50 and 2 <= redraws <= 3, (step, redraws)
    assert [update for _, update in recorder.bundles] == [False] + [True] * (redraws - 1)


def test_preview_of_a_batch_is_a_contact_sheet_and_alpha_is_flattened():
    recorder = Recorder()
    display = LiveDisplay("visualize", recorder)
    display(event(1, image=torch.zeros(4, 4, 16, 16)))   # transparent black: white once flattened
    picture = Image.open(io.BytesIO(base64.b64decode(recorder.bundles[-1][0]["image/jpeg"])))
    assert picture.width > 2 * 16 and picture.height > 2 * 16
    assert all(channel > 245 for channel in picture.getpixel((0, 0)))   # JPEG: white, give or take


def test_preview_is_shrunk_to_the_preview_side(monkeypatch):
    monkeypatch.setattr(live.settings, "preview_side", 50)
    recorder = Recorder()
    display = LiveDisplay("dream", recorder)
    display(event(1, image=torch.rand(1, 3, 100, 200)))
    assert Image.open(io.BytesIO(base64.b64decode(recorder.bundles[-1][0]["image/jpeg"]))).size == (50, 25)
    display.finish(reverie.DreamResult(reverie.DreamRecipe(), False, torch.rand(1, 3, 100, 200)), False)
    assert Image.open(io.BytesIO(base64.b64decode(recorder.bundles[-1][0]["image/png"]))).size == (50, 25)


def test_finish_shows_the_result_and_how_it_ended(photo32):
    recorder = Recorder()
    display = LiveDisplay("dream", recorder)
    result = reverie.DreamResult(reverie.DreamRecipe(), False, photo32)
    display.finish(result, interrupted=False)
    bundle = recorder.bundles[-1][0]
    assert bundle["text/plain"].startswith("dream · done in")
    assert Image.open(io.BytesIO(base64.b64decode(bundle["image/png"]))).size == (32, 32)
    assert "value='1.0000'" in bundle["text/html"]


def test_outside_a_kernel_the_call_is_the_functions_own():
    calls = []

    def task(recipe, *, progress=None, stop=None):
        calls.append((progress, stop))
        return "result"
    wrapped = shown(task)
    assert wrapped("recipe", display=False) == "result" and wrapped("recipe") == "result"
    assert calls == [(None, None), (None, None)]
    assert "display" in str(__import__("inspect").signature(wrapped))
    assert shown(wrapped) is wrapped


def test_package_face_shows_every_task():
    for name in ("run", "dream", "visualize", "interpolate", "animate", "dream_video", "caricature", "style",
                 "texture"):
        assert getattr(getattr(reverie, name), "__reverie_shown__", False), name
    assert reverie.TASKS["dream"].keywords is reverie.pipelines.dream.dream   # the core stays unwrapped


def test_a_failed_run_says_so_only_if_it_was_shown():
    recorder = Recorder()
    LiveDisplay("dream", recorder).fail(ValueError("bad input"))
    assert recorder.bundles == []            # failed before its first step: the error alone says it
    display = LiveDisplay("dream", recorder)
    display(event(1))
    display.fail(KeyboardInterrupt())
    assert recorder.bundles[-1][0]["text/plain"] == "dream · interrupted"
