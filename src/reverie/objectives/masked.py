"""Activations seen through a spatial mask: what a masked objective (``Objective.masked``) scores.

This module knows masks and tensors, not objectives, so ``objectives/base.py`` can build masked
objectives on it without an import cycle.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import torch

from reverie.errors import ReverieError
from reverie.masks import fit_mask


class MaskedActivations(Mapping):
    """A read-only view of activations in which each map [B, C, h, w] of ``layers`` is multiplied by the
    mask [1 or B, 1, H, W] resampled to [1 or B, 1, h, w]; computed when read, so unread layers cost nothing.

    ``label`` names the masked objective in error messages (called only when there is an error).
    """

    def __init__(self, activations: Mapping[str, torch.Tensor], mask: torch.Tensor, layers: tuple[str, ...],
                 label: Callable[[], str]):
        self.activations, self.mask, self.layers, self.label = activations, mask, layers, label

    def __getitem__(self, key: str) -> torch.Tensor:
        activation = self.activations[key]
        if key not in self.layers:
            return activation
        if activation.ndim != 4:
            raise ReverieError(f"masked() needs layers with a spatial map [B, C, H, W]; {key} has shape "
                               f"{list(activation.shape)} in {self.label()}")
        mask = fit_mask(self.mask.to(activation), tuple(activation.shape[-2:]))
        return activation * mask  # [B, C, h, w] * [1 or B, 1, h, w]

    def __iter__(self) -> Iterator[str]:
        return iter(self.activations)

    def __len__(self) -> int:
        return len(self.activations)
