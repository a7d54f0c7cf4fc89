"""Colour coherence: match each frame's colour histogram to the animation's first image.

A long animation drifts in colour: every dream pushes the palette a little towards what the network
likes (often green), and an edge filter darkens it each frame. Animation tools keep "colour
coherence" by matching every frame's histogram to the first frame's; here the reference is
``context.source`` (the image the animation started from), which every frame can see, so a resumed
run matches exactly as an uninterrupted one. Matching is per channel, by scikit-image's
``match_histograms`` (exact quantile mapping), and moves values only: the frame's shapes stay.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from skimage.exposure import match_histograms

from reverie.errors import ReverieError
from reverie.frame_transforms.base import FrameContext, FrameTransform, check_frame, check_number
from reverie.keyframes import Keyframes, value_at


def match_colours(frame: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """``frame`` [B, 3, H, W] with each channel's histogram matched to ``reference`` [1, 3, h, w]'s.

    The sizes may differ (a histogram is a distribution); the result has ``frame``'s shape,
    device and dtype.
    """
    target = reference[0].detach().permute(1, 2, 0).double().cpu().numpy()  # [h, w, 3]
    matched = [torch.from_numpy(match_histograms(item.detach().permute(1, 2, 0).double().cpu().numpy(), target,
                                                 channel_axis=-1)).permute(2, 0, 1)   # [H, W, 3] -> [3, H, W]
               for item in frame]
    return torch.stack(matched).to(frame.device, frame.dtype).clamp(0, 1)


def match_amount(frame: torch.Tensor, context: FrameContext, amount: float) -> torch.Tensor:
    """``frame`` moved ``amount`` (0-1) of the way to its histogram match with ``context.source``;
    unchanged when ``amount`` is 0 or the context has no source (a frame transform used on its own)."""
    if amount == 0 or context.source is None:
        return frame
    check_frame(context.source, "colour match source")
    return torch.lerp(frame, match_colours(frame, context.source), amount)


def check_amount(owner: str, name: str, value: object) -> None:
    """Raise unless ``value`` is keys(...) or a number from 0 to 1."""
    check_number(owner, name, value)
    if not isinstance(value, Keyframes) and not 0 <= value <= 1:
        raise ReverieError(f"{owner}: {name} must be from 0 to 1, got {value:g}")


def amount_at(owner: str, name: str, value: float | Keyframes, frame_index: int) -> float:
    amount = value_at(value, frame_index)
    if not 0 <= amount <= 1:
        raise ReverieError(f"{owner}: {name} must be from 0 to 1, got {amount:g} at frame {frame_index}")
    return amount


@dataclass(frozen=True)
class ColourMatch(FrameTransform):
    """Match each channel's histogram to the first image's (``amount`` 1: fully, 0: not at all).

    Put it after the transforms that shift colours (an edge filter, a hue shift) to keep a long
    animation in the palette it started with. Needs the animation's source image.
    """

    NAME = "colour_match"
    amount: float | Keyframes = 1.0

    def __post_init__(self):
        check_amount("colour_match", "amount", self.amount)

    def __call__(self, frame: torch.Tensor, context: FrameContext) -> torch.Tensor:
        check_frame(frame, "colour_match")
        if context.source is None:
            raise ReverieError("colour_match needs the source image, but this animation has none "
                               "(FrameContext.source is None)")
        return match_amount(frame, context, amount_at("colour_match", "amount", self.amount, context.frame_index))


colour_match = ColourMatch

__all__ = ["match_colours", "match_amount", "check_amount", "amount_at", "ColourMatch", "colour_match"]
