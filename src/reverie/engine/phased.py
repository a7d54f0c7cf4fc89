"""A render in two phases: one objective for the first steps, another for the rest, on the same image."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from torch import nn

from reverie.engine.optimize import RenderSettings, Rendering, render
from reverie.engine.progress import Progress, ProgressCallback, StopSignal, stop_requested
from reverie.objectives import Objective
from reverie.robustness import Transform


def render_phased(model: nn.Module, first: Objective, then: Objective, first_steps: int, param: nn.Module,
                  transforms: Sequence[Transform] = (), settings: RenderSettings = RenderSettings(), seed: int = 0,
                  progress: ProgressCallback | None = None, stop: StopSignal | None = None) -> Rendering:
    """``render`` with ``first`` for steps 1..``first_steps`` and ``then`` for the remaining steps.

    The second phase continues the same ``param`` with a fresh optimizer and no redirected ReLUs (the
    early steps they help are over); thresholds, history and progress count steps over the whole render.
    With ``first_steps`` at 0 or ``settings.steps`` it is one plain ``render``.
    """
    if first_steps <= 0 or first_steps >= settings.steps:
        objective = then if first_steps <= 0 else first
        return render(model, objective, param, transforms, settings, seed, progress, stop)
    total = settings.steps

    def phase(objective: Objective, start: int, steps: int, redirect: int) -> Rendering:
        kept = tuple(t - start for t in settings.thresholds if start < t <= start + steps)
        local = replace(settings, steps=steps, thresholds=kept, redirect_steps=redirect)

        def report(event: Progress) -> None:  # steps counted over the whole render
            scale = event.work_total / event.steps if event.steps else 0.0
            progress(replace(event, step=start + event.step, steps=total,
                             work_done=(start + event.step) * scale, work_total=total * scale))

        return render(model, objective, param, transforms, local, seed, report if progress else None, stop)

    early = phase(first, 0, first_steps, settings.redirect_steps)
    if early.stopped or stop_requested(stop):  # (render checks a stop on every step but its last)
        early.stopped = True
        return early
    late = phase(then, first_steps, total - first_steps, 0)
    images = {step: image for step, image in early.images.items() if step in settings.thresholds}
    images.update({first_steps + step: image for step, image in late.images.items()})
    return Rendering(images, early.history + late.history, late.stopped)
