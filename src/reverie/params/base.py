"""The image-parameterization contract: trainable tensors plus the function that turns them into an image."""
from __future__ import annotations

import torch
from torch import nn

from reverie.errors import ReverieError
from reverie.imaging import resize
from reverie.params.colour import squash


class ImageParam(nn.Module):
    """Trainable tensors (its ``nn.Parameter``s) plus a function that turns them into an image.

    ``forward()`` returns the image [B, C, H, W] in [0, 1], with C = 3 (RGB) or 4 (RGBA, alpha
    last). A param owns no optimizer and does no I/O: ``torch.optim.Adam(param.parameters())``
    trains it, and the loop decides what the image is for.

    Attributes: ``batch`` (B), ``height`` (H), ``width`` (W), ``channels`` (C).
    """

    batch: int
    height: int
    width: int
    channels: int

    def __init__(self, height: int, width: int, batch: int = 1, channels: int = 3):
        super().__init__()
        check_sizes(height, width, batch, channels)
        self.height, self.width, self.batch, self.channels = int(height), int(width), int(batch), int(channels)

    def forward(self) -> torch.Tensor:
        """The image [B, C, H, W] in [0, 1]."""
        raise NotImplementedError

    def render(self, height: int | None = None, width: int | None = None) -> torch.Tensor:
        """The image at ``height`` x ``width`` (default: the param's own size), [B, C, height, width].

        This default is a bilinear resize of ``forward()`` (antialiased when shrinking): it adds
        no detail. Resolution-independent params (CPPN) override it with a true re-render.
        Differentiable; wrap it in ``torch.no_grad()`` for a preview.
        """
        height = self.height if height is None else height
        width = self.width if width is None else width
        check_sizes(height, width)
        return resize(self(), (int(height), int(width)))


class SquashedParam(ImageParam):
    """An ImageParam whose image is ``squash(raw())``: raw values, optional colour decorrelation, sigmoid.

    Subclasses implement ``raw()`` -> [B, C, H, W] unbounded values in the decorrelated colour
    space (when ``decorrelate``) and set ``decorrelate``. Keeping ``raw`` separate lets
    :class:`~reverie.params.shared.SharedParam` add shared components before the squash.
    """

    decorrelate: bool

    def raw(self) -> torch.Tensor:
        """Unbounded values [B, C, H, W] before colour mapping and sigmoid."""
        raise NotImplementedError

    def forward(self) -> torch.Tensor:

        return squash(self.raw(), self.decorrelate)


def check_sizes(height: int, width: int, batch: int = 1, channels: int = 3) -> None:
    """Raise ReverieError unless the sizes are positive integers and ``channels`` is 3 or 4."""
    for name, value in (("height", height), ("width", width), ("batch", batch)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ReverieError(f"expected {name} as a positive integer, got {value!r}")
    if channels not in (3, 4) or isinstance(channels, bool):
        raise ReverieError(f"expected channels 3 (RGB) or 4 (RGBA), got {channels!r}")


def check_generator(generator: object) -> torch.Generator:
    """Return ``generator`` if it is a CPU ``torch.Generator``; raise TypeError otherwise.

    Params draw their initial values on the CPU so the same seed gives the same pixels on any device.
    """
    if not isinstance(generator, torch.Generator) or generator.device.type != "cpu":
        raise TypeError(f"expected a CPU torch.Generator (reverie.randomness.generator), got {generator!r}")
    return generator


def check_init(init: torch.Tensor, batch: int, channels: int, height: int, width: int) -> torch.Tensor:
    """Validate a starting image and broadcast it over the batch: -> [batch, 3 or channels, H, W].

    ``init`` is [1 or batch, 3 or ``channels``, height, width] floats in [0, 1]; a 3-channel
    init for an RGBA param sets the colour and leaves alpha at its random start.
    """
    batches = "1" if batch == 1 else f"1 or {batch}"
    colours = "3" if channels == 3 else f"3 or {channels}"
    expected = f"[{batches}, {colours}, {height}, {width}] floats in [0, 1]"
    if not (torch.is_tensor(init) and init.is_floating_point() and init.ndim == 4
            and init.shape[0] in (1, batch) and init.shape[1] in (3, channels)
            and tuple(init.shape[2:]) == (height, width)):
        got = list(init.shape) if torch.is_tensor(init) else type(init).__name__
        raise ReverieError(f"expected the init image as {expected}, got {got}")
    if init.numel() and (float(init.min()) < 0 or float(init.max()) > 1):
        raise ReverieError(f"expected the init image as {expected}, got values in "
                           f"[{float(init.min()):.3g}, {float(init.max()):.3g}]")
    # [1 or B, c, H, W] -> [B, c, H, W]
    return init.detach().float().cpu().expand(batch, -1, -1, -1)
