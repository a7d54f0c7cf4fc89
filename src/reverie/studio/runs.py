"""One task running behind the page: a worker thread, the latest preview, and a stop that keeps the work.

The page's handler is a generator that polls a :class:`Run` and yields what changed (see
:meth:`Run.snapshots`); the task itself never waits for the page. Previews are made in the task's
thread, at most every ``preview_seconds`` and downscaled, so a run that nobody watches pays nothing
and one that is watched pays one small copy per interval.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from reverie.engine.progress import Progress, every
from reverie.errors import ReverieError
from reverie.pipelines.result import Result
from reverie.recipe import Recipe
from reverie.tasks import run as run_task

log = logging.getLogger("reverie.studio")
PREVIEW_SIDE = 384          # the preview's long side in pixels: enough to see, cheap to send
PREVIEW_SECONDS = 0.4       # at most this often (the issue asks for at least once a second)


def preview_array(image: torch.Tensor, side: int = PREVIEW_SIDE) -> np.ndarray:
    """[B, C, H, W] in [0, 1] -> the first image as uint8 [h, w, 3], its long side at most ``side``."""
    image = image[:1, :3].float()
    height, width = image.shape[-2:]
    scale = side / max(height, width)
    if scale < 1:
        image = F.interpolate(image, size=(max(1, round(height * scale)), max(1, round(width * scale))),
                              mode="area")
    return (image[0].clamp(0, 1).permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "estimating"
    seconds = round(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def describe(event: Progress) -> str:
    """One status line: where the run is, its score and ETA (what the command line's bar shows)."""
    parts = []
    if event.frame_index is not None:
        parts.append(f"frame {event.frame_index}")
    parts += [f"{event.stage} step {event.step}/{event.steps}", f"score {event.score:.3g}",
              f"{event.fraction:.0%}", f"{duration(event.seconds_left)} left"]
    return " · ".join(parts)


@dataclass(frozen=True)
class Snapshot:
    """What the page shows of a run at one moment."""

    preview: np.ndarray | None   # a new preview since the last snapshot, or None
    status: str
    fraction: float
    done: bool = False


class Run:
    """A task started on a worker thread. ``stop()`` asks it to end after the current step; the
    result (complete or stopped, with its recipe) is in ``result``, a user mistake in ``error``."""

    def __init__(self, recipe: Recipe, *, device: str = "auto", preview_seconds: float = PREVIEW_SECONDS,
                 preview_side: int = PREVIEW_SIDE, **options):
        self.recipe = recipe
        self.started = time.monotonic()
        self.first_preview_at: float | None = None   # seconds from start to the first preview
        self.steps_seen = 0
        self.result: Result | None = None
        self.error: str | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._preview: np.ndarray | None = None
        self._status = "starting"
        self._fraction = 0.0
        self._side = preview_side
        self._draw = every(preview_seconds, self._draw_preview)
        self._thread = threading.Thread(target=self._work, args=(device, options), daemon=True,
                                        name=f"reverie-{recipe.KIND}")
        self._thread.start()

    # -- the worker thread ------------------------------------------------------------------------

    def _work(self, device: str, options: dict) -> None:
        try:
            self.result = run_task(self.recipe, progress=self._seen, stop=self._stop, device=device, **options)
        except ReverieError as error:
            self.error = str(error)
        except Exception as error:
            log.exception("the %s task failed", self.recipe.KIND)
            self.error = f"the {self.recipe.KIND} task failed: {type(error).__name__}: {str(error).splitlines()[0][:200] if str(error) else ''}"

    def _seen(self, event: Progress) -> None:
        self.steps_seen += 1
        with self._lock:
            self._status = describe(event)
            self._fraction = event.fraction
        self._draw(event)

    def _draw_preview(self, event: Progress) -> None:
        image = event.preview()
        if image.numel() == 0:
            return
        array = preview_array(image, self._side)
        with self._lock:
            self._preview = array
        if self.first_preview_at is None:
            self.first_preview_at = time.monotonic() - self.started

    # -- the page's side --------------------------------------------------------------------------

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return self.done

    def take(self) -> Snapshot:
        """The latest status, and the preview if a new one was made since the last call."""
        with self._lock:
            preview, self._preview = self._preview, None
            return Snapshot(preview, self._status, self._fraction, self.done)

    def snapshots(self, interval: float = 0.25) -> Iterator[Snapshot]:
        """Snapshots while the task runs (one every ``interval`` seconds at most, only when something
        changed), then a last one with ``done`` set."""
        last_status = None
        while not self.wait(interval):
            snapshot = self.take()
            if snapshot.preview is not None or snapshot.status != last_status:
                last_status = snapshot.status
                yield snapshot
        yield self.take()
