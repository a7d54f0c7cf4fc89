"""Masked objectives: an objective weighted spatially by a mask, and blends of objectives side by side."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import torch

from reverie.errors import ReverieError
from reverie.masks import check_mask, fit_mask
from reverie.objectives.base import Activations, Objective


class _MaskedActivations(Mapping):
    """A read-only view of activations in which each map [B, C, h, w] of ``layers`` is multiplied by the
    mask resampled to [1 or B, 1, h, w]; computed when read, so unread layers cost nothing."""

    def __init__(self, activations: Activations, mask: torch.Tensor, layers: tuple[str, ...], owner: Objective):
        self.activations, self.mask, self.layers, self.owner = activations, mask, layers, owner

    def __getitem__(self, key: str) -> torch.Tensor:
        activation = self.activations[key]
        if key not in self.layers:
            return activation
        if activation.ndim != 4:
            raise ReverieError(f"masked() needs layers with a spatial map [B, C, H, W]; {key} has shape "
                               f"{list(activation.shape)} in {self.owner.expression()}")
        mask = fit_mask(self.mask.to(activation), tuple(activation.shape[-2:]))
        return activation * mask  # [B, C, h, w] * [1 or B, 1, h, w]

    def __iter__(self) -> Iterator[str]:
        return iter(self.activations)

    def __len__(self) -> int:
        return len(self.activations)


@dataclass(frozen=True, repr=False, eq=False)
class MaskedObjective(Objective):
    """``objective`` scored on activations multiplied by ``mask`` [1 or B, 1, H, W] in [0, 1].

    The mask is drawn in image coordinates and resampled (bilinear) to each activation map's size;
    every map the inner objective reads is multiplied by it before the inner objective sees it. The
    mask is not renormalised, so a mask of ones gives exactly the unmasked objective, and a mask
    covering a quarter of the image gives, for the linear objectives (channel, neuron, direction),
    a quarter of the mean activation inside it. ``layer()`` squares its activations, so a soft mask
    weighs it by mask²; a 0/1 mask is the same either way.

    The mask is fixed to the image the model sees. Robustness transforms move the image by a few
    pixels, which only softens the mask's edge; for dreams (jittered and tiled) mask the pixel
    update instead: ``deep_dream(..., mask=...)``. Not writable as text (the mask is a tensor), so
    recipes keep masks as files and blends as ``|`` text.
    """

    objective: Objective
    mask: torch.Tensor

    def __post_init__(self):
        if not isinstance(self.objective, Objective):
            raise ReverieError(f"masked() takes an objective, got {self.objective!r}")
        object.__setattr__(self, "mask", check_mask(self.mask))

    @property
    def layers(self) -> tuple[str, ...]:  # type: ignore[override]
        return self.objective.layers

    def check(self, shapes: Mapping[str, torch.Size]) -> None:
        self.objective.check(shapes)
        for name in self.layers:
            if name in shapes and len(shapes[name]) != 4:
                raise ReverieError(f"masked() needs layers with a spatial map [B, C, H, W]; {name} has shape "
                                   f"{list(shapes[name])}")

    def score(self, activations: Activations) -> torch.Tensor:
        return self.objective.score(_MaskedActivations(activations, self.mask, self.layers, self))

    def expression(self) -> str:
        height, width = self.mask.shape[-2:]
        return f"masked({self.objective.expression()}, mask {width}x{height})"


def masked(objective: Objective, mask: torch.Tensor) -> MaskedObjective:
    """``objective`` counted only where ``mask`` [1, 1, H, W] (or [H, W]) in [0, 1] is on, weighted by it."""
    return MaskedObjective(objective, mask)


def parse_blend(text: str) -> list[Objective]:
    """``"channel(L, 3) | channel(L, 9)"`` -> the objectives between the top-level ``|`` signs, in order.

    >>> [o.expression() for o in parse_blend("channel(b, 3) | 2*layer(c)")]
    ['channel(b, 3)', '2*layer(c)']
    """
    from reverie.expressions import Binary, evaluate, parse
    from reverie.objectives import FUNCTIONS

    node = parse(text)
    parts = []
    while isinstance(node, Binary) and node.op == "|":  # '|' is left-associative: peel from the right
        parts.append(node.right)
        node = node.left
    parts.append(node)
    objectives = []
    for part in reversed(parts):
        value = evaluate(part, FUNCTIONS)
        if not isinstance(value, Objective):
            raise ReverieError(f"blend part at position {part.pos} of {text!r} is not an objective "
                               f"(got {type(value).__name__})")
        objectives.append(value)
    if len(objectives) < 2:
        raise ReverieError(f"a blend needs two or more objectives separated by '|', got {text!r}")
    return objectives


def blend_text(objectives: list[Objective]) -> str:
    """The canonical text of a blend: ``a | b | c``."""
    return " | ".join(objective.expression() for objective in objectives)
