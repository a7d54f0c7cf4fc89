"""A task run inside a Jupyter kernel: one live preview updated in place, a progress bar, the kernel's
interrupt as a stop that keeps the work, and a user mistake as one line instead of a traceback.

How the tasks get it without depending on IPython: the package face (``reverie.dream``,
``reverie.run`` ...) hands out each task's function wrapped by :func:`shown`. The wrapper looks for a
running kernel at call time and, finding none, calls the function unchanged, so scripts, the command
line and the studio see exactly the core; the core never learns that notebooks exist. (The other way,
tasks asking a registry for a default progress callback, would put a global into every task's run.)
"""
from __future__ import annotations

import functools
import html
import inspect
import io
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from PIL import Image

from reverie.cli.task import ctrl_c_stops
from reverie.engine.progress import Progress, ProgressCallback, StopSignal
from reverie.errors import ReverieError
from reverie.imaging import flatten_alpha, grid, to_pil
from reverie.pipelines.result import Result
from reverie.pipelines.show import data_uri, png_bytes, shrunk


@dataclass
class NotebookSettings:
    """What the notebook front end does; change it with ``reverie.notebook.settings.display = False``."""

    display: bool = True      # a live preview for every task run in a kernel (``display=False`` per call)
    # seconds: the preview is redrawn at most this often (and once at the end); REVERIE_NOTEBOOK_INTERVAL
    # sets the default (the example-notebook tests redraw often, so a quick run still shows several frames)
    interval: float = field(default_factory=lambda: float(os.environ.get("REVERIE_NOTEBOOK_INTERVAL", "0.5")))
    preview_side: int = 384   # px: the longest side of the preview (a 2048 px dream is shown shrunk)


settings = NotebookSettings()


