"""The one progress event every task reports, and the stop signal every loop checks.

A loop calls ``progress(event)`` after each step, then asks ``stop.is_set()``; when it is set the loop
returns what it has made so far (it never raises). The preview image in an event is computed only
when someone calls ``event.preview()``, so an unobserved run pays nothing for it.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

import torch


@dataclass(frozen=True)
class Progress:
    """Where a long computation stands; passed to the ``progress`` callback after every step."""

    stage: str          # e.g. "octave 2/4", "batch 1/3", "frame 7/100"
    step: int           # steps finished in this stage
    steps: int          # steps in this stage
    work_done: float    # finished work in arbitrary units (pixel-steps for DeepDream)
    work_total: float   # all the work; work_done / work_total is the fraction complete
    score: float        # the objective's latest value
    _preview: Callable[[], torch.Tensor] = field(repr=False, compare=False, default=lambda: torch.empty(0))
    frame_index: int | None = None       # frame tasks: the frame being made
    seconds_left: float | None = None    # estimated from this run's pace; None until there is one

    @property
    def fraction(self) -> float:
        return min(1.0, self.work_done / self.work_total) if self.work_total else 1.0

    def preview(self) -> torch.Tensor:
        """The current image [B, C, H, W] in [0, 1] on the CPU (a copy; computed only when asked for)."""
        return self._preview()


FrameProgress = Progress  # the name frame tasks used before every task shared one event

ProgressCallback = Callable[[Progress], None]


class StopSignal(Protocol):
    """Anything with ``is_set()``: a ``threading.Event``, a ``multiprocessing.Event``, a :class:`Tracker`."""

    def is_set(self) -> bool: ...


def stop_requested(stop: StopSignal | None) -> bool:
    return stop is not None and stop.is_set()


class Tracker:
    """Sits between a task's loops and its caller: counts steps, adds an ETA, and decides when to stop.

    A task hands the tracker to its loops both as the ``progress`` callback and as the ``stop``
    signal. It is set when the caller's ``stop`` is, or when ``stop_after`` steps are done (a replay
    of a recipe that was stopped ends exactly where the original did: the loops check after every
    step, at the same point in the same order).
    """

    def __init__(self, progress: ProgressCallback | None = None, stop: StopSignal | None = None,
                 stop_after: int | None = None):
        self.progress = progress
        self.stop = stop
        self.stop_after = stop_after
        self.steps_done = 0           # every step of every loop this task ran, in order
        self.last: Progress | None = None
        self.stopped = False          # latched the first time is_set() says yes
        self._began = time.monotonic()

    def __call__(self, event: Progress) -> None:
        self.steps_done += 1
        if event.seconds_left is None and 0 < event.fraction < 1:
            elapsed = time.monotonic() - self._began
            event = replace(event, seconds_left=elapsed * (1 - event.fraction) / event.fraction)
        elif event.fraction >= 1:
            event = replace(event, seconds_left=0.0)
        self.last = event
        if self.progress is not None:
            self.progress(event)

    def is_set(self) -> bool:
        if not self.stopped:
            self.stopped = stop_requested(self.stop) or (
                self.stop_after is not None and self.steps_done >= self.stop_after)
        return self.stopped


def every(seconds: float, callback: ProgressCallback) -> ProgressCallback:
    """``callback`` for at most one event every ``seconds`` (and always the last step of a stage):
    what a front end that draws previews wants, so a fast loop does not spend its time drawing.

    >>> seen = []
    >>> throttled = every(3600, seen.append)
    >>> for step in range(1, 4):
    ...     throttled(Progress("s", step, 3, step, 3, 0.0))
    >>> [event.step for event in seen]
    [1, 3]
    """
    last = float("-inf")

    def throttled(event: Progress) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= seconds or event.step >= event.steps:
            last = now
            callback(event)
    return throttled
