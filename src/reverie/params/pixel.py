"""Pixel-space image parameterization: a raw value per pixel, optionally colour-decorrelated, squashed by a sigmoid."""
from __future__ import annotations

import torch
from torch import nn

from reverie.params.base import SquashedParam, check_generator, check_init
from reverie.params.colour import unsquash


class PixelParam(SquashedParam):
    """The simplest parameterization: ``image = sigmoid(to_rgb(pixels))``.

    ``pixels`` is an ``nn.Parameter`` [B, C, H, W] drawn from N(0, ``sd``) (so the image starts
    near grey) or, given ``init`` ([1 or B, 3 or C, H, W] in [0, 1]), set so that the first image
    equals ``init`` (to about 1e-6 for values in [0.01, 0.99]). Channel 4, when present, is alpha
    and is never colour-mixed. Optimising pixels directly favours high-frequency patterns; see
    :class:`~reverie.params.fourier.FourierParam` for the usual alternative.

    >>> from reverie.randomness import generator
    >>> PixelParam(5, 7, batch=2, generator=generator(0, "doc"))().shape
    torch.Size([2, 3, 5, 7])
    """

    def __init__(self, height: int, width: int, batch: int = 1, channels: int = 3, decorrelate: bool = True,
                 sd: float = 0.01, *, generator: torch.Generator, init: torch.Tensor | None = None,
                 device: torch.device | str | None = None):
        super().__init__(height, width, batch, channels)
        check_generator(generator)
        self.decorrelate = bool(decorrelate)
        pixels = sd * torch.randn(batch, channels, height, width, generator=generator)  # [B, C, H, W]
        if init is not None:
            start = check_init(init, batch, channels, height, width)  # [B, 3 or C, H, W]
            pixels[:, :start.shape[1]] = unsquash(start, self.decorrelate)
        self.pixels = nn.Parameter(pixels.to(device))

    def raw(self) -> torch.Tensor:
        """Raw pixels [B, C, H, W] before colour mapping and sigmoid."""
        return self.pixels
