"""Objectives on one layer's activations: the whole layer, or a set of its channels."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch

from reverie.errors import ReverieError
from reverie.objectives.base import Activations, Objective


def _quote(layer: str) -> str:
    from reverie.expressions import quote_name

    return quote_name(layer)


@dataclass(frozen=True, repr=False)
class LayerObjective(Objective):
    """Mean squared activation of a layer: the DeepDream objective, which amplifies whatever the
    layer already sees."""

    layer: str

    @property
    def layers(self) -> tuple[str, ...]:  # type: ignore[override]
        return (self.layer,)

    def score(self, activations: Activations) -> torch.Tensor:
        return activations[self.layer].pow(2).mean()

    def expression(self) -> str:
        return f"layer({_quote(self.layer)})"


@dataclass(frozen=True, repr=False)
class ChannelObjective(Objective):
    """Mean activation of one or more channels of a layer [B, C, H, W] (averaged over the channels)."""

    layer: str
    indices: tuple[int, ...]

    def __post_init__(self):
        if not self.indices:
            raise ReverieError(f"channel({self.layer}) needs at least one channel index")
        for index in self.indices:
            if isinstance(index, bool) or not isinstance(index, int):
                raise ReverieError(f"channel index must be a whole number, got {index!r}")

    @property
    def layers(self) -> tuple[str, ...]:  # type: ignore[override]
        return (self.layer,)

    def check(self, shapes: Mapping[str, torch.Size]) -> None:
        shape = shapes[self.layer]
        if len(shape) < 2:
            raise ReverieError(f"layer {self.layer} has output shape {list(shape)}: it has no channels")
        count = shape[1]
        for index in self.indices:
            if not 0 <= index < count:
                raise ReverieError(
                    f"channel {index} is out of range for layer {self.layer} (valid: 0-{count - 1})"
                )

    def score(self, activations: Activations) -> torch.Tensor:
        return activations[self.layer][:, list(self.indices)].mean()

    def expression(self) -> str:
        return f"channel({_quote(self.layer)}, {', '.join(map(str, self.indices))})"


def layer(name: str) -> LayerObjective:
    """Maximise the mean squared activation of layer ``name``."""
    return LayerObjective(str(name))


def channel(name: str, *indices: int) -> ChannelObjective:
    """Maximise the mean activation of channel(s) ``indices`` of layer ``name``."""
    return ChannelObjective(str(name), tuple(int(i) if isinstance(i, float) and i.is_integer() else i for i in indices))
