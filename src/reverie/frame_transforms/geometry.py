"""Geometric frame transforms: zoom, stretch, rotate, translate and any affine map about the centre.

All resample bilinearly with ``F.grid_sample`` and keep the frame's size; where the map looks
outside the frame the edge is filled by reflection, so a zoom out or a turn shows no black corners.
Coordinates are pixels measured from the frame's centre, x to the right and y down.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from reverie.errors import ReverieError
from reverie.frame_transforms.base import FrameContext, FrameTransform, check_axis, check_frame, check_number
from reverie.keyframes import Keyframes, value_at

Value = float | Keyframes


def warp(frame: torch.Tensor, matrix: tuple[float, float, float, float],
         offset: tuple[float, float] = (0.0, 0.0)) -> torch.Tensor:
    """Move the content of ``frame`` [B, C, H, W] at centred pixel position p to ``A p + offset``.

    ``matrix`` = (a, b, c, d) is A = [[a, b], [c, d]] acting on (x, y), x right and y down, pixels
    from the centre; ``offset`` = (tx, ty) in pixels. Bilinear, reflection fill, same shape out.
    """
    a, b, c, d = (float(v) for v in matrix)
    determinant = a * d - b * c
    if abs(determinant) < 1e-12:
        raise ReverieError(f"affine matrix [[{a:g}, {b:g}], [{c:g}, {d:g}]] is singular: it would "
                           "flatten the frame to a line")
    height, width = frame.shape[-2:]
    # grid_sample asks, for each output position, where to read the input, in units that run from -1
    # to 1 across each axis (align_corners=False). In centred pixels that is the inverse map
    # p_in = A^-1 (p_out - t); pixels are normalised by D = diag(W/2, H/2), so theta = D^-1 A^-1 D and
    # its offset -D^-1 A^-1 t. Working in pixels keeps turns round on non-square frames.
    inverse = torch.tensor([[d, -b], [-c, a]], dtype=torch.float64) / determinant
    scale = torch.tensor([width / 2, height / 2], dtype=torch.float64)
    theta = torch.zeros(1, 2, 3, dtype=torch.float64)
    theta[0, :, :2] = inverse * scale[None, :] / scale[:, None]  # D^-1 A^-1 D
    theta[0, :, 2] = -(inverse @ torch.tensor(offset, dtype=torch.float64)) / scale
    theta = theta.to(device=frame.device, dtype=frame.dtype).expand(frame.shape[0], 2, 3)
    grid = F.affine_grid(theta, list(frame.shape), align_corners=False)  # [B, H, W, 2]
    warped = F.grid_sample(frame, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    return warped.clamp(0, 1)


@dataclass(frozen=True)
class Zoom(FrameTransform):
    """Scale about the centre by ``1 + amount``, same size: 0.02 zooms in 2% per frame, negative zooms out."""

    NAME = "zoom"
    amount: Value

    def __post_init__(self):
        check_number("zoom", "amount", self.amount)

    def __call__(self, frame: torch.Tensor, context: FrameContext) -> torch.Tensor:
        check_frame(frame, "zoom")
        scale = 1 + value_at(self.amount, context.frame_index)
        if scale <= 0:
            raise ReverieError(f"zoom amount must be above -1 (got {scale - 1:g} at frame {context.frame_index})")
        return warp(frame, (scale, 0, 0, scale))


@dataclass(frozen=True)
class Stretch(FrameTransform):
    """Scale by ``1 + amount`` along one axis only: ``axis=1`` stretches columns (vertical), 0 rows."""

    NAME = "stretch"
    SHOWN = ("axis",)
    amount: Value
    axis: int = 1

    def __post_init__(self):
        check_number("stretch", "amount", self.amount)
        check_axis("stretch", self.axis)

    def __call__(self, frame: torch.Tensor, context: FrameContext) -> torch.Tensor:
        check_frame(frame, "stretch")
        scale = 1 + value_at(self.amount, context.frame_index)
        if scale <= 0:
            raise ReverieError(f"stretch amount must be above -1 (got {scale - 1:g} at frame {context.frame_index})")
        return warp(frame, (1, 0, 0, scale) if self.axis == 1 else (scale, 0, 0, 1))


@dataclass(frozen=True)
class Rotate(FrameTransform):
    """Turn about the centre by ``degrees``, counter-clockwise as displayed; same size."""

    NAME = "rotate"
    degrees: Value

    def __post_init__(self):
        check_number("rotate", "degrees", self.degrees)

    def __call__(self, frame: torch.Tensor, context: FrameContext) -> torch.Tensor:
        check_frame(frame, "rotate")
        radians = math.radians(value_at(self.degrees, context.frame_index))
        cos, sin = math.cos(radians), math.sin(radians)
        # With y pointing down, counter-clockwise on screen takes (1, 0) to (cos, -sin).
        return warp(frame, (cos, sin, -sin, cos))


@dataclass(frozen=True)
class Translate(FrameTransform):
    """Move the content ``x`` pixels right and ``y`` pixels down (fractions allowed, bilinear)."""

    NAME = "translate"
    x: Value = 0
    y: Value = 0

    def __post_init__(self):
        check_number("translate", "x", self.x)
        check_number("translate", "y", self.y)

    def __call__(self, frame: torch.Tensor, context: FrameContext) -> torch.Tensor:
        check_frame(frame, "translate")
        offset = (value_at(self.x, context.frame_index), value_at(self.y, context.frame_index))
        return warp(frame, (1, 0, 0, 1), offset)


@dataclass(frozen=True)
class Affine(FrameTransform):
    """Any affine map about the centre: content at (x, y) moves to ``[[a, b], [c, d]] (x, y) + (tx, ty)``.

    Centred pixel coordinates, x right and y down; ``affine(1.1, 0, 0, 1.1)`` is ``zoom(0.1)``.
    """

    NAME = "affine"
    a: Value
    b: Value
    c: Value
    d: Value
    tx: Value = 0
    ty: Value = 0

    def __post_init__(self):
        for name in ("a", "b", "c", "d", "tx", "ty"):
            check_number("affine", name, getattr(self, name))

    def __call__(self, frame: torch.Tensor, context: FrameContext) -> torch.Tensor:
        check_frame(frame, "affine")
        now = [value_at(getattr(self, name), context.frame_index) for name in ("a", "b", "c", "d", "tx", "ty")]
        return warp(frame, tuple(now[:4]), tuple(now[4:]))


zoom, stretch, rotate, translate, affine = Zoom, Stretch, Rotate, Translate, Affine

__all__ = ["warp", "Zoom", "Stretch", "Rotate", "Translate", "Affine",
           "zoom", "stretch", "rotate", "translate", "affine"]
