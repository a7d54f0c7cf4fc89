"""Rolls: shift every column (or row) cyclically by its own whole number of pixels, following a shape.

``roll(axis=1, shift=s)`` moves the pixels of column j *down* by s(j), wrapping round:
``out[..., (i + s(j)) % H, j] = frame[..., i, j]``, exactly ``torch.roll(column, s(j))``.
``axis=0`` moves the pixels of row i *right* by s(i). Shifts are rounded to whole pixels, so a roll
is always a permutation of each line's pixels and every colour survives exactly (for smooth
sub-pixel motion use ``translate``).

A shift is a number (every line the same), :class:`~reverie.keyframes.Keyframes`, a line shape
(``linear(slope, offset)`` or ``sin(amplitude, period, phase)``, whose parameters may be keyframed
too), or, from Python, any callable ``index -> shift``. ``group=n`` gives lines in groups of n the
shift of the first line of their group, so the shape stays in pixel units whatever n is.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from reverie.errors import ReverieError
from reverie.frame_transforms.base import (Expressible, FrameContext, FrameTransform, check_axis, check_frame,
                                           check_number)
from reverie.keyframes import Keyframes, value_at


class LineShape(Expressible):
    """A value per line index that may change with the frame: ``values(index, frame_index) -> tensor``."""

    def values(self, index: torch.Tensor, frame_index: int) -> torch.Tensor:
        """``index`` float64 [N] of line numbers -> float64 [N] values at ``frame_index``."""
        raise NotImplementedError


@dataclass(frozen=True)
class Linear(LineShape):
    """Line j gets ``slope * j + offset``."""

    NAME = "linear"
    KEYWORDS = True
    slope: float | Keyframes
    offset: float | Keyframes = 0

    def __post_init__(self):
        check_number("linear", "slope", self.slope)
        check_number("linear", "offset", self.offset)

    def values(self, index: torch.Tensor, frame_index: int) -> torch.Tensor:
        return value_at(self.slope, frame_index) * index + value_at(self.offset, frame_index)


@dataclass(frozen=True)
class Sine(LineShape):
    """Line j gets ``amplitude * sin(360 * j / period + phase)``, angles in degrees, period in lines."""

    NAME = "sin"
    KEYWORDS = True
    amplitude: float | Keyframes
    period: float | Keyframes
    phase: float | Keyframes = 0  # degrees; keyframe it to make the wave travel

    def __post_init__(self):
        for name in ("amplitude", "period", "phase"):
            check_number("sin", name, getattr(self, name))

    def values(self, index: torch.Tensor, frame_index: int) -> torch.Tensor:
        period = value_at(self.period, frame_index)
        if period == 0:
            raise ReverieError(f"sin period must not be 0 (at frame {frame_index})")
        phase = math.radians(value_at(self.phase, frame_index))
        return value_at(self.amplitude, frame_index) * torch.sin(2 * math.pi * index / period + phase)


Shape = float | Keyframes | LineShape | Callable[[int], float]


def check_shape(owner: str, name: str, shape: object) -> None:
    """Raise unless ``shape`` is a number, Keyframes, a line shape or a callable index -> value."""
    if isinstance(shape, LineShape) or (callable(shape) and not isinstance(shape, (Keyframes, FrameTransform))):
        return
    if isinstance(shape, bool) or not isinstance(shape, (int, float, Keyframes)):
        raise ReverieError(f"{owner}: {name} must be a number, keys(...), linear(...) or sin(...), got {shape!r}")
    check_number(owner, name, shape)


def line_values(shape: Shape, count: int, frame_index: int, group: int = 1) -> torch.Tensor:
    """The shape's value for each of ``count`` lines: float64 [count] on the CPU.

    With ``group=n`` every line takes the value of the first line of its group (``n * (j // n)``).
    """
    index = torch.arange(count, dtype=torch.float64).div(group, rounding_mode="floor") * group  # [count]
    if isinstance(shape, LineShape):
        values = shape.values(index, frame_index)
    elif isinstance(shape, (int, float, Keyframes)):
        values = torch.full((count,), value_at(shape, frame_index), dtype=torch.float64)
    else:  # any Python callable index -> value
        values = torch.tensor([float(shape(int(j))) for j in index.tolist()], dtype=torch.float64)
    if not torch.isfinite(values).all():
        raise ReverieError(f"shift shape {shape!r} gave a value that is not finite at frame {frame_index}")
    return values


def check_group(owner: str, group: object) -> None:
    if isinstance(group, bool) or not isinstance(group, int) or group < 1:
        raise ReverieError(f"{owner}: group must be a whole number 1 or more, got {group!r}")


def roll_lines(frame: torch.Tensor, shifts: torch.Tensor, axis: int) -> torch.Tensor:
    """Roll each column (``axis=1``, down) or row (``axis=0``, right) of ``frame`` by its own shift.

    ``frame`` [B, C, H, W]; ``shifts`` integer [W] (axis 1) or [H] (axis 0), or [B, that] for a
    shift per batch item. Column j: ``out[..., (i + s_j) % H, j] = frame[..., i, j]``. Exact: a gather.
    """
    batch, channels, height, width = frame.shape
    shifts = shifts.to(frame.device, torch.long).expand(batch, -1)  # [B, lines]
    if axis == 1:
        rows = torch.arange(height, device=frame.device)
        index = (rows[None, :, None] - shifts[:, None, :]) % height  # [B, H, W]: which row to read
        return frame.gather(-2, index[:, None].expand(batch, channels, height, width))
    columns = torch.arange(width, device=frame.device)
    index = (columns[None, None, :] - shifts[:, :, None]) % width  # [B, H, W]: which column to read
    return frame.gather(-1, index[:, None].expand(batch, channels, height, width))


def _lines(frame: torch.Tensor, axis: int) -> int:
    """How many lines an axis has: columns (W) for axis 1, rows (H) for axis 0."""
    return frame.shape[-1] if axis == 1 else frame.shape[-2]


@dataclass(frozen=True)
class Roll(FrameTransform):
    """Roll every column down (``axis=1``) or every row right (``axis=0``) by ``shift`` of its index.

    ``roll(axis=1, shift=sin(amplitude=6, period=80))`` waves the columns up and down by up to 6
    pixels; ``roll(shift=linear(0.5))`` shears them into a wrapped ramp. Shifts round to whole pixels.
    """

    NAME = "roll"
    SHOWN = ("axis",)
    axis: int = 1
    shift: Shape = 1
    group: int = 1  # lines in groups of this many share the first line's shift

    def __post_init__(self):
        check_axis("roll", self.axis)
        check_shape("roll", "shift", self.shift)
        check_group("roll", self.group)

    def __call__(self, frame: torch.Tensor, context: FrameContext) -> torch.Tensor:
        check_frame(frame, "roll")
        values = line_values(self.shift, _lines(frame, self.axis), context.frame_index, self.group)
        return roll_lines(frame, values.round(), self.axis)


@dataclass(frozen=True)
class AlternateRoll(FrameTransform):
    """Roll rows right on even frames and columns down on odd frames, by ``shift`` of the line index.

    The two directions take turns, so the picture weaves rather than drifting one way.
    """

    NAME = "alternate_roll"
    shift: Shape = 1
    group: int = 1

    def __post_init__(self):
        check_shape("alternate_roll", "shift", self.shift)
        check_group("alternate_roll", self.group)

    def __call__(self, frame: torch.Tensor, context: FrameContext) -> torch.Tensor:
        axis = 0 if context.frame_index % 2 == 0 else 1
        return Roll(axis, self.shift, self.group)(frame, context)


roll, alternate_roll, linear, sin = Roll, AlternateRoll, Linear, Sine

__all__ = ["LineShape", "Linear", "Sine", "Shape", "line_values", "roll_lines", "check_shape", "check_group",
           "Roll", "AlternateRoll", "roll", "alternate_roll", "linear", "sin"]
