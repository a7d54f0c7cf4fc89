"""CPPN image parameterization: a small 1x1-convolution network over pixel coordinates, renderable at any size."""
from __future__ import annotations

import base64
import json
import math

import numpy as np
import torch
from torch import nn

from reverie.errors import ReverieError
from reverie.params.base import ImageParam, check_generator, check_sizes
from reverie.params.colour import squash

# The longer side of the image spans [-sqrt(3), sqrt(3)]: a uniform variable on that range has
# unit variance, so the first layer sees inputs of the scale its initialisation assumes.
_EXTENT = math.sqrt(3.0)
# Dividing atan(x) and atan(x)^2 by these gives each half of the composite activation roughly
# unit variance for unit-normal input (Lucid's constants), so eight layers neither fade nor blow up.
_ATAN_SCALE, _ATAN_SQUARED_SCALE = 0.67, 0.6

_NORM_EPSILON = 1e-5
# The normalisation statistics' grid is the param's own, shrunk to this long side: the statistics of
# a smooth picture hardly change with more samples, and re-rendering never evaluates a large grid twice.
STATISTICS_SIDE = 256

# A stored network (see to_text / from_text): the format's name and version, and bounds that keep a
# hostile file from asking for absurd allocations. 8 layers of 24 at batch 64 is about 0.55 M values.
NETWORK_FORMAT, NETWORK_VERSION = "reverie-cppn", 1
MAX_LAYERS, MAX_WIDTH_CHANNELS, MAX_NETWORK_BATCH = 64, 256, 64
MAX_NETWORK_VALUES = 4_000_000
# Rows of a large re-render evaluated at once: the hidden layers hold 2 x width_channels floats per
# pixel, so strips keep a 4096 x 4096 render to a few hundred MB.
STRIP_PIXELS = 1 << 18


