"""Fourier-space image parameterization with frequency-scaled spectrum and decorrelated colour."""
from __future__ import annotations

import torch
from torch import nn

from reverie.params.base import SquashedParam, check_generator, check_init
from reverie.params.colour import unsquash

# The spatial field is divided by this before the colour mapping. An empirical constant from
# Lucid: it keeps the sigmoid out of saturation for the usual learning rate of 0.05, and changing
# it changes what a given learning rate means. The init round trip multiplies it back.
_EMPIRICAL_DIVISOR = 4.0


def spectrum_scale(height: int, width: int, decay_power: float = 1.0) -> torch.Tensor:
    """Per-frequency scale of an ``rfft2`` spectrum, [height, width // 2 + 1].

    ``1 / max(f, 1 / max(height, width)) ** decay_power`` where f is the frequency magnitude in
    cycles per pixel: low frequencies get large steps, high ones small, so optimisation builds
    broad structure first. The floor stops the DC term from blowing up.

    >>> spectrum_scale(4, 6).shape
    torch.Size([4, 4])
    """
    fy = torch.fft.fftfreq(height, dtype=torch.float64)[:, None]  # [H, 1], both signs
    fx = torch.fft.rfftfreq(width, dtype=torch.float64)[None, :]  # [1, W//2+1], non-negative only
    frequency = torch.sqrt(fx * fx + fy * fy)  # [H, W//2+1]
    floor = 1.0 / max(height, width)
    return (1.0 / frequency.clamp(min=floor) ** decay_power).float()


class FourierParam(SquashedParam):
    """Image = sigmoid(to_rgb(irfft2(spectrum * scale) / 4)): Lucid's default parameterization.

    ``spectrum`` is an ``nn.Parameter`` [B, C, H, W//2+1, 2] (real and imaginary parts, the
    last axis) drawn from N(0, ``sd``); ``scale`` is :func:`spectrum_scale`. The inverse FFT is
    orthonormal, which equals Lucid's unnormalised inverse times sqrt(H*W), so the size of the
    image does not change the size of its pixel values. Any size works, odd and non-square
    included. Channel 4, when present, is alpha and is never colour-mixed.

    Given ``init`` ([1 or B, 3 or C, H, W] in [0, 1]), the spectrum is set by inverting every
    step (sigmoid, colour mapping, the /4, the FFT and the scale), so the first image equals
    ``init`` (to about 1e-6 for values in [0.01, 0.99]).

    ``render(h, w)`` is a bilinear resize of ``forward()``.

    >>> from reverie.randomness import generator
    >>> FourierParam(5, 7, batch=2, channels=4, generator=generator(0, "doc"))().shape
    torch.Size([2, 4, 5, 7])
    """

    def __init__(self, height: int, width: int, batch: int = 1, channels: int = 3, decay_power: float = 1.0,
                 decorrelate: bool = True, sd: float = 0.01, *, generator: torch.Generator,
                 init: torch.Tensor | None = None, device: torch.device | str | None = None):
        super().__init__(height, width, batch, channels)
        check_generator(generator)
        self.decorrelate = bool(decorrelate)
        self.decay_power = float(decay_power)
        scale = spectrum_scale(height, width, self.decay_power)  # [H, W//2+1]
        # The scale is derived from the sizes, so it is a buffer that is not saved with the weights. It
        # carries the /4 too: dividing by a power of two is exact, so folding it in gives the same bits
        # and saves a pass over the image (and its backward) every step.
        self.register_buffer("scale", (scale / _EMPIRICAL_DIVISOR).to(device), persistent=False)
        spectrum = sd * torch.randn(batch, channels, height, width // 2 + 1, 2, generator=generator)
        if init is not None:
            start = check_init(init, batch, channels, height, width)  # [B, 3 or C, H, W]
            field = unsquash(start, self.decorrelate) * _EMPIRICAL_DIVISOR  # [B, c, H, W]
            coefficients = torch.fft.rfft2(field.double(), norm="ortho") / scale.double()  # complex [B, c, H, W//2+1]
            # complex [B, c, H, W//2+1] -> real [B, c, H, W//2+1, 2]
            spectrum[:, :start.shape[1]] = torch.view_as_real(coefficients).float()
        self.spectrum = nn.Parameter(spectrum.to(device))

    def raw(self) -> torch.Tensor:
        """The spatial field [B, C, H, W] before colour mapping and sigmoid."""
        # real [B, C, H, W//2+1, 2] -> complex [B, C, H, W//2+1]; the scale includes the / 4
        coefficients = torch.view_as_complex(self.spectrum) * self.scale
        return torch.fft.irfft2(coefficients, s=(self.height, self.width), norm="ortho")  # [B, C, H, W]
