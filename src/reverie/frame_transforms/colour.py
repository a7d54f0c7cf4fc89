"""Glitch and colour frame transforms: pixel sorting, hue rotation and posterizing.

Brightness here is Rec. 601 luma (0.299 R + 0.587 G + 0.114 B), as ``kornia.color.rgb_to_grayscale``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from reverie.errors import ReverieError
from reverie.frame_transforms.base import (FrameContext, FrameTransform, check_axis, check_flag, check_frame,
                                           check_number)
from reverie.keyframes import Keyframes, value_at


def _kornia():
    # Imported on first use: kornia takes ~0.3 s to import, and only animations' frame transforms
    # use it, while every command that runs a task imports this module (through the task table).
    import kornia
    return kornia


def sort_pixels(frame: torch.Tensor, axis: int = 1, threshold: float = 0.25, reverse: bool = False) -> torch.Tensor:
    """Sort each column (``axis=1``, top to bottom) or row (``axis=0``, left to right) by brightness.

    Only runs of neighbouring pixels at least ``threshold`` bright are sorted, each within itself,
    darkest first (brightest first with ``reverse``); darker pixels stay where they are and split
    the runs. ``threshold=0`` sorts whole lines. Pixels move whole, so every line keeps its colours.
    ``frame`` [B, 3, H, W] -> same shape.
    """
    lines = frame if axis == 0 else frame.transpose(-1, -2)  # [B, 3, lines, length]: sort the last dim
    luma = _kornia().color.rgb_to_grayscale(lines).double()    # [B, 1, lines, length]
    bright = luma >= threshold
    # A new segment starts at every dark pixel (each stays alone, so it stays put) and wherever a
    # bright run begins; sorting by (segment, brightness) then sorts within runs and nothing else.
    before = torch.nn.functional.pad(bright[..., :-1], (1, 0), value=False)
    segment = (~bright | ~before).long().cumsum(-1)          # [B, 1, lines, length], non-decreasing
    key = segment * 2.0 + (1 - luma if reverse else luma)    # luma in [0, 1], so segments never mix
    order = key.argsort(dim=-1, stable=True).expand_as(lines)
    sorted_lines = lines.gather(-1, order)
    return sorted_lines if axis == 0 else sorted_lines.transpose(-1, -2)


@dataclass(frozen=True)
class PixelSort(FrameTransform):
    """The glitch-art pixel sort: runs brighter than ``threshold`` sorted by brightness along columns or rows.

    ``axis=1`` sorts down each column, ``axis=0`` along each row; ``threshold=0`` sorts whole lines.
    """

    NAME = "pixel_sort"
    SHOWN = ("axis",)
    axis: int = 1
    threshold: float | Keyframes = 0.25
    reverse: bool = False

    def __post_init__(self):
        check_axis("pixel_sort", self.axis)
        check_number("pixel_sort", "threshold", self.threshold)
        check_flag("pixel_sort", "reverse", self.reverse)

    def __call__(self, frame: torch.Tensor, context: FrameContext) -> torch.Tensor:
        check_frame(frame, "pixel_sort")
        return sort_pixels(frame, self.axis, value_at(self.threshold, context.frame_index), self.reverse)


@dataclass(frozen=True)
class HueShift(FrameTransform):
    """Turn every hue by ``degrees`` round the colour wheel (HSV): 120 takes red to green, 360 is no change."""

    NAME = "hue_shift"
    degrees: float | Keyframes

    def __post_init__(self):
        check_number("hue_shift", "degrees", self.degrees)

    def __call__(self, frame: torch.Tensor, context: FrameContext) -> torch.Tensor:
        check_frame(frame, "hue_shift")
        hsv = _kornia().color.rgb_to_hsv(frame.clamp(0, 1))  # [B, 3, H, W]: hue in radians [0, 2 pi], s, v
        turn = math.radians(value_at(self.degrees, context.frame_index))
        hue = torch.remainder(hsv[:, :1] + turn, 2 * math.pi)
        return _kornia().color.hsv_to_rgb(torch.cat([hue, hsv[:, 1:]], dim=1)).clamp(0, 1)


@dataclass(frozen=True)
class Posterize(FrameTransform):
    """Flatten the palette to ``levels`` evenly spaced values per channel (0 and 1 included)."""

    NAME = "posterize"
    levels: int | Keyframes

    def __post_init__(self):
        check_number("posterize", "levels", self.levels)
        if not isinstance(self.levels, Keyframes):
            _check_levels(self.levels)

    def __call__(self, frame: torch.Tensor, context: FrameContext) -> torch.Tensor:
        check_frame(frame, "posterize")
        steps = _check_levels(round(value_at(self.levels, context.frame_index))) - 1
        return (frame.clamp(0, 1) * steps).round() / steps


def _check_levels(levels: float) -> int:
    if levels < 2 or levels != int(levels):
        raise ReverieError(f"posterize: levels must be a whole number 2 or more, got {levels!r}")
    return int(levels)


pixel_sort, hue_shift, posterize = PixelSort, HueShift, Posterize

__all__ = ["sort_pixels", "PixelSort", "HueShift", "Posterize", "pixel_sort", "hue_shift", "posterize"]
