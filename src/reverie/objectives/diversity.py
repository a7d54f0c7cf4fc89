"""Diversity: a score that rises as a batch's images differ in style (Gram matrices) at one layer."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from reverie.objectives.activations import channel_count
from reverie.objectives.base import Activations, Objective, Sum


@dataclass(frozen=True, repr=False)
class DiversityObjective(Objective):
    """Minus the mean cosine similarity between the Gram matrices of different batch items at ``layer``.

    Lucid's diversity, with the sign set for maximising: -1 when all items have the same Gram
    matrix (up to scale), 0 when they are orthogonal, 0 for a batch of one. Lucid sums over pairs
    and divides by B, which is (B - 1) times this mean: its weight 100 at batch 4 is 300 here.
    Use it next to what the items should show, e.g. ``channel(blocks.9, 7) + 300*diversity(blocks.9)``.
    """

    NAME = "diversity"
    NAMES = ("layer",)
    layer: str

    @property
    def layers(self) -> tuple[str, ...]:  # type: ignore[override]
        return (self.layer,)

    def check(self, shapes: Mapping[str, torch.Size]) -> None:
        channel_count(self.layer, shapes[self.layer])

    def score(self, activations: Activations) -> torch.Tensor:
        activation = activations[self.layer]
        count, channels = activation.shape[:2]
        if count < 2:
            return activation.new_zeros(())
        flat = activation.reshape(count, channels, -1)                     # [B, C, H, W] -> [B, C, H*W]
        grams = flat @ flat.transpose(1, 2)                                # [B, C, C]
        grams = F.normalize(grams.reshape(count, -1), dim=1)               # [B, C*C], unit length
        similarity = grams @ grams.T                                       # [B, B] cosines
        others = similarity.sum() - similarity.diagonal().sum()            # the B*(B-1) ordered pairs i != j
        return -others / (count * (count - 1))


def diversity(name: str) -> DiversityObjective:
    """Reward the batch's images for differing from each other at layer ``name`` (see DiversityObjective)."""
    return DiversityObjective(str(name))


def without_diversity(objective: Objective) -> Objective | None:
    """``objective`` with its diversity terms taken out, or None when it has none or nothing else.

    Only the top-level terms of a sum count (a diversity inside ``masked()`` stays): this is what a
    render optimises once the diversity phase is over (the visualize recipe's ``diversity_steps``).
    """
    terms = objective.terms if isinstance(objective, Sum) else ((1.0, objective),)
    rest = tuple((weight, term) for weight, term in terms if not isinstance(term, DiversityObjective))
    if len(rest) == len(terms) or not rest:
        return None
    return rest[0][1] if len(rest) == 1 and rest[0][0] == 1 else Sum(rest)
