"""Rendering one batch of an atlas where the model lives: the visualize task, then each unit's measures.

A :class:`RenderWork` is what an executor runs: built once per device (it loads and holds the model),
then called with batches. It never writes files; it returns each unit's result (the very result
``reverie visualize`` gives for the unit's recipe) and measures, and the builder saves them, so a
worker on another machine of a cluster needs no shared disk.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from reverie.atlas.plan import Batch, Output
from reverie.engine.progress import ProgressCallback, StopSignal
from reverie.executors import ModelWork
from reverie.pipelines.visualize import VisualizeResult
from reverie.recorder import ActivationRecorder
from reverie.tasks import run

# "Dead or grey": the optimisation barely moved the unit from what a flat grey image gives it (the FFT
# parameterization starts within a few percent of grey), or the image it made is nearly flat. A gain
# is judged against the unit's own grey value, so layers of any scale are judged alike; a unit stuck
# at zero (a dead ReLU) gains exactly nothing. tests/atlas/test_build.py pins both flags.
DEAD_SHARE = 0.01    # a gain under 1 % of the unit's grey value (plus float noise) "barely moved"
DEAD_FLOOR = 1e-6    # float noise of a unit that did not move at all
GREY_STD = 0.02      # pixel standard deviation (about 5/255) below which an image is "grey"


@dataclass(frozen=True)
class Rendered:
    """One output of a batch: its result (with the recipe that replays it) and what it did to its unit."""

    output: Output
    result: VisualizeResult
    activation: float  # the unit's mean over its map, on the image as saved (8-bit), untransformed
    baseline: float    # the same on a flat grey image of the same size
    std: float         # the saved image's pixel standard deviation, in [0, 1] units

    @property
    def gain(self) -> float:
        """How far the optimisation pushed the unit the way it was asked (down, for a negative)."""
        difference = self.activation - self.baseline
        return -difference if self.output.variant == "negative" else difference

    @property
    def dead(self) -> bool:
        return self.gain <= DEAD_FLOOR + DEAD_SHARE * abs(self.baseline)

    @property
    def grey(self) -> bool:
        return self.std < GREY_STD


class RenderWork(ModelWork):
    """Renders an atlas's batches on one device (see :class:`reverie.executors.ModelWork`)."""

    def weight(self, batch: Batch) -> float:
        return float(batch.work)

    def __call__(self, batch: Batch, progress: ProgressCallback | None = None,
                 stop: StopSignal | None = None) -> list[Rendered] | None:
        """Render ``batch``; None when ``stop`` cut it short (a partial batch is never kept)."""
        self.prepare()
        whole = run(batch.recipe, model=self.loaded[0], device=self.loaded[1], progress=progress, stop=stop)
        if whole.stopped:
            return None
        results = []
        for item, output in enumerate(batch.outputs):
            if output.recipe.item is None:  # the batch is the output (a diversity batch)
                results.append(replace(whole, recipe=replace(whole.recipe, item=None)))
            else:  # what run(output.recipe) returns: the batch rendered, this item kept
                results.append(VisualizeResult(replace(whole.recipe, item=item), False,
                                               whole.images[item:item + 1], [], whole.history))
        return self._measured(batch, results)

    def _measured(self, batch: Batch, results: list[VisualizeResult]) -> list[Rendered]:
        saved = [quantized(result.images[:, :3]) for result in results]  # each [N, 3, H, W]
        images = torch.cat(saved + [torch.full_like(saved[0][:1], 0.5)])  # the last: the grey baseline
        with torch.no_grad(), ActivationRecorder(self.loaded[0], [batch.layer]) as recorder:
            means = recorder(images.to(self.loaded[1]))[batch.layer].float().mean(dim=(2, 3)).cpu()  # [N, C]
        baseline, rendered, start = means[-1], [], 0
        for output, result, pixels in zip(batch.outputs, results, saved):
            activation = float(means[start:start + len(pixels), output.unit].mean())
            start += len(pixels)
            rendered.append(Rendered(output, result, activation, float(baseline[output.unit]),
                                     float(pixels.std())))
        return rendered


def quantized(images: torch.Tensor) -> torch.Tensor:
    """Images as an 8-bit file holds them (what ``to_pil`` writes), back in [0, 1]."""
    return images.detach().clamp(0, 1).mul(255).round().div(255).cpu()
