"""Style transfer pipeline: recipe -> content and style photos, targets, Fourier image -> render loop -> image."""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import ClassVar

import torch
from torch import nn

from reverie.engine.optimize import RenderSettings, render
from reverie.engine.progress import ProgressCallback, StopSignal
from reverie.errors import ReverieError
from reverie.fields import option
from reverie.imaging import Size, resize
from reverie.models import ModelSpec, layer_shapes, model_on_device
from reverie.objectives.base import Objective
from reverie.objectives.style import ContentObjective, StyleObjective, style_targets
from reverie.params import FourierParam
from reverie.pipelines.prepare import (
    STYLE_LAYERS,
    fit_size,
    input_path,
    model_field,
    read_input,
    record,
    refuse_untrusted,
    source_text,
    replayable,
)
from reverie.pipelines.result import ImageResult, stopped_recipe, tracker_for
from reverie.randomness import generator
from reverie.recipe import MAX_OPTIMISED_SIDE, Recipe, check_size
from reverie.robustness import TRANSFORM_SETS, transforms_by_name

DEFAULT_LONG_SIDE = 256
STYLE_SETTINGS = RenderSettings(steps=150, redirect_steps=0)  # starts from the photo: no dead ReLUs to revive
MAX_RECIPE_LAYERS = 64


@dataclass(frozen=True)
class StyleRecipe(Recipe):
    """Style transfer: the style image's Gram matrices at ``style_layers`` plus the content photo's
    activations at ``content_layers``, optimised in the decorrelated Fourier parameterization."""

    KIND: ClassVar[str] = "style"
    content: str = option("sample:chelsea", '"sample:NAME" or an image file path', flag=False, max_length=4096,
                          file="CONTENT")
    content_sha256: str | None = option(None, "of the content file's bytes", flag=False, max_length=64)
    style: str = option("sample:coffee", '"sample:NAME" or an image file path', flag=False, max_length=4096,
                        file="STYLE")
    style_sha256: str | None = option(None, "of the style file's bytes", flag=False, max_length=64)
    content_layers: tuple[str, ...] = option(("blocks.9",), "layers whose activations keep the content's layout",
                                             max_items=MAX_RECIPE_LAYERS, max_length=1000)
    style_layers: tuple[str, ...] = option(STYLE_LAYERS, "layers whose Gram matrices carry the style",
                                           max_items=MAX_RECIPE_LAYERS, max_length=1000)
    # EfficientNet-Lite0, chelsea + coffee: 10 paints the cat's fur with the coffee's swirls and keeps
    # the face; 100 looks much the same.
    style_weight: float = option(10.0, "weight of the style term", low=0, high=1e6)
    content_weight: float = option(1.0, "weight of the content term", low=0, high=1e6)
    init: str = option("content", "where the image starts", choices=("content", "noise"), flag=False)
    size: tuple[int, int] | None = option(None, "WIDTHxHEIGHT; default: the content's aspect, long side 256", low=1)
    style_scale: float = option(1.0, "the style image's long side, relative to the output's", low=0.1, high=4)
    decay_power: float = option(1.0, "how fast the spectrum's scale falls with frequency", low=0, high=8)
    transforms: str = option("none", "robustness transforms", choices=tuple(TRANSFORM_SETS))
    settings: RenderSettings = option(default_factory=lambda: STYLE_SETTINGS, help="how it is optimised",
                                      flag=False)

    def __post_init__(self):
        check_size(self.size, "style", MAX_OPTIMISED_SIDE)  # first: its message beats the generic one
        super().__post_init__()
        if not self.style_layers or not all(self.style_layers) or not all(self.content_layers):
            raise ReverieError(f"style layers must be 1 to {MAX_RECIPE_LAYERS} layer names, "
                               f"got {list(self.style_layers)[:4]}")


@dataclass(frozen=True)
class StyleResult(ImageResult):
    """The stylised image [1, 3, H, W], the objective's history and the recipe that replays it."""


Stylized = StyleResult  # earlier name


