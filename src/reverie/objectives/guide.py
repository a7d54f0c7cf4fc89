"""Guided dreaming: at every position, grow the guide image's feature vector that matches it best.

The original DeepDream notebook's ``objective_guide``: with the dream's features ``x`` [C] at one
position and the guide image's features ``g_1 .. g_N`` [C] (every position of the guide), the
gradient at that position is the guide vector with the largest dot product ``x . g_j``. That is the
gradient of ``max_j x . g_j``, so the score here is that maximum averaged over the dream's positions:
the dream grows, wherever it is, the guide's features it already resembles most. Guide features are
a set of vectors with no positions, so tiles, octaves and jitter need nothing special: every tile at
every scale is compared with the same set (recorded once, see :func:`guide_features`).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from reverie.errors import ReverieError
from reverie.imaging import check_image
from reverie.objectives.base import Activations, Objective
from reverie.recorder import ActivationRecorder

# The most guide vectors kept per layer: the products are [positions, vectors] per tile, so an early
# layer of a large guide (64 x 64 positions) would otherwise cost 16 M products per dream position row.
MAX_GUIDE_VECTORS = 4096


@dataclass(frozen=True, repr=False, eq=False)
class Guided(Objective):
    """Mean over the dream's positions of the largest dot product with a guide feature vector at ``layer``.

    ``features`` [N, C]: the guide's feature vectors (see :func:`guide_features`). No text form (it
    holds a tensor): a recipe stores the guide image's file instead (``--guide``).
    """

    layer: str
    features: torch.Tensor

    textual: ClassVar[bool] = False

    def __post_init__(self):
        if not torch.is_tensor(self.features) or self.features.dim() != 2 or self.features.shape[0] == 0:
            shape = list(self.features.shape) if torch.is_tensor(self.features) else type(self.features).__name__
            raise ReverieError(f"guided({self.layer}) needs guide features [N, C], got {shape}")

    @property
    def layers(self) -> tuple[str, ...]:  # type: ignore[override]
        return (self.layer,)

    def check(self, shapes: Mapping[str, torch.Size]) -> None:
        shape = shapes.get(self.layer)
        if shape is not None and (len(shape) != 4 or shape[1] != self.features.shape[1]):
            raise ReverieError(f"guided({self.layer}): the guide has {self.features.shape[1]} channels but the layer's "
                               f"activations are {list(shape)}")

    def score(self, activations: Activations) -> torch.Tensor:
        values = activations[self.layer]                          # [B, C, H, W]
        flat = values.flatten(2).transpose(1, 2)                  # [B, C, H, W] -> [B, H*W, C]
        guide = self.features.to(values.device, values.dtype)     # [N, C]
        best = (flat @ guide.T).amax(dim=-1)                      # [B, H*W, N] -> [B, H*W]
        return best.mean()

    def call_text(self) -> str:
        return f"guided({self.layer}, {self.features.shape[0]} guide vectors)"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Guided):
            return NotImplemented
        return self.layer == other.layer and self.features.shape == other.features.shape \
            and torch.equal(self.features, other.features.to(self.features.device))

    def __hash__(self) -> int:
        return hash((self.layer, tuple(self.features.shape)))


def guide_features(model: nn.Module, guide: torch.Tensor, layers: Sequence[str],
                   max_vectors: int = MAX_GUIDE_VECTORS) -> dict[str, torch.Tensor]:
    """The guide image's feature vectors at each of ``layers``: ``{layer: [N, C]}``, every position once.

    ``guide`` [1, 3, H, W] in [0, 1], at the size it should be seen (a guide at the dream's scale
    gives features of the sizes the dream has). More than ``max_vectors`` positions are thinned
    evenly (every k-th), which keeps the guide's spread of features.
    """
    check_image(guide, "guide image")
    with torch.no_grad(), ActivationRecorder(model, tuple(layers)) as recorder:
        activations = recorder(guide[:1])
        found = {}
        for name in layers:
            values = activations[name]
            if values.dim() != 4:
                raise ReverieError(f"a guide needs layers with a spatial map [B, C, H, W]; {name} has shape "
                                   f"{list(values.shape)}")
            vectors = values[0].flatten(1).T.detach()  # [C, H, W] -> [H*W, C]
            if vectors.shape[0] > max_vectors:
                step = -(-vectors.shape[0] // max_vectors)  # ceil: at most max_vectors kept
                vectors = vectors[::step]
            found[name] = vectors.clone()
        return found


def guided(model: nn.Module, guide: torch.Tensor, layers: Sequence[str]) -> Objective:
    """The guided objective of ``guide`` [1, 3, H, W] at each of ``layers``, summed: dream toward its features."""
    if not layers:
        raise ReverieError("a guided dream needs at least one layer")
    features = guide_features(model, guide, layers)
    terms = [Guided(name, features[name]) for name in layers]
    return sum(terms[1:], terms[0])


__all__ = ["Guided", "guide_features", "guided", "MAX_GUIDE_VECTORS"]
