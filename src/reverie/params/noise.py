"""Perlin gradient noise in 1, 2 and 3 dimensions, its fractal sum (fBm), and colour noise starting images."""
from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch

from reverie.errors import ReverieError
from reverie.params.base import check_generator, check_sizes

# The lattice repeats every PERIOD cells along each axis (a permutation table of this size).
PERIOD = 256
# Largest |value| of single-octave gradient noise with unit gradients is sqrt(d) / 2 in d
# dimensions (1/2 in 1-D with gradients in [-1, 1]); dividing by it puts values in [-1, 1].
_PEAK = {1: 0.5, 2: math.sqrt(2) / 2, 3: math.sqrt(3) / 2}


def _fade(t: torch.Tensor) -> torch.Tensor:
    # 6t^5 - 15t^4 + 10t^3: zero first and second derivatives at 0 and 1, so cells join smoothly.
    return t * t * t * (t * (t * 6 - 15) + 10)


def _lattice(dims: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A permutation table [PERIOD] and gradients [PERIOD, dims] drawn from ``generator``."""
    permutation = torch.randperm(PERIOD, generator=generator)
    if dims == 1:
        gradients = torch.rand(PERIOD, 1, generator=generator, dtype=torch.float64) * 2 - 1  # slopes in [-1, 1]
    else:
        # Normalised Gaussian vectors: directions uniform on the circle or sphere.
        gradients = torch.randn(PERIOD, dims, generator=generator, dtype=torch.float64)
        gradients = gradients / gradients.norm(dim=1, keepdim=True)
    return permutation, gradients


def _gradient_noise(coords: Sequence[torch.Tensor], generator: torch.Generator) -> torch.Tensor:
    """Perlin noise at points given per axis (``coords[d]`` all the same shape), in [-1, 1]."""
    check_generator(generator)
    shape = coords[0].shape
    if any(not torch.is_tensor(c) or c.shape != shape for c in coords):
        raise ReverieError(f"expected {len(coords)} coordinate tensors of one shape, "
                           f"got shapes {[list(c.shape) if torch.is_tensor(c) else type(c).__name__ for c in coords]}")
    dims = len(coords)
    permutation, gradients = _lattice(dims, generator)
    device = coords[0].device
    permutation, gradients = permutation.to(device), gradients.to(device)
    points = [c.double() for c in coords]
    cells = [torch.floor(p) for p in points]  # lattice corner below each point
    offsets = [p - c for p, c in zip(points, cells)]  # position inside the cell, in [0, 1)
    cells = [c.long() for c in cells]
    fades = [_fade(o) for o in offsets]
    total = torch.zeros_like(points[0])
    for corner in itertools.product((0, 1), repeat=dims):
        # Hash the corner's integer coordinates into the table, one axis at a time.
        index = permutation[(cells[0] + corner[0]) % PERIOD]
        for axis in range(1, dims):
            index = permutation[(index + cells[axis] + corner[axis]) % PERIOD]
        gradient = gradients[index]  # [..., dims]
        # The corner's linear ramp: its gradient dotted with the vector from the corner to the point.
        ramp = sum(gradient[..., axis] * (offsets[axis] - corner[axis]) for axis in range(dims))
        weight = math.prod(fades[axis] if corner[axis] else 1 - fades[axis] for axis in range(dims))
        total = total + weight * ramp
    return (total / _PEAK[dims]).to(coords[0].dtype if coords[0].is_floating_point() else torch.float32)


def perlin1d(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """1-D Perlin noise at coordinates ``x`` (any shape, in lattice cells) -> same shape, in [-1, 1].

    The lattice is drawn from ``generator``: a fresh ``generator(seed, label)`` per call gives the
    same field each time. Noise is zero at integer coordinates and smooth between them.

    >>> from reverie.randomness import generator
    >>> perlin1d(torch.tensor([0.0, 1.0, 2.0]), generator(0, "doc")).abs().max().item()
    0.0
    """
    return _gradient_noise([x], generator)


def perlin2d(x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """2-D Perlin noise at points (``x``, ``y``), two tensors of one shape -> that shape, in [-1, 1]."""
    return _gradient_noise([x, y], generator)


def perlin3d(x: torch.Tensor, y: torch.Tensor, z: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """3-D Perlin noise at points (``x``, ``y``, ``z``) -> their shape, in [-1, 1].

    With ``z`` as time, slices at nearby ``z`` are similar 2-D fields: smoothly moving noise.
    """
    return _gradient_noise([x, y, z], generator)


def perlin(shape: Sequence[int], scale: float, generator: torch.Generator, octaves: int = 1,
           persistence: float = 0.5, lacunarity: float = 2.0) -> torch.Tensor:
    """Perlin noise on a 1-, 2- or 3-D grid of ``shape`` samples -> tensor of ``shape`` in [-1, 1].

    ``scale`` is the size of the first octave's lattice cell in samples (larger: broader
    blobs). With ``octaves`` > 1 this is fractal noise (fBm): octave k has cells
    ``lacunarity**k`` times smaller and weight ``persistence**k``; the sum is divided by the total
    weight so it stays in [-1, 1]. Each octave has its own lattice and a random offset, all drawn
    from ``generator``, so the same generator state gives the same noise.

    >>> from reverie.randomness import generator
    >>> perlin((4, 5, 6), scale=2.0, generator=generator(0, "doc"), octaves=2).shape
    torch.Size([4, 5, 6])
    """
    shape = tuple(shape)
    if not 1 <= len(shape) <= 3 or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in shape):
        raise ReverieError(f"expected a grid shape of 1 to 3 positive integers, got {shape}")
    if not scale > 0 or not isinstance(octaves, int) or octaves < 1:
        raise ReverieError(f"expected scale > 0 and octaves >= 1, got scale={scale!r}, octaves={octaves!r}")
    check_generator(generator)
    total = torch.zeros(shape, dtype=torch.float64)
    amplitude, weights = 1.0, 0.0
    for octave in range(octaves):
        frequency = lacunarity ** octave / scale  # lattice cells per sample
        origin = torch.rand(len(shape), generator=generator, dtype=torch.float64) * PERIOD
        # Sample centres in lattice units, one 1-D axis per grid dimension.
        axes = [(torch.arange(n, dtype=torch.float64) + 0.5) * frequency + origin[d] for d, n in enumerate(shape)]
        coords = torch.meshgrid(*axes, indexing="ij")  # len(shape) tensors of ``shape``
        total += amplitude * _gradient_noise(coords, generator)
        weights += amplitude
        amplitude *= persistence
    return (total / weights).float()


def noise_image(height: int, width: int, generator: torch.Generator, scale: float | None = None,
                octaves: int = 4, colour: bool = True) -> torch.Tensor:
    """A fractal-noise starting image [1, 3, H, W] in [0, 1].

    Each channel (or one grey channel copied three times when ``colour`` is false) is 2-D fBm
    (:func:`perlin`) stretched to span exactly [0, 1]. ``scale`` is the first octave's cell size
    in pixels, by default a quarter of the longer side. Feed it to ``init=`` of a PixelParam or
    FourierParam; extreme pixels start where the sigmoid is flat, so they move slowly at first.

    >>> from reverie.randomness import generator
    >>> image = noise_image(9, 12, generator(0, "doc"))
    >>> image.shape, float(image.min()), float(image.max())
    (torch.Size([1, 3, 9, 12]), 0.0, 1.0)
    """
    check_sizes(height, width)
    scale = max(height, width) / 4 if scale is None else scale
    channels = [perlin((height, width), scale, generator, octaves) for _ in range(3 if colour else 1)]
    image = torch.stack(channels).unsqueeze(0)  # [1, 3 or 1, H, W]
    low = image.amin(dim=(2, 3), keepdim=True)
    high = image.amax(dim=(2, 3), keepdim=True)
    image = (image - low) / (high - low).clamp(min=1e-12)
    return image.expand(1, 3, height, width).contiguous()  # a grey image repeats its one channel
