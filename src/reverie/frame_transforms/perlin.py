"""Perlin-driven frame transforms: a displacement field and a colour noise that drift smoothly over frames.

Both sample 3-D Perlin noise (:func:`reverie.params.noise.perlin3d`) at (x, y, time): ``scale`` is
the size of a noise cell in pixels, ``speed`` how many cells of time pass per frame, so frame k and
frame k+1 see nearly the same field and the motion is smooth. The lattice comes from ``seed`` alone
(not from the frame's generator), so the field is one continuous thing across the whole animation
and a resumed run sees exactly the same field.

``perlin_warp`` moves every pixel by up to ``amount`` pixels along the field (the seed blog's
"replace the FFT noise with Perlin noise", as motion); ``perlin_noise`` adds the field as colour
noise, and after ``blend(1)`` (or a strong blend) it gives the "noise for interpolation of a single
image": each frame dreams the same picture through smoothly changing noise.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from reverie.errors import ReverieError
from reverie.frame_transforms.base import FrameContext, FrameTransform, check_frame, check_number
from reverie.keyframes import Keyframes, value_at
from reverie.params.noise import perlin3d
from reverie.randomness import generator


def noise_field(height: int, width: int, frame_index: int, scale: float, speed: float, seed: int, label: str,
                channels: int) -> torch.Tensor:
    """``channels`` Perlin fields [channels, H, W] in [-1, 1] at time ``frame_index * speed``, each its own lattice."""
    if not scale > 0:
        raise ReverieError(f"perlin scale must be above 0 pixels, got {scale:g}")
    y = (torch.arange(height, dtype=torch.float64) + 0.5) / scale
    x = (torch.arange(width, dtype=torch.float64) + 0.5) / scale
    y, x = torch.meshgrid(y, x, indexing="ij")  # [H, W] each, in lattice cells
    time = torch.full_like(x, frame_index * speed)
    return torch.stack([perlin3d(x, y, time, generator(seed, label, index)) for index in range(channels)])


def _check_scale(owner: str, scale: object) -> None:
    check_number(owner, "scale", scale, keyframes=False)
    if not scale > 0:
        raise ReverieError(f"{owner}: scale must be above 0 pixels, got {scale:g}")


def _check_seed(owner: str, seed: object) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ReverieError(f"{owner}: seed must be a whole number 0 or more, got {seed!r}")


@dataclass(frozen=True)
class PerlinWarp(FrameTransform):
    """Move each pixel by up to ``amount`` pixels along a Perlin field that drifts ``speed`` cells a frame.

    ``scale``: the field's cell size in pixels (larger: broader swirls). Bilinear, reflected edges.
    """

    NAME = "perlin_warp"
    amount: float | Keyframes = 2.0
    scale: float = 64.0
    speed: float = 0.05
    seed: int = 0

    def __post_init__(self):
        check_number("perlin_warp", "amount", self.amount)
        _check_scale("perlin_warp", self.scale)
        check_number("perlin_warp", "speed", self.speed, keyframes=False)
        _check_seed("perlin_warp", self.seed)

    def __call__(self, frame: torch.Tensor, context: FrameContext) -> torch.Tensor:
        check_frame(frame, "perlin_warp")
        height, width = frame.shape[-2:]
        amount = value_at(self.amount, context.frame_index)
        shift = noise_field(height, width, context.frame_index, self.scale, self.speed, self.seed, "perlin_warp", 2)
        shift = shift * amount  # [2, H, W]: (dx, dy) in pixels
        y = torch.arange(height, dtype=torch.float64)[:, None] + 0.5
        x = torch.arange(width, dtype=torch.float64)[None, :] + 0.5
        # Where each output pixel reads from, in grid_sample's [-1, 1] units (align_corners=False).
        grid = torch.stack([(x - shift[0]) * 2 / width - 1, (y - shift[1]) * 2 / height - 1], dim=-1)  # [H, W, 2]
        grid = grid[None].to(frame.device, frame.dtype).expand(frame.shape[0], -1, -1, -1)
        out = F.grid_sample(frame, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
        return out.clamp(0, 1)


@dataclass(frozen=True)
class PerlinNoise(FrameTransform):
    """Add colour Perlin noise of strength ``amount`` (0-1 scale) that drifts ``speed`` cells a frame.

    Each channel has its own field; ``scale`` is the cell size in pixels.
    """

    NAME = "perlin_noise"
    amount: float | Keyframes = 0.1
    scale: float = 32.0
    speed: float = 0.05
    seed: int = 0

    def __post_init__(self):
        check_number("perlin_noise", "amount", self.amount)
        _check_scale("perlin_noise", self.scale)
        check_number("perlin_noise", "speed", self.speed, keyframes=False)
        _check_seed("perlin_noise", self.seed)

    def __call__(self, frame: torch.Tensor, context: FrameContext) -> torch.Tensor:
        check_frame(frame, "perlin_noise")
        height, width = frame.shape[-2:]
        field = noise_field(height, width, context.frame_index, self.scale, self.speed, self.seed, "perlin_noise", 3)
        amount = value_at(self.amount, context.frame_index)
        return (frame + amount * field[None].to(frame.device, frame.dtype)).clamp(0, 1)


perlin_warp, perlin_noise = PerlinWarp, PerlinNoise

__all__ = ["noise_field", "PerlinWarp", "PerlinNoise", "perlin_warp", "perlin_noise"]
