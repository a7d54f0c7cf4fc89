"""The frame transform contract: FrameContext, the FrameTransform base, and the helpers they share.

A frame transform is any callable ``(frame, context) -> frame``: ``frame`` is a float tensor
[1, 3, H, W] in [0, 1] (larger batches work too), the result has the same shape and range. It runs
once per animation frame and need not be differentiable. The built-in ones are small frozen
dataclasses, usable live, that also write themselves back as expression text (``zoom(0.01)``)
through :class:`~reverie.expressions.Expressible`, so a recipe can store them as plain strings.
One whose parameter has no text (a Python function as a roll's shift) still works, says so with
``textual`` False, and its ``expression()`` raises ReverieError. Parameters that may change over
time take a number or :class:`~reverie.keyframes.Keyframes`, read with ``value_at(param,
context.frame_index)``.

Axis convention, shared by every transform with an ``axis``: ``axis=1`` works on *columns* (the
lines of pixels that share a column index, the last tensor dimension): each column is rolled,
sorted, stretched or mirrored along its length, that is vertically. ``axis=0`` works on *rows*,
horizontally. Image coordinates have x to the right and y down.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from reverie.errors import ReverieError
from reverie.expressions import Expressible, value_text
from reverie.imaging import check_image
from reverie.keyframes import Keyframes

AXES = (0, 1)


@dataclass(frozen=True, eq=False)
class FrameContext:
    """What a frame transform may know about the frame it is transforming."""

    frame_index: int              # 0 for the first frame of the animation
    frame_count: int              # frames in the whole animation
    generator: torch.Generator    # CPU, seeded per frame by the loop: the only source of randomness
    source: torch.Tensor | None = None  # the first (source) image [1, 3, H, W], for blending back to it


class FrameTransform(Expressible):
    """Base of the built-in frame transforms: ``transform(frame, context) -> frame``, same shape, in [0, 1]."""

    def __call__(self, frame: torch.Tensor, context: FrameContext) -> torch.Tensor:
        raise NotImplementedError


# --- checks, at construction where the value is known and at call time for keyframed values ------

def check_number(owner: str, name: str, value: object, keyframes: bool = True) -> None:
    """Raise unless ``value`` is a finite number (or, when allowed, a Keyframes value)."""
    if keyframes and isinstance(value, Keyframes):
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        also = " or keys(...)" if keyframes else ""
        raise ReverieError(f"{owner}: {name} must be a number{also}, got {value!r}")


def check_axis(owner: str, axis: object) -> None:
    if isinstance(axis, bool) or axis not in AXES:
        raise ReverieError(f"{owner}: axis must be 0 (rows, horizontal) or 1 (columns, vertical), got {axis!r}")


def check_flag(owner: str, name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise ReverieError(f"{owner}: {name} must be True or False, got {value!r}")


def check_frame(frame: torch.Tensor, owner: str = "frame transform") -> None:
    """Raise unless ``frame`` is a float tensor [B, 3, H, W]."""
    check_image(frame, f"{owner} frame")


__all__ = ["FrameContext", "FrameTransform", "Expressible", "value_text", "check_number", "check_axis",
           "check_flag", "check_frame", "AXES"]
