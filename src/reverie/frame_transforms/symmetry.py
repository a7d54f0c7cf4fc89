"""Symmetry frame transforms: the kaleidoscope (n-fold rotation and mirror symmetry) and a plain mirror."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from reverie.errors import ReverieError
from reverie.frame_transforms.base import FrameContext, FrameTransform, check_axis, check_frame, check_number
from reverie.keyframes import Keyframes, value_at


def kaleidoscope_grid(height: int, width: int, n: int, angle: float = 0.0) -> torch.Tensor:
    """The ``grid_sample`` grid [1, H, W, 2] (float64) of an n-fold kaleidoscope about the centre.

    Each output pixel at radius r and angle theta reads the source at radius r and angle phi, where
    phi folds theta into the wedge [0, 180/n] degrees: the circle is cut into 2n wedges and every
    other one is mirrored, which gives n-fold rotational symmetry and n mirror lines. ``angle``
    (degrees, counter-clockwise as displayed) turns the wedge of the source that is used.
    """
    y = torch.arange(height, dtype=torch.float64) - (height - 1) / 2  # centred pixel rows, down
    x = torch.arange(width, dtype=torch.float64) - (width - 1) / 2    # centred pixel columns, right
    y, x = torch.meshgrid(y, x, indexing="ij")                         # [H, W] each
    radius, theta = torch.hypot(x, y), torch.atan2(y, x)
    period = 2 * math.pi / n  # one wedge and its mirror image
    within = torch.remainder(theta, period)
    phi = torch.minimum(within, period - within) - math.radians(angle)  # y is down: minus turns anticlockwise
    # Centred pixels -> grid_sample's [-1, 1] units (align_corners=False): divide by half the side.
    grid = torch.stack([radius * torch.cos(phi) * 2 / width, radius * torch.sin(phi) * 2 / height], dim=-1)
    return grid[None]  # [1, H, W, 2]


@dataclass(frozen=True)
class Kaleidoscope(FrameTransform):
    """n-fold kaleidoscope about the centre: the frame looks the same turned by 360/n degrees, and mirrored.

    Sampled in polar coordinates from one wedge of the frame (bilinear, reflection beyond the edge);
    ``angle`` (degrees, may be keyframed) turns which wedge, to make the pattern spin over time.
    """

    NAME = "kaleidoscope"
    n: int = 6
    angle: float | Keyframes = 0

    def __post_init__(self):
        if isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 1:
            raise ReverieError(f"kaleidoscope: n must be a whole number 1 or more, got {self.n!r}")
        check_number("kaleidoscope", "angle", self.angle)

    def __call__(self, frame: torch.Tensor, context: FrameContext) -> torch.Tensor:
        check_frame(frame, "kaleidoscope")
        height, width = frame.shape[-2:]
        grid = kaleidoscope_grid(height, width, self.n, value_at(self.angle, context.frame_index))
        grid = grid.to(frame.device, frame.dtype).expand(frame.shape[0], -1, -1, -1)  # [B, H, W, 2]
        out = F.grid_sample(frame, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
        return out.clamp(0, 1)


@dataclass(frozen=True)
class Mirror(FrameTransform):
    """Reflect the first half of each column onto its second (``axis=1``: top onto bottom), or of each row.

    ``axis=0`` reflects the left half of each row onto the right. The result reads the same flipped.
    """

    NAME = "mirror"
    SHOWN = ("axis",)
    axis: int = 1

    def __post_init__(self):
        check_axis("mirror", self.axis)

    def __call__(self, frame: torch.Tensor, context: FrameContext) -> torch.Tensor:
        check_frame(frame, "mirror")
        dim = -2 if self.axis == 1 else -1
        length = frame.shape[dim]
        position = torch.arange(length, device=frame.device)
        return frame.index_select(dim, torch.minimum(position, length - 1 - position))


kaleidoscope, mirror = Kaleidoscope, Mirror

__all__ = ["kaleidoscope_grid", "Kaleidoscope", "Mirror", "kaleidoscope", "mirror"]
