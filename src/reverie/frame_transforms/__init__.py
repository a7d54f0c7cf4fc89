"""Frame transforms for dream animation: each frame is dreamed from a transformed copy of the last.

A frame transform is ``(frame [1, 3, H, W] in [0, 1], context: FrameContext) -> frame`` of the same
shape (see :mod:`reverie.frame_transforms.base` for the contract and the axis convention). Build
them in Python or parse them from expression text, which is what a recipe stores:

>>> import torch
>>> transforms = parse_frame_transforms(["zoom(keys(\\"0:0.01, 100:0.05\\"))",
...                                      "roll(axis=1, shift=sin(amplitude=6, period=80))"])
>>> [t.expression() for t in transforms]
['zoom(keys("0:0.01, 100:0.05"))', 'roll(axis=1, shift=sin(amplitude=6, period=80))']
>>> context = FrameContext(frame_index=0, frame_count=10, generator=torch.Generator().manual_seed(0))
>>> apply_frame_transforms(transforms, torch.full((1, 3, 32, 32), 0.5), context).shape
torch.Size([1, 3, 32, 32])
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from reverie.errors import ReverieError
from reverie.expressions import evaluate, parse
from reverie.frame_transforms.base import FrameContext, FrameTransform, check_frame
from reverie.frame_transforms.blend import Blend, blend
from reverie.frame_transforms.coherence import ColourMatch, colour_match
from reverie.frame_transforms.colour import HueShift, PixelSort, Posterize, hue_shift, pixel_sort, posterize
from reverie.frame_transforms.filters import Blur, EdgeFilter, Prewitt, Sharpen, Sobel, blur, prewitt, sharpen, sobel
from reverie.frame_transforms.geometry import Affine, Rotate, Stretch, Translate, Zoom, affine, rotate, stretch, \
    translate, zoom
from reverie.frame_transforms.perlin import PerlinNoise, PerlinWarp, perlin_noise, perlin_warp
from reverie.frame_transforms.roll import AlternateRoll, Linear, LineShape, Roll, Sine, alternate_roll, linear, \
    roll, sin
from reverie.frame_transforms.stochastic import RandomShift, random_shift
from reverie.frame_transforms.symmetry import Kaleidoscope, Mirror, kaleidoscope, mirror
from reverie.keyframes import Keyframes, keys

# The functions a frame transform expression may call; nothing else is reachable from text.
# The first group are frame transforms; keys, linear and sin build their parameters.
FUNCTIONS: dict[str, Callable] = {
    "zoom": zoom, "stretch": stretch, "rotate": rotate, "translate": translate, "affine": affine,
    "roll": roll, "alternate_roll": alternate_roll, "random_shift": random_shift,
    "sobel": sobel, "prewitt": prewitt, "blur": blur, "sharpen": sharpen,
    "pixel_sort": pixel_sort, "hue_shift": hue_shift, "posterize": posterize,
    "kaleidoscope": kaleidoscope, "mirror": mirror, "blend": blend, "colour_match": colour_match,
    "perlin_warp": perlin_warp, "perlin_noise": perlin_noise,
    "keys": keys, "linear": linear, "sin": sin,
}
# Bare names a frame transform expression may use, for flags like ``sobel(colour=False)``.
NAMES = {"True": True, "False": False, "true": True, "false": False}


def parse_frame_transform(text: str) -> FrameTransform:
    """Parse one frame transform from expression text (no eval), e.g. ``"zoom(0.02)"``.

    >>> parse_frame_transform("rotate(keys('0:0, 100:90'))")
    Rotate(degrees=Keyframes(points=((0, 0.0), (100, 90.0)), mode='linear'))
    >>> parse_frame_transform("zom(0.02)")
    Traceback (most recent call last):
    ...
    reverie.errors.ReverieError: unknown function 'zom' (nearest: zoom) at position 0
    """
    if not isinstance(text, str):
        raise ReverieError(f"a frame transform is text like \"zoom(0.02)\", got {text!r}")
    value = evaluate(parse(text), FUNCTIONS, NAMES)
    if not isinstance(value, FrameTransform):
        raise ReverieError(f"{text!r} is not a frame transform (got {type(value).__name__}); "
                           f"use one of {', '.join(sorted(name for name, f in FUNCTIONS.items() if _is_transform(f)))}")
    return value


def parse_frame_transforms(texts: Sequence[str]) -> list[FrameTransform]:
    """Parse each text of ``texts`` with :func:`parse_frame_transform`, keeping the order."""
    if isinstance(texts, str):
        raise ReverieError("frame transforms are a list of texts like [\"zoom(0.02)\"], not one text")
    return [parse_frame_transform(text) for text in texts]


def apply_frame_transforms(transforms: Sequence[Callable], frame: torch.Tensor,
                           context: FrameContext) -> torch.Tensor:
    """Apply ``transforms`` to ``frame`` [B, 3, H, W] in order; each must keep the frame's shape."""
    check_frame(frame, "apply_frame_transforms")
    for transform in transforms:
        shape = frame.shape
        frame = transform(frame, context)
        if not torch.is_tensor(frame) or frame.shape != shape:
            got = list(frame.shape) if torch.is_tensor(frame) else type(frame).__name__
            raise ReverieError(f"frame transform {transform} changed the frame from {list(shape)} to {got}; "
                               "a frame transform must keep the frame's shape")
    return frame


def _is_transform(function: Callable) -> bool:
    return isinstance(function, type) and issubclass(function, FrameTransform)


__all__ = [
    "FrameContext", "FrameTransform", "FUNCTIONS", "NAMES",
    "parse_frame_transform", "parse_frame_transforms", "apply_frame_transforms",
    "Zoom", "Stretch", "Rotate", "Translate", "Affine", "zoom", "stretch", "rotate", "translate", "affine",
    "Roll", "AlternateRoll", "LineShape", "Linear", "Sine", "roll", "alternate_roll", "linear", "sin",
    "RandomShift", "random_shift",
    "Sobel", "Prewitt", "Blur", "Sharpen", "sobel", "prewitt", "blur", "sharpen",
    "PixelSort", "HueShift", "Posterize", "pixel_sort", "hue_shift", "posterize",
    "Kaleidoscope", "Mirror", "kaleidoscope", "mirror",
    "Blend", "blend", "ColourMatch", "colour_match", "EdgeFilter",
    "PerlinWarp", "PerlinNoise", "perlin_warp", "perlin_noise",
    "Keyframes", "keys",
]
