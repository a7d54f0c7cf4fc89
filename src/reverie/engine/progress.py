"""The one progress event both loops report, with the preview image computed only on request."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch


@dataclass(frozen=True)
class Progress:
    """Where a long computation stands; passed to the ``progress`` callback after every step."""

    stage: str          # e.g. "octave 2/4"
    step: int           # steps finished in this stage
    steps: int          # steps in this stage
    work_done: float    # finished work in arbitrary units (pixel-steps for DeepDream)
    work_total: float   # all the work; work_done / work_total is the fraction complete
    score: float        # the objective's latest value
    _preview: Callable[[], torch.Tensor] = field(repr=False, compare=False, default=lambda: torch.empty(0))

    @property
    def fraction(self) -> float:
        return self.work_done / self.work_total if self.work_total else 1.0

    def preview(self) -> torch.Tensor:
        """The current image [1, 3, H, W] in [0, 1] (a copy; computed only when asked for)."""
        return self._preview()


ProgressCallback = Callable[[Progress], None]
