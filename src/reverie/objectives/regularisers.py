"""Image regularisers: penalties on the image itself (noise, saturation, blur, opacity), as scores <= 0.

They read ``"@image"``, the parameterization's raw output [B, 3 or 4, H, W] before robustness
transforms, which the render loop adds to the activations; without it (DeepDream) they read
``"@input"``, the image the network saw. They read no layer, so ``layers`` is empty. Each is a
penalty to minimise, written as minus the penalty so that, like every objective, higher is better:
weight them like any term, ``channel(blocks.9, 7) + 0.5*total_variation()``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from reverie.errors import ReverieError
from reverie.objectives.base import Activations, Objective
from reverie.recorder import IMAGE, INPUT


def image_of(activations: Activations) -> torch.Tensor:
    """``activations["@image"]`` if present, else ``activations["@input"]``: an image [B, C, H, W]."""
    image = activations.get(IMAGE, activations.get(INPUT))
    if image is None:
        raise ReverieError(f"image regularisers need the image ({IMAGE!r} or {INPUT!r}) in the activations")
    if image.ndim != 4:
        raise ReverieError(f"image regularisers expected an image [B, C, H, W], got {list(image.shape)}")
    return image


@dataclass(frozen=True, repr=False)
class TotalVariation(Objective):
    """Minus the mean absolute difference between horizontally or vertically neighbouring pixels
    (over every channel, alpha included): discourages high-frequency noise. 0 for a flat image."""

    NAME = "total_variation"

    def score(self, activations: Activations) -> torch.Tensor:
        image = image_of(activations)
        across = (image[..., :, 1:] - image[..., :, :-1]).abs()  # [B, C, H, W-1]
        down = (image[..., 1:, :] - image[..., :-1, :]).abs()    # [B, C, H-1, W]
        pairs = across.numel() + down.numel()
        return -(across.sum() + down.sum()) / max(pairs, 1)



@dataclass(frozen=True, repr=False)
class L1(Objective):
    """Minus the mean |image - constant| over the colour channels: pulls colours toward ``constant``
    (default 0.5, mid grey), against saturated noise."""

    NAME = "l1"
    constant: float = 0.5

    def __post_init__(self):
        if isinstance(self.constant, bool) or not isinstance(self.constant, (int, float)) \
                or not math.isfinite(self.constant):
            raise ReverieError(f"l1 constant must be a number, got {self.constant!r}")
        object.__setattr__(self, "constant", float(self.constant))

    def score(self, activations: Activations) -> torch.Tensor:
        return -(image_of(activations)[:, :3] - self.constant).abs().mean()



@dataclass(frozen=True, repr=False)
class BlurPenalty(Objective):
    """Minus the mean squared difference between the image and its 3x3 box blur (every channel):
    a smoothness penalty like total variation, but quadratic, so it forgives small steps."""

    NAME = "blur_penalty"

    def score(self, activations: Activations) -> torch.Tensor:
        image = image_of(activations)
        # Replicate the border so edge pixels are compared with their own neighbours, not a black frame.
        padded = F.pad(image, (1, 1, 1, 1), mode="replicate")  # [B, C, H+2, W+2]
        blurred = F.avg_pool2d(padded, 3, stride=1)             # [B, C, H, W]
        return -(image - blurred).pow(2).mean()



@dataclass(frozen=True, repr=False)
class AlphaPenalty(Objective):
    """Minus the mean alpha of an RGBA image [B, 4, H, W]: favours transparency, so only what the
    objective needs stays opaque (Lucid's semi-transparent feature visualizations)."""

    NAME = "alpha_penalty"

    def score(self, activations: Activations) -> torch.Tensor:
        image = image_of(activations)
        if image.shape[1] != 4:
            raise ReverieError(
                f"alpha_penalty() needs an RGBA image [B, 4, H, W], got {list(image.shape)}: "
                "render with a transparent (RGBA) parameterization"
            )
        return -image[:, 3].mean()



def total_variation() -> TotalVariation:
    """Penalise differences between neighbouring pixels (score = minus their mean absolute value)."""
    return TotalVariation()


def l1(constant: float = 0.5) -> L1:
    """Penalise colours' distance from ``constant`` (score = minus the mean absolute difference)."""
    return L1(constant)


def blur_penalty() -> BlurPenalty:
    """Penalise the difference between the image and its 3x3 blur (score = minus the mean square)."""
    return BlurPenalty()


def alpha_penalty() -> AlphaPenalty:
    """Penalise opacity of an RGBA image (score = minus the mean alpha)."""
    return AlphaPenalty()