def in_kernel() -> bool:
    """True inside a Jupyter kernel (JupyterLab, Notebook, VS Code, Colab): an IPython shell with a
    kernel. IPython is never imported here; if nothing imported it, this is no notebook."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


def duration(seconds: float) -> str:
    """
    >>> duration(4.2), duration(75), duration(3725)
    ('4 s', '1:15', '1:02:05')
    """
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{seconds:02d}" if minutes >= 60 else f"{minutes}:{seconds:02d}"


def status_line(kind: str, event: Progress) -> str:
    """
    >>> status_line("dream", Progress("octave 2/4", 3, 10, 45, 100, 1.23456, seconds_left=12.4))
    'dream · octave 2/4 · step 3/10 · score 1.23 · 45% · 12 s left'
    """
    left = f" · {duration(event.seconds_left)} left" if event.seconds_left is not None else ""
    return (f"{kind} · {event.stage} · step {event.step}/{event.steps} · score {event.score:.3g} · "
            f"{event.fraction:.0%}{left}")


def preview_picture(image: torch.Tensor) -> Image.Image | None:
    """A preview [B, C, H, W] as one picture: the image, or a contact sheet of a batch (alpha over white)."""
    if image.ndim != 4 or image.numel() == 0:
        return None
    image = flatten_alpha(image.float().clamp(0, 1))
    return to_pil(image) if image.shape[0] == 1 else grid(image)


def jpeg_bytes(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.convert("RGB").save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


Publish = Callable[[dict, bool], None]  # publish(bundle, update): show a MIME bundle, or replace the shown one


def ipython_publisher() -> Publish:
    """Shows a bundle as one display in the notebook and replaces it in place afterwards (its display id).
    Only called inside a kernel, so IPython is imported here, never by ``import reverie``."""
    from IPython.display import display

    handle = None

    def publish(bundle: dict, update: bool) -> None:
        nonlocal handle
        if handle is None:
            handle = display(bundle, raw=True, display_id=True)
        else:
            handle.update(bundle, raw=True)
    return publish


class LiveDisplay:
    """A progress callback that draws one output and redraws it in place: the preview image, a progress
    bar, and the stage, step, score and time left. At most one redraw per ``settings.interval``, and the
    preview is computed only for a redraw, so a fast loop spends its time on the task.

    The output appears with the first step (as the command line's bar does): a mistake found while the
    inputs are checked is then its one line, with no empty preview above it.
    """

    def __init__(self, kind: str, publish: Publish | None = None):
        self.kind = kind
        self._publish = publish or ipython_publisher()
        self._began = time.monotonic()
        self._next = float("-inf")     # when the next redraw may happen
        self._picture: Image.Image | None = None
        self.fraction = 0.0
        self.redraws = 0               # bundles published: the first shows the output, the rest update it

    def __call__(self, event: Progress) -> None:
        if time.monotonic() < self._next:
            return
        self._picture = preview_picture(event.preview()) or self._picture
        self.fraction = event.fraction
        self._show(status_line(self.kind, event), final=False)
        # measured after drawing: however slow a redraw is, the task gets `interval` seconds between two
        self._next = time.monotonic() + settings.interval

    def finish(self, result: Result, interrupted: bool) -> None:
        """The last frame: the result's own picture, and how it ended."""
        try:
            self._picture = result.picture()
        except (ReverieError, ValueError):  # a frame task stopped before its first frame
            pass
        took = duration(time.monotonic() - self._began)
        if result.stopped:
            point = result.recipe.stopped_at
            where = point.stage if point is not None and point.stage else "the start"
            why = "interrupted" if interrupted else "where its recipe stopped"
            self._show(f"{self.kind} · stopped at {where} ({why}) after {took}")
        else:
            self.fraction = 1.0
            self._show(f"{self.kind} · done in {took}")

    def fail(self, error: BaseException) -> None:
        """Say how a run that was shown ended (the error itself is reported by the kernel, below)."""
        if self.redraws:
            what = "interrupted" if isinstance(error, KeyboardInterrupt) else f"failed: {error}"
            self._show(f"{self.kind} · {what}")

    def _show(self, status: str, final: bool = True) -> None:
        """Publish the current state. Frames in passing are JPEG (a 384 px one encodes in about a
        millisecond, PNG takes tens: bench/notebook_overhead.py); the last frame, which the saved
        notebook keeps, is PNG."""
        # Three renderings of one state: HTML (the image, a progress bar, the status) where HTML is shown,
        # the bare image where only images are (nbconvert to PDF), the status line in a terminal.
        bundle = {"text/plain": status}
        image, width = "", 240
        if self._picture is not None:
            picture = shrunk(self._picture, settings.preview_side)
            mime = "image/png" if final else "image/jpeg"
            uri = data_uri(mime, png_bytes(picture) if final else jpeg_bytes(picture))
            bundle[mime] = uri.partition(",")[2]   # base64, as the notebook format stores it
            image = f'<img src="{uri}" width="{picture.width}" height="{picture.height}" style="max-width:100%"><br>'
            width = max(width, picture.width)
        bundle["text/html"] = (
            f"<div class='reverie-live'>{image}<progress value='{self.fraction:.4f}' max='1' "
            f"style='width:{width}px;max-width:100%'></progress><br><code>{html.escape(status)}</code></div>")
        self._publish(bundle, self.redraws > 0)
        self.redraws += 1


class EitherStop:
    """Set when any of its signals is (the kernel's interrupt, the caller's own ``stop``)."""

    def __init__(self, *signals: StopSignal | None):
        self.signals = [signal for signal in signals if signal is not None]

    def is_set(self) -> bool:
        return any(signal.is_set() for signal in self.signals)


def both(first: ProgressCallback, second: ProgressCallback | None) -> ProgressCallback:
    if second is None:
        return first

    def each(event: Progress) -> None:
        first(event)
        second(event)
    return each


def one_line_errors() -> None:
    """In this kernel, a :class:`ReverieError` (a user mistake) shows as its one line, not a traceback
    (IPython adds that ``%tb`` shows the full one). The cell still fails, so "run all" stops there."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None or ReverieError in shell.custom_exceptions:
        return

    def one_line(shell, kind, error, traceback, tb_offset=None):
        shell.showtraceback((kind, error, traceback), exception_only=True)
    shell.set_custom_exc((*shell.custom_exceptions, ReverieError), one_line)


def stopped_note(result: Result) -> str:
    """What a run cut short by the kernel's interrupt says, in one line."""
    point = result.recipe.stopped_at
    where = point.stage if point is not None and point.stage else "the start"
    return (f"reverie: interrupted; stopped early at {where}. The result holds the work so far and its recipe "
            "records where it stopped (replace(result.recipe, stopped_at=None) runs it to the end).")


def run_shown(function: Callable[..., Result], kind: str, display: bool, args: tuple, options: dict,
              publish: Publish | None = None) -> Result:
    """Call ``function`` in a kernel: live display (if ``display``; drawn by ``publish``, by default a
    display in the notebook), interrupt as a stop, one-line errors."""
    one_line_errors()
    live = LiveDisplay(kind, publish) if display else None
    with ctrl_c_stops() as interrupted:  # the first interrupt stops the task; a second one aborts
        if live is not None:
            options["progress"] = both(live, options.get("progress"))
        options["stop"] = EitherStop(interrupted, options.get("stop"))
        try:
            result = function(*args, **options)
        except BaseException as error:
            if live is not None:
                live.fail(error)
            raise
    if live is not None:
        live.finish(result, interrupted.is_set())
    if result.stopped and interrupted.is_set():
        print(stopped_note(result), file=sys.stderr)
    return result


def shown(function: Callable[..., Result]) -> Callable[..., Result]:
    """``function`` (a task's keyword function, or ``reverie.run``) with one more keyword, ``display``.

    In a Jupyter kernel a call shows a live preview (unless ``display=False`` or
    ``settings.display`` is false), turns the kernel's interrupt into a stop that returns the partial
    result, and shows a user mistake as one line. Anywhere else the call is the function's own.
    """
    if getattr(function, "__reverie_shown__", False):
        return function

    @functools.wraps(function)
    def call(*args, display: bool = True, **options):
        if not in_kernel():
            return function(*args, **options)
        recipe_kind = getattr(args[0], "KIND", None) if args else None
        kind = recipe_kind or function.__name__.removeprefix("dream_")
        return run_shown(function, kind, display and settings.display, args, options)

    parameters = list(inspect.signature(function).parameters.values())
    at = next((i for i, p in enumerate(parameters) if p.kind is inspect.Parameter.VAR_KEYWORD), len(parameters))
    parameters.insert(at, inspect.Parameter("display", inspect.Parameter.KEYWORD_ONLY, default=True,
                                            annotation="bool"))
    call.__signature__ = inspect.signature(function).replace(parameters=parameters)
    call.__doc__ = (function.__doc__ or "") + (
        "\n\n    ``display``: in a Jupyter notebook, show a live preview while it runs (default); the kernel's "
        "interrupt\n    stops it and returns the work so far. Ignored elsewhere.\n")
    call.__reverie_shown__ = True
    return call
