"""Alignment: a score that rises as neighbouring batch items agree at one layer (for interpolation)."""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from reverie.errors import ReverieError
from reverie.objectives.activations import channel_count
from reverie.objectives.base import Activations, Objective


@dataclass(frozen=True, repr=False)
class AlignmentObjective(Objective):
    """Minus the mean squared difference of ``layer``'s activations between batch items i and i+d,
    for d = 1..4, each weighted by ``1 / decay_ratio ** d``.

    In a batch of interpolation frames this keeps neighbours alike where their objectives allow,
    so the frames morph instead of each settling into its own arrangement (Lucid's "alignment").
    """

    NAME = "alignment"
    NAMES = ("layer",)
    layer: str
    decay_ratio: float = 2.0

    def __post_init__(self):
        if isinstance(self.decay_ratio, bool) or not isinstance(self.decay_ratio, (int, float)) \
                or not 1 <= self.decay_ratio < math.inf:
            raise ReverieError(f"alignment decay_ratio must be a number >= 1, got {self.decay_ratio!r}")

    @property
    def layers(self) -> tuple[str, ...]:  # type: ignore[override]
        return (self.layer,)

    def check(self, shapes: Mapping[str, torch.Size]) -> None:
        channel_count(self.layer, shapes[self.layer])

    def score(self, activations: Activations) -> torch.Tensor:
        activation = activations[self.layer]  # [B, C, H, W]
        total = activation.new_zeros(())
        for distance in range(1, min(4, activation.shape[0] - 1) + 1):
            difference = activation[distance:] - activation[:-distance]  # [B - d, C, H, W]
            total = total + difference.pow(2).mean() / self.decay_ratio ** distance
        return -total


def alignment(layer: str, decay_ratio: float = 2.0) -> AlignmentObjective:
    """Reward neighbouring batch items for similar activations at ``layer``."""
    return AlignmentObjective(str(layer), decay_ratio)
