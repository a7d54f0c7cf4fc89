"""Transparency: compositing an RGBA image over a background, and the random backgrounds used while optimising.

RGBA params are ordinary params with ``channels=4``: ``PixelParam(..., channels=4)``,
``FourierParam(..., channels=4)`` and ``CPPNParam(..., channels=4)`` return alpha as the last
channel, squashed by the sigmoid but never colour-mixed. Compositing over a *different* random
background each step makes the background useless to the objective, so the opaque part of the
image is the part that matters (Lucid's semi-transparent patterns).
"""
from __future__ import annotations

import torch

from reverie.errors import ReverieError
from reverie.params.base import check_generator, check_sizes
from reverie.params.fourier import FourierParam

# Backgrounds are Fourier images with a larger sd and a steeper decay than a param's start
# (sd 0.01, decay 1): visible, smooth colour and structure, different at every step.
BACKGROUND_SD = 0.2
BACKGROUND_DECAY_POWER = 1.5


def composite(rgba: torch.Tensor, background: torch.Tensor | float) -> torch.Tensor:
    """``rgb * alpha + background * (1 - alpha)``: [B, 4, H, W] over [B or 1, 3, H, W] -> [B, 3, H, W].

    ``background`` may also be a number, a uniform grey level.

    >>> rgba = torch.tensor([1.0, 0.0, 0.0, 0.25]).view(1, 4, 1, 1)
    >>> composite(rgba, 0.0).flatten().tolist()
    [0.25, 0.0, 0.0]
    """
    if not (torch.is_tensor(rgba) and rgba.ndim == 4 and rgba.shape[1] == 4 and rgba.is_floating_point()):
        got = list(rgba.shape) if torch.is_tensor(rgba) else type(rgba).__name__
        raise ReverieError(f"expected an RGBA image as floats [B, 4, H, W] in [0, 1], got {got}")
    if torch.is_tensor(background):
        batch, _, height, width = rgba.shape
        if not (background.ndim == 4 and background.shape[0] in (1, batch) and background.shape[1] == 3
                and tuple(background.shape[2:]) == (height, width)):
            raise ReverieError(f"expected the background as [1 or {batch}, 3, {height}, {width}], "
                               f"got {list(background.shape)}")
        background = background.to(rgba)
    rgb, alpha = rgba[:, :3], rgba[:, 3:]  # [B, 3, H, W], [B, 1, H, W]
    return rgb * alpha + background * (1 - alpha)


def random_background(batch: int, height: int, width: int, generator: torch.Generator) -> torch.Tensor:
    """A random smooth colour image [B, 3, H, W] in [0, 1] (a Fourier sample), on the CPU, without gradient.

    >>> from reverie.randomness import generator
    >>> random_background(2, 5, 7, generator(0, "doc")).shape
    torch.Size([2, 3, 5, 7])
    """

    check_sizes(height, width, batch)
    check_generator(generator)
    with torch.no_grad():
        return FourierParam(height, width, batch, decay_power=BACKGROUND_DECAY_POWER, sd=BACKGROUND_SD,
                            generator=generator)()
