"""CPPN image parameterization: a small 1x1-convolution network over pixel coordinates, renderable at any size."""
from __future__ import annotations

import math

import torch
from torch import nn

from reverie.errors import ReverieError
from reverie.params.base import ImageParam, check_generator, check_sizes

# The longer side of the image spans [-sqrt(3), sqrt(3)]: a uniform variable on that range has
# unit variance, so the first layer sees inputs of the scale its initialisation assumes.
_EXTENT = math.sqrt(3.0)
# Dividing atan(x) and atan(x)^2 by these gives each half of the composite activation roughly
# unit variance for unit-normal input (Lucid's constants), so eight layers neither fade nor blow up.
_ATAN_SCALE, _ATAN_SQUARED_SCALE = 0.67, 0.6


def coordinates(height: int, width: int, aspect: float) -> torch.Tensor:
    """The CPPN's input grid, [3, height, width]: x, y and r = sqrt(x^2 + y^2) at pixel centres.

    ``aspect`` (width / height of the frame) fixes the rectangle sampled: the longer side spans
    [-sqrt(3), sqrt(3)], the shorter one proportionally less. The rectangle does not depend on
    ``height``/``width``, so a larger grid samples the same picture more finely.

    >>> coordinates(2, 4, aspect=2.0)[0, 0].tolist()  # doctest: +ELLIPSIS
    [-1.29..., -0.43..., 0.43..., 1.29...]
    """
    half_x = _EXTENT * min(1.0, aspect)
    half_y = _EXTENT * min(1.0, 1.0 / aspect)
    # Pixel centres, so a re-render at 2x lines up with a bilinear (align_corners=False) upscale.
    x = (torch.arange(width, dtype=torch.float32) + 0.5) / width * 2 * half_x - half_x  # [W]
    y = (torch.arange(height, dtype=torch.float32) + 0.5) / height * 2 * half_y - half_y  # [H]
    grid_y, grid_x = torch.meshgrid(y, x, indexing="ij")  # [H, W] each
    return torch.stack([grid_x, grid_y, torch.sqrt(grid_x ** 2 + grid_y ** 2)])  # [3, H, W]


def composite_activation(x: torch.Tensor) -> torch.Tensor:
    """[B, N, H, W] -> [B, 2N, H, W]: atan(x) / 0.67 concatenated with atan(x)^2 / 0.6."""
    a = torch.atan(x)
    return torch.cat([a / _ATAN_SCALE, a * a / _ATAN_SQUARED_SCALE], dim=1)


class CPPNParam(ImageParam):
    """A compositional pattern-producing network: colour as a smooth function of (x, y, r).

    ``layers`` hidden 1x1 convolutions of ``width_channels`` channels, each followed by
    :func:`composite_activation` (which doubles the channels), then a zero-initialised output
    layer to C channels and a sigmoid, so the first image is uniform grey and the first steps
    shape it. No colour decorrelation; channel 4, when present, is alpha.

    A batch is B *independent* networks evaluated together: each weight is stored as
    [B, out, in] and applied with a batched matrix product, so batch items share nothing.
    Hidden weights are drawn from N(0, 1 / fan_in), biases start at zero.

    The image is a function of continuous coordinates, so ``render(h, w)`` is a true re-render of
    the same frame (see :func:`coordinates`) at any resolution; a different aspect ratio
    stretches it. Lucid trains CPPNs with Adam at about 0.005 and no transforms.

    >>> from reverie.randomness import generator
    >>> param = CPPNParam(5, 7, generator=generator(0, "doc"))
    >>> param().shape, param.render(10, 14).shape
    (torch.Size([1, 3, 5, 7]), torch.Size([1, 3, 10, 14]))
    """

    def __init__(self, height: int, width: int, batch: int = 1, channels: int = 3, layers: int = 8,
                 width_channels: int = 24, *, generator: torch.Generator, device: torch.device | str | None = None):
        super().__init__(height, width, batch, channels)
        check_generator(generator)
        for name, value in (("layers", layers), ("width_channels", width_channels)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ReverieError(f"expected {name} as a positive integer, got {value!r}")
        self.aspect = width / height
        weights, biases = [], []
        fan_in = 3  # x, y, r
        for _ in range(layers):
            weights.append(torch.randn(batch, width_channels, fan_in, generator=generator) / math.sqrt(fan_in))
            biases.append(torch.zeros(batch, width_channels))
            fan_in = 2 * width_channels  # the composite activation doubles the channels
        weights.append(torch.zeros(batch, channels, fan_in))
        biases.append(torch.zeros(batch, channels))
        self.weights = nn.ParameterList([nn.Parameter(w.to(device)) for w in weights])  # each [B, out, in]
        self.biases = nn.ParameterList([nn.Parameter(b.to(device)) for b in biases])  # each [B, out]

    def render(self, height: int | None = None, width: int | None = None) -> torch.Tensor:
        """The image [B, C, height, width] in [0, 1], evaluated afresh on a finer or coarser grid."""
        height = self.height if height is None else height
        width = self.width if width is None else width
        check_sizes(height, width)
        weight = self.weights[0]
        grid = coordinates(height, width, self.aspect).to(weight)  # [3, H, W]
        # [3, H, W] -> [B, 3, H, W]: the same coordinates for every network in the batch
        x = grid.unsqueeze(0).expand(self.batch, -1, -1, -1)
        last = len(self.weights) - 1
        for index, (weight, bias) in enumerate(zip(self.weights, self.biases)):
            # A 1x1 convolution per batch item: [B, out, in] x [B, in, H, W] -> [B, out, H, W]
            x = torch.einsum("boi,bihw->bohw", weight, x) + bias[:, :, None, None]
            x = torch.sigmoid(x) if index == last else composite_activation(x)
        return x

    def forward(self) -> torch.Tensor:
        """The image [B, C, H, W] in [0, 1] at the param's own size."""
        return self.render()