def coordinates(height: int, width: int, aspect: float, rows: slice | None = None) -> torch.Tensor:
    """The CPPN's input grid, [3, height, width]: x, y and r = sqrt(x^2 + y^2) at pixel centres.

    ``aspect`` (width / height of the frame) fixes the rectangle sampled: the longer side spans
    [-sqrt(3), sqrt(3)], the shorter one proportionally less. The rectangle does not depend on
    ``height``/``width``, so a larger grid samples the same picture more finely. ``rows`` takes a
    horizontal strip of the grid ([3, strip rows, width]).

    >>> coordinates(2, 4, aspect=2.0)[0, 0].tolist()  # doctest: +ELLIPSIS
    [-1.29..., -0.43..., 0.43..., 1.29...]
    """
    half_x = _EXTENT * min(1.0, aspect)
    half_y = _EXTENT * min(1.0, 1.0 / aspect)
    # Pixel centres, so a re-render at 2x lines up with a bilinear (align_corners=False) upscale.
    x = (torch.arange(width, dtype=torch.float32) + 0.5) / width * 2 * half_x - half_x  # [W]
    y = (torch.arange(height, dtype=torch.float32) + 0.5) / height * 2 * half_y - half_y  # [H]
    if rows is not None:
        y = y[rows]
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
                 width_channels: int = 24, decorrelate: bool = False, normalize: bool = False, *,
                 generator: torch.Generator, device: torch.device | str | None = None):
        super().__init__(height, width, batch, channels)
        check_generator(generator)
        for name, value in (("layers", layers), ("width_channels", width_channels)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ReverieError(f"expected {name} as a positive integer, got {value!r}")
        self.aspect = width / height
        self.decorrelate = bool(decorrelate)
        self.normalize = bool(normalize)
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

    def render(self, height: int | None = None, width: int | None = None, rows: slice | None = None) -> torch.Tensor:
        """The image [B, C, height, width] in [0, 1], evaluated afresh on a finer or coarser grid
        (only the strip ``rows`` of it, when given).

        With ``normalize``, each hidden layer's pre-activations are normalised per channel by their
        mean and standard deviation over a fixed grid: the param's own, shrunk to at most
        ``STATISTICS_SIDE`` px (at the usual sizes that is instance normalisation over the image), so a
        re-render at any size, or strip by strip, applies the very same maps.
        """
        height = self.height if height is None else height
        width = self.width if width is None else width
        check_sizes(height, width)
        weight = self.weights[0]
        statistics_shape = self.statistics_shape()
        own = (height, width) == statistics_shape and rows is None
        # [3, H, W] -> [B, 3, H, W]: the same coordinates for every network in the batch
        x = coordinates(height, width, self.aspect, rows).to(weight).unsqueeze(0).expand(self.batch, -1, -1, -1)
        # The own grid, for the normalisation statistics when drawing another grid.
        reference = None
        if self.normalize and not own:
            reference = coordinates(*statistics_shape, self.aspect).to(weight)
            reference = reference.unsqueeze(0).expand(self.batch, -1, -1, -1)
        last = len(self.weights) - 1
        for index, (weight, bias) in enumerate(zip(self.weights, self.biases)):
            # A 1x1 convolution per batch item: [B, out, in] x [B, in, H, W] -> [B, out, H, W]
            x = torch.einsum("boi,bihw->bohw", weight, x) + bias[:, :, None, None]
            if reference is not None:
                reference = torch.einsum("boi,bihw->bohw", weight, reference) + bias[:, :, None, None]
            if index == last:
                break
            if self.normalize:
                statistics = x if reference is None else reference
                mean = statistics.mean(dim=(2, 3), keepdim=True)  # [B, out, 1, 1]
                std = statistics.std(dim=(2, 3), keepdim=True) + _NORM_EPSILON
                x = composite_activation((x - mean) / std)
                if reference is not None:
                    reference = composite_activation((reference - mean) / std)
            else:
                x = composite_activation(x)
        return squash(x, self.decorrelate)

    def statistics_shape(self) -> tuple[int, int]:
        """(height, width) of the grid the normalisation statistics come from."""
        scale = min(1.0, STATISTICS_SIDE / max(self.height, self.width))
        return max(1, round(self.height * scale)), max(1, round(self.width * scale))

    def picture(self, height: int, width: int) -> torch.Tensor:
        """A re-render [B, C, height, width] in [0, 1] of any size, without gradients, strip by strip
        so that memory stays bounded (a 4096 x 4096 render never holds its hidden layers whole)."""
        check_sizes(height, width)
        strip = max(1, STRIP_PIXELS // (width * self.batch))
        device = self.weights[0].device
        picture = torch.empty(self.batch, self.channels, height, width, device=device)  # filled in place: no copy
        with torch.no_grad():
            for top in range(0, height, strip):
                rows = slice(top, min(top + strip, height))
                picture[:, :, rows] = self.render(height, width, rows)
        return picture

    def to_text(self) -> str:
        """The network as JSON text: its shape and its weights (little-endian float32, base64).

        An output image stores it so that :meth:`from_text` can re-render the picture at any size.
        It is plain data: reading it never runs code.
        """
        values = torch.cat([t.detach().float().cpu().flatten() for pair in zip(self.weights, self.biases)
                            for t in pair])
        return json.dumps({
            "format": NETWORK_FORMAT, "version": NETWORK_VERSION, "layers": len(self.weights) - 1,
            "width_channels": int(self.weights[0].shape[1]), "channels": self.channels, "batch": self.batch,
            "size": [self.width, self.height], "decorrelate": self.decorrelate, "normalize": self.normalize,
            "values": base64.b64encode(values.numpy().astype("<f4").tobytes()).decode("ascii"),
        })

    @classmethod
    def from_text(cls, text: str, device: torch.device | str | None = None) -> CPPNParam:
        """The network :meth:`to_text` wrote. Raises ReverieError, saying what is wrong, for anything
        else (not JSON, another format, sizes out of bounds, a wrong number of values, non-finite values)."""
        def bad(why: str) -> ReverieError:
            return ReverieError(f"the stored CPPN network is not valid: {why}")

        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            raise bad("not JSON") from None
        if not isinstance(data, dict) or data.get("format") != NETWORK_FORMAT:
            raise bad(f"expected a {NETWORK_FORMAT!r} object")
        if data.get("version") != NETWORK_VERSION:
            raise bad(f"version {data.get('version')!r}; this Reverie reads version {NETWORK_VERSION}")
        bounds = {"layers": MAX_LAYERS, "width_channels": MAX_WIDTH_CHANNELS, "batch": MAX_NETWORK_BATCH,
                  "channels": 4}
        for name, top in bounds.items():
            value = data.get(name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
                raise bad(f"{name} must be a whole number from 1 to {top}, got {value!r}")
        if data["channels"] not in (3, 4):
            raise bad(f"channels must be 3 or 4, got {data['channels']}")
        size = data.get("size")
        if not (isinstance(size, list) and len(size) == 2
                and all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 1 << 16 for v in size)):
            raise bad(f"size must be [width, height], got {size!r}")
        for name in ("decorrelate", "normalize"):
            if not isinstance(data.get(name), bool):
                raise bad(f"{name} must be true or false")
        layers, hidden, channels, batch = data["layers"], data["width_channels"], data["channels"], data["batch"]
        shapes = [(hidden, 3)] + [(hidden, 2 * hidden)] * (layers - 1) + [(channels, 2 * hidden)]
        count = batch * sum(out * inp + out for out, inp in shapes)
        if count > MAX_NETWORK_VALUES:
            raise bad(f"{count} values is over the limit of {MAX_NETWORK_VALUES}")
        encoded = data.get("values")
        if not isinstance(encoded, str) or len(encoded) != 4 * math.ceil(4 * count / 3):
            raise bad(f"expected {count} float32 values, base64-encoded")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except ValueError:
            raise bad("the values are not base64") from None
        values = torch.from_numpy(np.frombuffer(raw, dtype="<f4").astype(np.float32))
        if values.numel() != count or not bool(torch.isfinite(values).all()):
            raise bad(f"expected {count} finite float32 values")
        width, height = size
        param = cls(height, width, batch, channels, layers, hidden, data["decorrelate"], data["normalize"],
                    generator=torch.Generator().manual_seed(0))
        offset = 0
        with torch.no_grad():
            for tensor in (t for pair in zip(param.weights, param.biases) for t in pair):
                tensor.copy_(values[offset:offset + tensor.numel()].view_as(tensor))
                offset += tensor.numel()
        return param.to(device)

    def forward(self) -> torch.Tensor:
        """The image [B, C, H, W] in [0, 1] at the param's own size."""
        return self.render()
