"""Shared plus per-image parameters, so that a batch of images (interpolation frames) stays aligned."""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from reverie.errors import ReverieError
from reverie.params.base import SquashedParam, check_generator
from reverie.params.fourier import FourierParam


class SharedParam(SquashedParam):
    """Each batch item's own raw values plus low-resolution tensors shared by the whole batch.

    Image i = sigmoid(to_rgb(own_i + sum_k upsample(shared_k))), where ``own`` is the raw
    field of ``base`` (any :class:`SquashedParam`, e.g. a batched FourierParam) and each
    ``shared_k`` is an ``nn.Parameter`` [1, C, ceil(H/k), ceil(W/k)] for k in ``shared_scales``,
    bilinearly upsampled to [1, C, H, W] and added to every item (Lucid's "lowres_tensor"
    trick). Gradients from every item reach the shared tensors, so the items agree on coarse
    layout while their own parameters carry the differences: the basis of aligned interpolation.
    Shared tensors start from N(0, ``sd``).
    """

    def __init__(self, base: SquashedParam, shared_scales: Sequence[int] = (2, 4, 8, 16), sd: float = 0.01, *,
                 generator: torch.Generator, device: torch.device | str | None = None,
                 common: SquashedParam | None = None):
        if not isinstance(base, SquashedParam):
            raise ReverieError(f"expected a PixelParam or FourierParam to share, got {type(base).__name__}")
        super().__init__(base.height, base.width, base.batch, base.channels)
        check_generator(generator)
        if not shared_scales or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in shared_scales):
            raise ReverieError(f"expected shared_scales as positive integers, got {tuple(shared_scales)!r}")
        self.base = base
        # An optional full-resolution field shared by every item (a batch-1 param of the same kind):
        # fine detail that all frames start from and keep unless their objectives pull it apart.
        if common is not None and (common.batch, common.height, common.width) != (1, base.height, base.width):
            raise ReverieError("the common field must be a batch-1 param of the same size")
        self.common = common
        self.decorrelate = base.decorrelate
        self.shared_scales = tuple(shared_scales)
        self.shared = nn.ParameterList([
            nn.Parameter(sd * torch.randn(1, self.channels, math.ceil(self.height / k), math.ceil(self.width / k),
                                          generator=generator).to(device))
            for k in self.shared_scales
        ])

    def raw(self) -> torch.Tensor:
        """The per-image raw field plus every shared component, [B, C, H, W]."""
        raw = self.base.raw()  # [B, C, H, W]
        if self.common is not None:
            raw = raw + self.common.raw()  # [1, C, H, W] broadcast over the batch
        for shared in self.shared:
            # [1, C, H/k, W/k] -> [1, C, H, W], broadcast over the batch when added
            raw = raw + F.interpolate(shared, size=(self.height, self.width), mode="bilinear", align_corners=False)
        return raw


def aligned_fourier(height: int, width: int, batch: int = 1, channels: int = 3, *, generator: torch.Generator,
                    shared_scales: Sequence[int] = (2, 4, 8, 16), decay_power: float = 1.0,
                    decorrelate: bool = True, sd: float = 0.01,
                    device: torch.device | str | None = None) -> SharedParam:
    """A batched FourierParam plus shared low-resolution tensors: aligned interpolation frames.

    >>> from reverie.randomness import generator
    >>> aligned_fourier(9, 12, batch=3, generator=generator(0, "doc"))().shape
    torch.Size([3, 3, 9, 12])
    """
    own = FourierParam(height, width, batch, channels, decay_power=decay_power, decorrelate=decorrelate, sd=sd,
                       generator=generator, device=device)
    common = FourierParam(height, width, 1, channels, decay_power=decay_power, decorrelate=decorrelate, sd=sd,
                          generator=generator, device=device)
    return SharedParam(own, shared_scales, sd, generator=generator, device=device, common=common)


class EndpointBlend(SquashedParam):
    """Frames whose raw fields run linearly from one learned field to another, plus a little of their own.

    Frame i of B has raw field ``(1 - t_i) * first + t_i * last + own_scale * own_i`` with
    t_i = i / (B - 1): neighbouring frames differ by construction only by a step along the path
    (and by their own, deliberately slow, corrections — Adam moves every parameter at the same
    rate, so scaling ``own`` by ``own_scale`` slows it by that factor). This is what makes an
    interpolation morph rather than flicker between unrelated arrangements.
    """

    def __init__(self, height: int, width: int, batch: int, channels: int = 3, *, generator: torch.Generator,
                 own_scale: float = 0.25, device: torch.device | str | None = None, **fourier_options):
        super().__init__(height, width, batch, channels)
        self.ends = FourierParam(height, width, 2, channels, generator=generator, device=device, **fourier_options)
        self.own = FourierParam(height, width, batch, channels, generator=generator, device=device, **fourier_options)
        self.decorrelate = self.ends.decorrelate
        self.own_scale = own_scale
        steps = torch.linspace(0, 1, batch) if batch > 1 else torch.zeros(1)
        self.register_buffer("t", steps.view(batch, 1, 1, 1).to(device), persistent=False)

    def raw(self) -> torch.Tensor:
        ends = self.ends.raw()  # [2, C, H, W]
        path = (1 - self.t) * ends[:1] + self.t * ends[1:]  # [B, C, H, W]
        return path + self.own_scale * self.own.raw()


def interpolation_fourier(height: int, width: int, batch: int = 2, channels: int = 3, *, generator: torch.Generator,
                          shared_scales: Sequence[int] = (2, 4, 8, 16), decay_power: float = 1.0,
                          decorrelate: bool = True, sd: float = 0.01,
                          device: torch.device | str | None = None) -> SharedParam:
    """Interpolation frames: an EndpointBlend of Fourier fields plus shared low-resolution tensors.

    >>> from reverie.randomness import generator
    >>> interpolation_fourier(9, 12, batch=4, generator=generator(0, "doc"))().shape
    torch.Size([4, 3, 9, 12])
    """
    blend = EndpointBlend(height, width, batch, channels, generator=generator, device=device,
                          decay_power=decay_power, decorrelate=decorrelate, sd=sd)
    return SharedParam(blend, shared_scales, sd, generator=generator, device=device)
