"""Blend back towards the source image, an anchor that keeps a long animation from wandering off."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from reverie.errors import ReverieError
from reverie.frame_transforms.base import FrameContext, FrameTransform, check_frame, check_number
from reverie.imaging import resize
from reverie.keyframes import Keyframes, value_at


@dataclass(frozen=True)
class Blend(FrameTransform):
    """``(1 - amount) * frame + amount * context.source``: 0 leaves the frame, 1 gives the source back.

    The source is resized to the frame when their sizes differ.
    """

    NAME = "blend"
    amount: float | Keyframes

    def __post_init__(self):
        check_number("blend", "amount", self.amount)
        if not isinstance(self.amount, Keyframes):
            _check_amount(self.amount)

    def __call__(self, frame: torch.Tensor, context: FrameContext) -> torch.Tensor:
        check_frame(frame, "blend")
        if context.source is None:
            raise ReverieError("blend needs the source image, but this animation has none "
                               "(FrameContext.source is None)")
        check_frame(context.source, "blend source")
        amount = _check_amount(value_at(self.amount, context.frame_index))
        source = resize(context.source, tuple(frame.shape[-2:])).to(frame.device, frame.dtype)
        return torch.lerp(frame, source.expand_as(frame), amount).clamp(0, 1)


def _check_amount(amount: float) -> float:
    if not 0 <= amount <= 1:
        raise ReverieError(f"blend amount must be between 0 and 1, got {amount:g}")
    return amount


blend = Blend

__all__ = ["Blend", "blend"]
