"""Semi-transparent visualization: an objective rewarded for leaving most of an RGBA image transparent."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from reverie.errors import ReverieError
from reverie.expressions import format_number
from reverie.objectives.base import Activations, Objective
from reverie.objectives.regularisers import image_of


@dataclass(frozen=True, repr=False)
class Transparent(Objective):
    """``inner * (1 - mean alpha) - blur * mean |alpha - blurred alpha|`` on an RGBA image.

    Composited over a fresh random background each step, the image can only raise ``inner``
    with opaque pixels, while every opaque pixel costs a share of the score: what stays opaque
    is what the unit responds to. The blur term keeps the alpha mask smooth rather than speckled.
    """

    NAME = "transparent"
    inner: Objective
    blur: float = 1.0

    def __post_init__(self):
        if not isinstance(self.inner, Objective):
            raise ReverieError(f"transparent() takes an objective, got {self.inner!r}")
        if isinstance(self.blur, bool) or not isinstance(self.blur, (int, float)) or not 0 <= self.blur < math.inf:
            raise ReverieError(f"transparent(blur=...) must be a number >= 0, got {self.blur!r}")

    @property
    def layers(self) -> tuple[str, ...]:  # type: ignore[override]
        return self.inner.layers

    @property
    def textual(self) -> bool:  # type: ignore[override]
        return self.inner.textual

    def check(self, shapes) -> None:
        self.inner.check(shapes)

    def score(self, activations: Activations) -> torch.Tensor:
        image = image_of(activations)
        if image.shape[1] != 4:
            raise ReverieError("transparent() needs an RGBA image: render with --alpha")
        alpha = image[:, 3:]  # [B, 1, H, W]
        smoothed = F.avg_pool2d(F.pad(alpha, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
        roughness = (alpha - smoothed).abs().mean()
        return self.inner.score(activations) * (1 - alpha.mean()) - self.blur * roughness

    def label(self) -> str:
        blur = "" if self.blur == 1 else f", blur={format_number(self.blur)}"
        return f"transparent({self.inner.label()}{blur})"


def transparent(objective: Objective, blur: float = 1.0) -> Transparent:
    """Wrap ``objective`` for semi-transparent (RGBA) rendering."""
    return Transparent(objective, blur)
