"""Image parameterizations: trainable tensors plus the function that turns them into an image.

>>> from reverie.randomness import generator
>>> param = make_param("fft", 24, 32, batch=2, generator=generator(0, "param"))
>>> param().shape
torch.Size([2, 3, 24, 32])
"""
from __future__ import annotations

import inspect

import torch

from reverie.errors import ReverieError, unknown_name_message
from reverie.params.alpha import composite, random_background
from reverie.params.base import ImageParam, SquashedParam
from reverie.params.colour import COLOUR_CORRELATION, decorrelate, from_rgb, squash, to_rgb, unsquash
from reverie.params.cppn import CPPNParam
from reverie.params.fourier import FourierParam, spectrum_scale
from reverie.params.noise import noise_image, perlin, perlin1d, perlin2d, perlin3d
from reverie.params.pixel import PixelParam
from reverie.params.shared import EndpointBlend, SharedParam, aligned_fourier, interpolation_fourier

# Parameterizations by the name recipes and the command line use. Each takes
# (height, width, batch, channels, *, generator, ...options).
PARAMS = {"pixel": PixelParam, "fft": FourierParam, "cppn": CPPNParam, "aligned": aligned_fourier,
          "interpolation": interpolation_fourier}


def make_param(name: str, height: int, width: int, batch: int = 1, channels: int = 3,
               generator: torch.Generator | None = None, **options) -> ImageParam:
    """Build the parameterization called ``name`` (see PARAMS) with its ``options``.

    Raises ReverieError for an unknown name or option, naming the nearest valid ones.
    """
    if name not in PARAMS:
        raise ReverieError(unknown_name_message("parameterization", name, PARAMS))
    if generator is None:
        raise TypeError("make_param needs a generator (reverie.randomness.generator(seed, label))")
    build = PARAMS[name]
    valid = [p for p in inspect.signature(build).parameters
             if p not in ("self", "height", "width", "batch", "channels", "generator")]
    for option in options:
        if option not in valid:
            raise ReverieError(unknown_name_message(f"option for '{name}'", option, valid))
    return build(height, width, batch, channels, generator=generator, **options)


__all__ = [
    "ImageParam", "SquashedParam", "PixelParam", "FourierParam", "CPPNParam", "SharedParam", "aligned_fourier",
    "EndpointBlend", "interpolation_fourier",
    "PARAMS", "make_param", "COLOUR_CORRELATION", "to_rgb", "from_rgb", "decorrelate", "squash", "unsquash",
    "spectrum_scale", "composite", "random_background", "perlin", "perlin1d", "perlin2d", "perlin3d", "noise_image",
]
