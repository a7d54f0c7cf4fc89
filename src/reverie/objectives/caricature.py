"""Caricature (feature inversion): match a photo's activations in direction, exaggerate their size."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import torch

from reverie.errors import ReverieError
from reverie.objectives.base import Activations, Objective

COSSIM_FLOOR = 0.1  # Lucid's floor: an image pointing away from the photo still gets a gradient


def caricature_score(activation: torch.Tensor, reference: torch.Tensor, power: float = 1.0,
                     floor: float = COSSIM_FLOOR) -> torch.Tensor:
    """Lucid's caricature score, dot(a, r) * max(cossim(a, r), floor) ** power, per batch item.

    ``activation`` [B, ...] and ``reference`` [1 or B, ...] are compared position by position (the
    whole flattened map is one vector). The dot product is divided by |r|^2, so 1.0 means "as much
    of the reference's direction as the reference itself has"; a caricature goes well above 1.
    Returns [B].
    """
    if activation.shape[1:] != reference.shape[1:]:
        raise ReverieError(f"caricature needs activations of one shape, got {list(activation.shape)} "
                           f"and {list(reference.shape)}")
    image = activation.flatten(1)        # [B, C, H, W] -> [B, C*H*W]
    target = reference.flatten(1)        # [1 or B, C*H*W]
    target_norm = target.norm(dim=1).clamp(min=1e-8)
    dot = (image * target).sum(dim=1)    # [B]
    cossim = dot / (image.norm(dim=1).clamp(min=1e-8) * target_norm)
    return dot / target_norm ** 2 * cossim.clamp(min=floor) ** power


@dataclass(frozen=True, repr=False)
class CaricatureObjective(Objective):
    """Caricature of the *last* batch item at ``layer``: every other item scores
    :func:`caricature_score` against it, and the objective is their mean.

    The reference photo rides in the batch so that it passes through the very same robustness
    transforms as the images (see ``reverie.pipelines.caricature``), which keeps the positions of
    the two activation maps aligned; comparing position by position keeps the photo's layout.
    Not offered in text (it needs that batch), so it has no text form; its label reads
    ``caricature(blocks.3, power=2)``.
    """

    NAME = "caricature"
    NAMES = ("layer",)
    textual: ClassVar[bool] = False
    layer: str
    power: float = 1.0

    def __post_init__(self):
        if not isinstance(self.power, (int, float)) or isinstance(self.power, bool) or not 0 <= self.power <= 8:
            raise ReverieError(f"caricature power must be a number from 0 to 8, got {self.power!r}")
        object.__setattr__(self, "power", float(self.power))

    @property
    def layers(self) -> tuple[str, ...]:  # type: ignore[override]
        return (self.layer,)

    def check(self, shapes: Mapping[str, torch.Size]) -> None:
        if len(shapes[self.layer]) < 2:
            raise ReverieError(f"caricature needs a layer with channels; {self.layer} has shape "
                               f"{list(shapes[self.layer])}")

    def score(self, activations: Activations) -> torch.Tensor:
        activation = activations[self.layer]  # [B, ...]; item B-1 is the reference
        if activation.shape[0] < 2:
            raise ReverieError("caricature needs the reference photo as the last batch item "
                               f"(got a batch of {activation.shape[0]})")
        return caricature_score(activation[:-1], activation[-1:], self.power).mean()


def caricature(name: str, power: float = 1.0) -> CaricatureObjective:
    """Caricature of the last batch item at layer ``name`` (see CaricatureObjective)."""
    return CaricatureObjective(str(name), power)


__all__ = ["COSSIM_FLOOR", "caricature_score", "CaricatureObjective", "caricature"]
