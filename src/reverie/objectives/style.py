"""Style transfer objectives: Gram-matrix style statistics and per-position content, against fixed targets."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import torch

from reverie.errors import ReverieError
from reverie.expressions import quote_name
from reverie.objectives.base import Activations, Objective


def gram(activation: torch.Tensor) -> torch.Tensor:
    """Channel co-activation matrix averaged over positions: [B, C, H, W] -> [B, C, C].

    Averaged (not summed) so images of different sizes have comparable Grams.
    """
    if activation.ndim != 4:
        raise ReverieError(f"a Gram matrix needs a spatial map [B, C, H, W], got {list(activation.shape)}")
    features = activation.flatten(2)  # [B, C, H, W] -> [B, C, H*W]
    return features @ features.transpose(1, 2) / features.shape[-1]  # [B, C, C]


def relative_distance(value: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """|value - target|^2 / |target|^2 per batch item: 0 is a match, 1 as far as zero is. [B]."""
    difference = (value - target).flatten(1)  # [B, ...] -> [B, N]
    return difference.pow(2).sum(dim=1) / target.flatten(1).pow(2).sum(dim=1).clamp(min=1e-12)


@dataclass(frozen=True, repr=False, eq=False)
class StyleObjective(Objective):
    """Minus the mean over ``layers`` of the relative Gram distance to the style image's Grams.

    ``targets`` maps each layer to the style image's Gram [1, C, C] (see :func:`style_targets`).
    A score of 0 is a perfect style match. No text form (the targets are tensors): the style recipe
    stores the style image and its layers. Equal when the targets' layers and values are.
    """

    targets: Mapping[str, torch.Tensor]

    textual: ClassVar[bool] = False

    @property
    def layers(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(self.targets)

    def distances(self, activations: Activations) -> torch.Tensor:
        """Relative Gram distance per layer, averaged over the batch: [L]."""
        return torch.stack([relative_distance(gram(activations[name]), target.to(activations[name])).mean()
                            for name, target in self.targets.items()])

    def score(self, activations: Activations) -> torch.Tensor:
        return -self.distances(activations).mean()

    def label(self) -> str:
        return f"style({', '.join(quote_name(name) for name in self.targets)})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StyleObjective):
            return NotImplemented
        return list(self.targets) == list(other.targets) and all(
            _same_tensor(self.targets[name], other.targets[name]) for name in self.targets)

    def __hash__(self) -> int:
        return hash(tuple(self.targets))


@dataclass(frozen=True, repr=False, eq=False)
class ContentObjective(Objective):
    """Minus the relative distance, position by position, to the content photo's activations at ``layer``.

    ``target`` [1, C, H, W] must come from an image of the output's size with no transforms. No
    text form (the target is a tensor): the style recipe stores the content photo and its layer.
    """

    layer: str
    target: torch.Tensor

    textual: ClassVar[bool] = False

    @property
    def layers(self) -> tuple[str, ...]:  # type: ignore[override]
        return (self.layer,)

    def score(self, activations: Activations) -> torch.Tensor:
        activation = activations[self.layer]
        if activation.shape[1:] != self.target.shape[1:]:
            raise ReverieError(f"content layer {self.layer} gave {list(activation.shape)} but the content photo "
                               f"gave {list(self.target.shape)}; use transforms that keep the image size")
        return -relative_distance(activation, self.target.to(activation)).mean()

    def label(self) -> str:
        return f"content({quote_name(self.layer)}, target {'x'.join(map(str, self.target.shape))})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ContentObjective):
            return NotImplemented
        return self.layer == other.layer and _same_tensor(self.target, other.target)

    def __hash__(self) -> int:
        return hash((self.layer, tuple(self.target.shape)))


def _same_tensor(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and torch.equal(a, b.to(a.device, a.dtype))


def style_targets(activations: Activations, layers) -> dict[str, torch.Tensor]:
    """The Gram [1, C, C] of each of ``layers`` from a style image's recorded ``activations``."""
    return {name: gram(activations[name]).detach() for name in layers}


def style_transfer_objective(style: Mapping[str, torch.Tensor], content_layer: str, content: torch.Tensor,
                             style_weight: float = 1.0, content_weight: float = 1.0) -> Objective:
    """``style_weight * style + content_weight * content`` (both scores <= 0)."""
    return style_weight * StyleObjective(dict(style)) + content_weight * ContentObjective(content_layer, content)


__all__ = ["gram", "relative_distance", "StyleObjective", "ContentObjective", "style_targets",
           "style_transfer_objective"]