def style_objective(model: nn.Module, content: torch.Tensor, style: torch.Tensor, recipe: StyleRecipe) -> Objective:
    """``style_weight * style + content_weight * content`` for these photos (content already at the output size)."""
    layers = tuple(dict.fromkeys(recipe.style_layers + recipe.content_layers))
    layer_shapes(model, layers)  # unknown names fail here, with the nearest valid ones
    objective: Objective = recipe.style_weight * StyleObjective(style_targets(record(model, style, recipe.style_layers),
                                                                              recipe.style_layers))
    if recipe.content_layers and recipe.content_weight > 0:
        targets = record(model, content, recipe.content_layers)
        for name in recipe.content_layers:
            objective = objective + recipe.content_weight / len(recipe.content_layers) * \
                ContentObjective(name, targets[name])
    return objective


@replayable
def run(recipe: StyleRecipe, *, progress: ProgressCallback | None = None, stop: StopSignal | None = None,
        device: str | torch.device = "auto", model: nn.Module | None = None, content: torch.Tensor | None = None,
        style: torch.Tensor | None = None, check_hash: bool = False,
        recipe_folder: str | os.PathLike | None = None) -> StyleResult:
    """Render the recipe: an image with the content photo's layout and the style image's textures.

    The image lives in the decorrelated Fourier parameterization, which is what makes Gram-matrix
    style transfer work on networks other than VGG; it starts from the content photo (or from
    noise) and, by default, sees no robustness transforms. ``content``/``style`` [1, 3, H, W]
    replace the recipe's files.
    """
    refuse_untrusted(recipe.model, model)
    model, device = model_on_device(recipe.model, model, device)
    if content is None:
        content, digest = read_input(input_path(recipe, "content", "content image", recipe_folder), recipe.content_sha256, check_hash, recipe_folder, "content")
        recipe = replace(recipe, content_sha256=digest)
    if style is None:
        style, digest = read_input(input_path(recipe, "style", "style image", recipe_folder), recipe.style_sha256, check_hash, recipe_folder, "style")
        recipe = replace(recipe, style_sha256=digest)
    size = Size(*(recipe.size or fit_size(content, DEFAULT_LONG_SIDE)))
    recipe = replace(recipe, size=tuple(size))
    content = resize(content, size.shape).to(device)
    style = resize(style, fit_size(style, max(8, round(max(size) * recipe.style_scale))).shape).to(device)

    objective = style_objective(model, content, style, recipe)
    param = FourierParam(size.height, size.width, decay_power=recipe.decay_power,
                         generator=generator(recipe.seed, "param"),
                         init=content.cpu() if recipe.init == "content" else None).to(device)
    tracker = tracker_for(recipe, progress, stop)
    rendering = render(model, objective, param, transforms_by_name(recipe.transforms), recipe.settings, recipe.seed,
                       tracker, stop=tracker)
    return StyleResult(stopped_recipe(recipe, tracker), tracker.stopped, rendering.image.cpu(), [],
                       rendering.history)


def style(content: str | os.PathLike | torch.Tensor | StyleRecipe = "chelsea",
          style: str | os.PathLike | torch.Tensor = "coffee", *,
          model: str | ModelSpec | nn.Module = "efficientnet-lite0", size: tuple[int, int] | None = None,
          style_weight: float = 10.0, content_weight: float = 1.0, style_layers: tuple[str, ...] = STYLE_LAYERS,
          content_layers: tuple[str, ...] = ("blocks.9",), init: str = "content", style_scale: float = 1.0,
          settings: RenderSettings = STYLE_SETTINGS, seed: int = 0, transforms: str = "none",
          device: str | torch.device = "auto", progress: ProgressCallback | None = None,
          stop: StopSignal | None = None) -> StyleResult:
    """Paint ``content`` with the textures of ``style`` (each a path, a sample name or a [1, 3, H, W] tensor).

    A :class:`StyleRecipe` as the first argument runs that recipe.
    """
    spec, module = model_field(model)
    if isinstance(content, StyleRecipe):
        return run(content, model=module, device=device, progress=progress, stop=stop)
    recipe = StyleRecipe(model=spec, content=source_text(content), style=source_text(style), size=size,
                         style_weight=style_weight, content_weight=content_weight, style_layers=tuple(style_layers),
                         content_layers=tuple(content_layers), init=init, style_scale=style_scale,
                         settings=settings, seed=seed, transforms=transforms)
    return run(recipe, model=module, content=content if torch.is_tensor(content) else None,
               style=style if torch.is_tensor(style) else None, device=device, progress=progress, stop=stop)


def style_transfer(recipe: StyleRecipe, **options) -> StyleResult:
    """Run a :class:`StyleRecipe` (the earlier entry point; see :func:`style` and :func:`run`)."""
    return run(recipe, **options)
