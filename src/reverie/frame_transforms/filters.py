"""Filter frame transforms: Sobel and Prewitt edge magnitude, Gaussian blur, and unsharp-mask sharpening.

Edge maps come in two flavours. ``colour=True`` takes the edge magnitude of each channel on its own,
so a red edge stays red; ``colour=False`` is the classic grey edge map (of the luma) copied to all
three channels. Either way the magnitude is stretched so the frame's strongest edge is 1.

Fed back into a dream every frame, a bare edge map collapses within about 20 frames: each pass
darkens the frame (an edge map is mostly black) and thins its lines, and the dream fills the dark
with the network's favourite colour, so the animation ends as green strokes or black worms. Three
options keep it going, as the seed blog's Sobel animation ran "like Conway's Game of Life":

- ``keep``: what the result keeps of the frame it filters: ``"none"`` (the edge map alone),
  ``"colour"`` (the edges give the brightness, the frame its colour) or ``"luminance"`` (the frame
  keeps its brightness and takes the colour edges' chroma);
- ``mix``: the share of the filtered frame in the result, the rest being the frame before it (0.5
  unless given: a blend back towards the previous frame's colour);
- ``match``: how far the result's per-channel histogram is then matched to the animation's first
  image (1 unless given; see :mod:`reverie.frame_transforms.coherence`).

``mix`` and ``match`` left unset take :data:`ANCHORED` (0.5, 1). Animations recorded before these
options existed had the bare edge map (:data:`BARE`: 1, 0); their recipes say so and replay it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch

from reverie.errors import ReverieError, unknown_name_message
from reverie.frame_transforms.base import FrameContext, FrameTransform, check_flag, check_frame, check_number
from reverie.frame_transforms.coherence import amount_at, check_amount, match_amount
from reverie.keyframes import Keyframes, value_at

KEEPS = ("none", "colour", "luminance")  # what an edge filter's result keeps of the frame it filters
ANCHORED = {"mix": 0.5, "match": 1.0}    # what an unset mix/match means: the edge map keeps going
BARE = {"mix": 1.0, "match": 0.0}        # the bare edge map, as every edge filter was before mix/match

# Prewitt weighs the three rows of a 3x3 window equally (Sobel weighs the middle one twice). Whole
# taps so a flat frame sums to exactly 0; the result is divided by 6 afterwards so a ramp of slope s
# answers s, the scale kornia's normalised Sobel uses too.
_PREWITT_X = torch.tensor([[-1.0, 0.0, 1.0], [-1.0, 0.0, 1.0], [-1.0, 0.0, 1.0]])
# The weakest edge map that is stretched to full brightness: one 8-bit level. A flat frame's
# gradient is zero up to rounding (~1e-17); stretching that to 1 would turn noise into edges.
_STRETCH_FLOOR = 1 / 255


def _kornia():
    # Imported on first use: kornia takes ~0.3 s to import, and only animations' frame transforms
    # use it, while every command that runs a task imports this module (through the task table).
    import kornia
    return kornia


def _gradients(image: torch.Tensor, operator: str) -> tuple[torch.Tensor, torch.Tensor]:
    """d/dx and d/dy of [B, C, H, W], each [B, C, H, W], replicated border."""
    if operator == "sobel":
        gradient = _kornia().filters.spatial_gradient(image, mode="sobel", normalized=True)  # [B, C, 2, H, W]
        return gradient[:, :, 0], gradient[:, :, 1]
    kernel = _PREWITT_X.to(image.device, image.dtype)
    gx = _kornia().filters.filter2d(image, kernel[None], border_type="replicate")
    gy = _kornia().filters.filter2d(image, kernel.T[None], border_type="replicate")
    return gx / 6, gy / 6


def edge_magnitude(frame: torch.Tensor, operator: str = "sobel", colour: bool = True) -> torch.Tensor:
    """Edge strength of ``frame`` [B, 3, H, W] -> [B, 3, H, W] in [0, 1], the strongest edge at 1.

    ``operator`` is ``"sobel"`` or ``"prewitt"``; ``colour`` keeps per-channel edges, else grey edges
    of the luma are repeated on all channels.
    """
    image = frame if colour else _kornia().color.rgb_to_grayscale(frame)  # [B, 3 or 1, H, W]
    gx, gy = _gradients(image, operator)
    magnitude = torch.sqrt(gx * gx + gy * gy)
    # One scale per frame over all channels, so the ratio of the channels (the edge's hue) survives.
    peak = magnitude.amax(dim=(1, 2, 3), keepdim=True).clamp_min(_STRETCH_FLOOR)  # [B, 1, 1, 1]
    return (magnitude / peak).clamp(0, 1).expand_as(frame).contiguous()


def edge_frame(frame: torch.Tensor, operator: str, colour: bool, keep: str) -> torch.Tensor:
    """The edge map of ``frame`` [B, 3, H, W] keeping the ``keep`` part of the frame (see the module)."""
    if keep == "colour":  # brightness from the grey edges, chroma from the frame
        edges = edge_magnitude(frame, operator, colour=False)[:, :1]                    # [B, 1, H, W]
        chroma = _kornia().color.rgb_to_ycbcr(frame)[:, 1:]                                 # [B, 2, H, W]
        return _kornia().color.ycbcr_to_rgb(torch.cat([edges, chroma], dim=1)).clamp(0, 1)
    edges = edge_magnitude(frame, operator, colour)
    if keep == "luminance":  # brightness from the frame, chroma from the edges
        luma = _kornia().color.rgb_to_ycbcr(frame)[:, :1]
        chroma = _kornia().color.rgb_to_ycbcr(edges)[:, 1:]
        return _kornia().color.ycbcr_to_rgb(torch.cat([luma, chroma], dim=1)).clamp(0, 1)
    return edges


@dataclass(frozen=True)
class EdgeFilter(FrameTransform):
    """An edge magnitude filter with the options that keep an animation going (see the module)."""

    OPERATOR = ""
    colour: bool = True
    keep: str = "none"
    mix: float | Keyframes | None = None    # None: ANCHORED["mix"] (0.5)
    match: float | Keyframes | None = None  # None: ANCHORED["match"] (1)

    def __post_init__(self):
        check_flag(self.NAME, "colour", self.colour)
        if not isinstance(self.keep, str) or self.keep not in KEEPS:
            raise ReverieError(f"{self.NAME}: " + unknown_name_message("keep", str(self.keep), KEEPS))
        for name in ("mix", "match"):
            if getattr(self, name) is not None:
                check_amount(self.NAME, name, getattr(self, name))

    def with_unset(self, values: dict[str, float]) -> EdgeFilter:
        """This filter with its unset ``mix``/``match`` set from ``values`` (:data:`ANCHORED` or :data:`BARE`)."""
        return replace(self, **{name: value for name, value in values.items() if getattr(self, name) is None})

    def __call__(self, frame: torch.Tensor, context: FrameContext) -> torch.Tensor:
        check_frame(frame, self.NAME)
        index = context.frame_index
        mix = amount_at(self.NAME, "mix", ANCHORED["mix"] if self.mix is None else self.mix, index)
        match = amount_at(self.NAME, "match", ANCHORED["match"] if self.match is None else self.match, index)
        edges = edge_frame(frame, self.OPERATOR, self.colour, self.keep)
        return match_amount(torch.lerp(frame, edges, mix), context, match).clamp(0, 1)


@dataclass(frozen=True)
class Sobel(EdgeFilter):
    """Sobel edge magnitude, normalised to [0, 1]; ``colour=False`` for grey edges on all channels.

    ``keep``, ``mix`` and ``match`` keep a long animation going (see :mod:`reverie.frame_transforms.filters`).
    """

    NAME = "sobel"
    OPERATOR = "sobel"


@dataclass(frozen=True)
class Prewitt(EdgeFilter):
    """Prewitt edge magnitude, normalised to [0, 1]; ``colour=False`` for grey edges on all channels.

    ``keep``, ``mix`` and ``match`` keep a long animation going (see :mod:`reverie.frame_transforms.filters`).
    """

    NAME = "prewitt"
    OPERATOR = "prewitt"


def gaussian_blur(frame: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of [B, C, H, W] with standard deviation ``sigma`` pixels, reflected border."""
    if sigma <= 0:
        return frame
    # Three sigmas each side hold 99.7% of the weight; a reflected border needs the radius below the side.
    radius = min(math.ceil(3 * sigma), min(frame.shape[-2:]) - 1)
    if radius < 1:
        return frame
    size = 2 * radius + 1
    return _kornia().filters.gaussian_blur2d(frame, (size, size), (sigma, sigma), border_type="reflect")


