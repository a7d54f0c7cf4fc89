"""The interpolate task: frames that morph from one objective to another, optimised together with
parameters shared across frames so that neighbouring frames stay aligned."""
from __future__ import annotations

import inspect
from dataclasses import dataclass, replace
from typing import ClassVar

import torch
from torch import nn

from reverie.engine.optimize import RenderSettings, render
from reverie.engine.progress import ProgressCallback, StopSignal
from reverie.errors import ReverieError
from reverie.expressions import Call, Number, evaluate, parse
from reverie.fields import option
from reverie.imaging import Size
from reverie.models import ModelSpec, model_on_device
from reverie.objectives import FUNCTIONS, Objective, alignment
from reverie.params import make_param
from reverie.pipelines.prepare import checked, model_field, refuse_untrusted, replayable
from reverie.pipelines.result import ImageResult, stopped_recipe, tracker_for
from reverie.randomness import generator
from reverie.recipe import MAX_OPTIMISED_SIDE, Recipe, check_size
from reverie.robustness import TRANSFORM_SETS, transforms_by_name


@dataclass(frozen=True)
class InterpolateRecipe(Recipe):
    """Frames that morph from one objective to another, with aligned (shared) parameters."""

    KIND: ClassVar[str] = "interpolate"
    start: str = option("", "objective expression of the first frame", flag="--from", max_length=10_000)
    end: str = option("", "objective expression of the last frame", flag="--to", max_length=10_000)
    frames: int = option(12, "frames from start to end", low=2, high=256)
    alignment: float = option(1.0, "weight of the alignment term between neighbouring frames", low=0, high=1e6)
    decay_power: float = option(1.0, "how fast the spectrum's scale falls with frequency", low=0, high=8)
    size: tuple[int, int] = option((128, 128), "WIDTHxHEIGHT of each frame", low=1)
    transforms: str = option("standard", "robustness transforms", choices=tuple(TRANSFORM_SETS))
    settings: RenderSettings = option(default_factory=RenderSettings, help="how the frames are optimised", flag=False)
    gif_delay: int | None = option(None, "GIF frame delay in hundredths of a second, as convert -delay 7 "
                                         "(no frame depends on it); empty: from --fps", low=2, high=65535,
                                   flag="--delay")

    def __post_init__(self):
        check_size(self.size, "interpolate", MAX_OPTIMISED_SIDE)  # first: its message beats the generic one
        super().__post_init__()


@dataclass(frozen=True)
class InterpolateResult(ImageResult):
    """Morphing frames [N, 3, H, W], the score history and the recipe."""


def for_batch(text: str, index: int) -> Objective:
    """Parse objective text with every call aimed at batch item ``index`` (adds ``batch=index``)."""
    def aim(node):
        if isinstance(node, Call):
            kwargs = tuple((k, aim(v)) for k, v in node.kwargs if k != "batch")
            args = tuple(aim(a) for a in node.args)
            if node.name in FUNCTIONS and _takes_batch(node.name):
                kwargs += (("batch", Number(index)),)
            return replace(node, args=args, kwargs=kwargs)
        for attribute in ("left", "right", "operand"):
            if hasattr(node, attribute):
                node = replace(node, **{attribute: aim(getattr(node, attribute))})
        return node
    value = evaluate(aim(parse(text)), FUNCTIONS)
    if not isinstance(value, Objective):
        raise ReverieError(f"objective {text!r} is not an objective")
    return value


def _takes_batch(name: str) -> bool:
    try:
        return "batch" in inspect.signature(FUNCTIONS[name]).parameters
    except (TypeError, ValueError):
        return False


@replayable
def run(recipe: InterpolateRecipe, *, progress: ProgressCallback | None = None, stop: StopSignal | None = None,
        device: str | torch.device = "auto", model: nn.Module | None = None) -> InterpolateResult:
    """Frames morphing from ``start`` to ``end``: frame i maximises (1-t) start + t end, with
    parameters shared across frames so that neighbouring frames stay aligned."""
    refuse_untrusted(recipe.model, model)
    model, device = model_on_device(recipe.model, model, device)
    objective = None
    for index in range(recipe.frames):
        t = index / (recipe.frames - 1)
        term = (1 - t) * for_batch(recipe.start, index) + t * for_batch(recipe.end, index)
        objective = term if objective is None else objective + term
    if recipe.alignment > 0:
        # Neighbouring frames should agree where their objectives allow, so the sequence morphs.
        for name in objective.layers:
            if not name.startswith("@"):
                objective = objective + recipe.alignment * alignment(name)
    checked(objective, model)
    size = Size(*recipe.size)
    param = make_param("interpolation", size.height, size.width, batch=recipe.frames, decay_power=recipe.decay_power,
                       generator=generator(recipe.seed, "param", "aligned")).to(device)
    tracker = tracker_for(recipe, progress, stop)
    rendering = render(model, objective, param, transforms_by_name(recipe.transforms), recipe.settings, recipe.seed,
                       tracker, stop=tracker)
    return InterpolateResult(stopped_recipe(recipe, tracker), tracker.stopped, rendering.image.cpu(),
                             [str(i) for i in range(recipe.frames)], rendering.history)


def interpolate(start: str | InterpolateRecipe, end: str = "", *, frames: int = 12,
                model: str | ModelSpec | nn.Module = "efficientnet-lite0", size: tuple[int, int] = (128, 128),
                settings: RenderSettings = RenderSettings(), seed: int = 0, alignment: float = 1.0,
                decay_power: float = 1.0, transforms: str = "standard", device: str | torch.device = "auto",
                progress: ProgressCallback | None = None, stop: StopSignal | None = None) -> InterpolateResult:
    """Frames morphing from objective text ``start`` to ``end`` (an :class:`InterpolateRecipe` runs as is)."""
    spec, module = model_field(model)
    recipe = start if isinstance(start, InterpolateRecipe) else InterpolateRecipe(
        model=spec, start=start, end=end, frames=frames, alignment=alignment, decay_power=decay_power, size=size,
        transforms=transforms, settings=settings, seed=seed)
    return run(recipe, model=module, device=device, progress=progress, stop=stop)
