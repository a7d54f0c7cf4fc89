"""The work budget: what a dream or a rendering will cost, estimated before its first step and refused
when it cannot fit in memory or asks for more work than the caller allowed.

Work is counted in pixel-steps: the pixels of every image the network sees (after every upscale)
times the steps taken on it, times the batch and the frames. A recipe from a stranger can ask for
10^12 of them; the default limit, :data:`MAX_WORK`, is far above any still (a 4096 px dream is
under 10^9) and holds several minutes of 1080p video at the video settings; a caller raises it
explicitly (``reverie.run(..., max_work=...)``, ``--max-work`` on the command line).

The limit travels with the call that runs a task (:func:`work_limit`), not through every loop's
signature; the loops call :func:`check_cost` before they start.

>>> render_cost(batch=4, height=128, width=128, steps=512).work
33554432.0
"""
from __future__ import annotations

import contextlib
import contextvars
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from reverie.errors import ReverieError

MAX_WORK = 1e10  # pixel-steps a task may take unless the caller allows more
# Bytes per pixel, measured to the nearest power of two on EfficientNet-Lite0 (float32 on the CPU):
IMAGE_BYTES = 64        # a dream's full-size arrays: source, dreamed, octave base, detail, gradient
NETWORK_BYTES = 1024    # activations and their gradients for one pixel of a tile or a rendered image

_LIMIT: contextvars.ContextVar[float] = contextvars.ContextVar("reverie_max_work", default=MAX_WORK)


@dataclass(frozen=True)
class Cost:
    """What a task will take: ``work`` in pixel-steps, ``memory`` at its peak in bytes, and the
    largest image it holds (``pixels``)."""

    work: float
    memory: float
    pixels: int

    def __add__(self, other: Cost) -> Cost:  # one frame after another: work adds up, memory does not
        return Cost(self.work + other.work, max(self.memory, other.memory), max(self.pixels, other.pixels))


@contextlib.contextmanager
def work_limit(max_work: float | None) -> Iterator[None]:
    """Within this block, tasks may take up to ``max_work`` pixel-steps (None: the default;
    ``math.inf``: no limit on work, though what cannot fit in memory is still refused)."""
    if max_work is None:
        yield
        return
    if isinstance(max_work, bool) or not isinstance(max_work, (int, float)) or math.isnan(max_work) or max_work <= 0:
        raise ReverieError(f"max-work must be a positive number of pixel-steps, got {str(max_work)[:40]}")
    token = _LIMIT.set(float(max_work))
    try:
        yield
    finally:
        _LIMIT.reset(token)


def render_cost(batch: int, height: int, width: int, steps: int) -> Cost:
    """The cost of optimising a batch of images of (``height``, ``width``) for ``steps`` steps."""
    pixels = batch * height * width
    return Cost(float(pixels) * steps, float(pixels * NETWORK_BYTES), pixels)


def available_memory(device: torch.device | str = "cpu") -> float:
    """Bytes free for a task on ``device`` now: the GPU's free memory, or the host's available memory."""
    device = torch.device(device)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        # memory PyTorch holds in its cache for tensors already freed is free to this task too
        return float(free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device))
    try:
        with open("/proc/meminfo") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return math.inf  # no way to tell: only the work limit applies


def check_cost(cost: Cost, what: str, lower: str, device: torch.device | str = "cpu") -> None:
    """Refuse, before any work, a task that cannot fit in memory or takes more work than allowed.

    ``what`` names the task ("this dream"); ``lower`` says what to lower ("--size, --octaves or --steps").
    """
    free = available_memory(device)
    if cost.memory > free:
        raise ReverieError(f"{what} needs about {_bytes(cost.memory)} of memory ({_count(cost.pixels)} pixels "
                           f"at its largest) but {_bytes(free)} is free; lower {lower}")
    limit = _LIMIT.get()
    if cost.work > limit:
        raise ReverieError(f"{what} is {_count(cost.work)} pixel-steps of work, above the limit of {_count(limit)}; "
                           f"lower {lower}, or allow it with --max-work {_round_up(cost.work)}")


def _bytes(count: float) -> str:
    if math.isinf(count):
        return "more than any machine has"
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if count >= size:
            return f"{count / size:.3g} {unit}"
    return f"{count / 1e3:.3g} kB"


def _count(number: float) -> str:
    return "unbounded" if math.isinf(number) else f"{number:.3g}"


def _round_up(number: float) -> str:
    """A limit just above ``number``, as one would type it: 3.2e+12 -> 4e12."""
    if math.isinf(number):
        return "inf"
    exponent = math.floor(math.log10(number))
    return f"{math.ceil(number / 10 ** exponent)}e{exponent}"