@dataclass(frozen=True)
class Blur(FrameTransform):
    """Gaussian blur with standard deviation ``sigma`` pixels (0 leaves the frame alone)."""

    NAME = "blur"
    sigma: float | Keyframes

    def __post_init__(self):
        check_number("blur", "sigma", self.sigma)
        if not isinstance(self.sigma, Keyframes) and self.sigma < 0:
            raise ReverieError(f"blur: sigma must be 0 or more pixels, got {self.sigma!r}")

    def __call__(self, frame: torch.Tensor, context: FrameContext) -> torch.Tensor:
        check_frame(frame, "blur")
        return gaussian_blur(frame, value_at(self.sigma, context.frame_index))


@dataclass(frozen=True)
class Sharpen(FrameTransform):
    """Unsharp mask: ``frame + amount * (frame - blur(frame, sigma))``, clipped to [0, 1]."""

    NAME = "sharpen"
    amount: float | Keyframes
    sigma: float | Keyframes = 1.0

    def __post_init__(self):
        check_number("sharpen", "amount", self.amount)
        check_number("sharpen", "sigma", self.sigma)

    def __call__(self, frame: torch.Tensor, context: FrameContext) -> torch.Tensor:
        check_frame(frame, "sharpen")
        amount = value_at(self.amount, context.frame_index)
        blurred = gaussian_blur(frame, value_at(self.sigma, context.frame_index))
        return (frame + amount * (frame - blurred)).clamp(0, 1)


sobel, prewitt, blur, sharpen = Sobel, Prewitt, Blur, Sharpen

__all__ = ["KEEPS", "ANCHORED", "BARE", "edge_magnitude", "edge_frame", "gaussian_blur", "EdgeFilter", "Sobel", "Prewitt", "Blur", "Sharpen",
           "sobel", "prewitt", "blur", "sharpen"]
