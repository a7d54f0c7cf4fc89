"""Random rolls: every column (or row) shifted by its own random whole number of pixels each frame.

The draw comes from ``context.generator`` (seeded per frame by the loop), so the same seed gives the
same shifts. Bounds that lean one way (``low=0, high=3``) make the picture drift while it shivers;
bounds may also vary across the frame as a line shape (``high=linear(0.05, offset=1)``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from reverie.errors import ReverieError
from reverie.frame_transforms.base import FrameContext, FrameTransform, check_axis, check_frame
from reverie.frame_transforms.roll import Shape, check_group, check_shape, line_values, roll_lines


@dataclass(frozen=True)
class RandomShift(FrameTransform):
    """Roll each column down (``axis=1``) or row right (``axis=0``) by a random whole shift in [low, high].

    Each line (or group of ``group`` lines) draws uniformly among the whole numbers between its
    bounds, inclusive; ``low`` and ``high`` are numbers, keys(...), or shapes of the line index.
    """

    NAME = "random_shift"
    SHOWN = ("axis",)
    axis: int = 1
    low: Shape = -2
    high: Shape = 2
    group: int = 1

    def __post_init__(self):
        check_axis("random_shift", self.axis)
        check_shape("random_shift", "low", self.low)
        check_shape("random_shift", "high", self.high)
        check_group("random_shift", self.group)

    def sample(self, frame: torch.Tensor, context: FrameContext) -> torch.Tensor:
        """The shifts for ``frame``: int64 [B, lines] on the CPU, drawn from ``context.generator``."""
        batch, lines = frame.shape[0], frame.shape[-1] if self.axis == 1 else frame.shape[-2]
        groups = math.ceil(lines / self.group)
        first = torch.arange(groups) * self.group  # [groups]: the first line of each group
        # Whole numbers inside [low, high]; the small slack keeps 2.0000000001 from excluding 2.
        low = line_values(self.low, lines, context.frame_index)[first].sub(1e-9).ceil()
        high = line_values(self.high, lines, context.frame_index)[first].add(1e-9).floor()
        if (high < low).any():
            where = int((high < low).nonzero()[0, 0]) * self.group
            raise ReverieError(f"random_shift: no whole shift between low and high at line {where} "
                               f"(frame {context.frame_index}); keep low <= high")
        draws = torch.rand(batch, groups, generator=context.generator, dtype=torch.float64)  # [B, groups]
        shifts = (low + draws * (high - low + 1)).floor().clamp(max=high)  # clamp: rand can round to 1
        return shifts.long().repeat_interleave(self.group, dim=1)[:, :lines]  # [B, groups] -> [B, lines]

    def __call__(self, frame: torch.Tensor, context: FrameContext) -> torch.Tensor:
        check_frame(frame, "random_shift")
        return roll_lines(frame, self.sample(frame, context), self.axis)


random_shift = RandomShift

__all__ = ["RandomShift", "random_shift"]
