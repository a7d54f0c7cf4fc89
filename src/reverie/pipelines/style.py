"""Style transfer pipeline: recipe -> content and style photos, targets, Fourier image -> render loop -> image."""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from PIL import Image
from torch import nn

from reverie.engine.optimize import render
from reverie.engine.progress import ProgressCallback
from reverie.imaging import resize, to_pil
from reverie.io.images import save_image
from reverie.models import layer_shapes
from reverie.objectives.base import Objective
from reverie.objectives.style import ContentObjective, StyleObjective, style_targets
from reverie.pipelines.caricature import fit_size, load_picture, model_and_device
from reverie.randomness import generator
from reverie.recipe import StyleRecipe
from reverie.recorder import ActivationRecorder

DEFAULT_LONG_SIDE = 256


@dataclass(frozen=True)
class Stylized:
    """The stylised image [1, 3, H, W], the objective's history and the recipe that replays it."""

    image: torch.Tensor
    history: list[float]
    recipe: StyleRecipe

    def picture(self) -> Image.Image:
        return to_pil(self.image)

    def save(self, path: str | os.PathLike) -> Path:
        return save_image(path, self.picture(), self.recipe.to_json())


def record(model: nn.Module, image: torch.Tensor, layers) -> dict[str, torch.Tensor]:
    """The activations of ``layers`` for ``image``, without gradients."""
    with torch.no_grad(), ActivationRecorder(model, tuple(layers)) as recorder:
        activations = recorder(image)
        return {name: activations[name].detach() for name in layers}


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


def style_transfer(recipe: StyleRecipe, *, model: nn.Module | None = None, device: str | torch.device = "auto",
                   progress: ProgressCallback | None = None, check_hash: bool = False,
                   recipe_folder: str | os.PathLike | None = None) -> Stylized:
    """Render the recipe: an image with the content photo's layout and the style image's textures.

    The image lives in the decorrelated Fourier parameterization, which is what makes Gram-matrix
    style transfer work on networks other than VGG; it starts from the content photo (or from
    noise) and, by default, sees no robustness transforms.
    """
    from reverie.params import FourierParam
    from reverie.robustness import transforms_by_name

    model, device = model_and_device(recipe, model, device)
    content, content_digest = load_picture(recipe.content, recipe.content_sha256, check_hash, recipe_folder)
    style, style_digest = load_picture(recipe.style, recipe.style_sha256, check_hash, recipe_folder)
    size = recipe.size or fit_size(content, DEFAULT_LONG_SIDE)
    recipe = replace(recipe, size=size, content_sha256=content_digest, style_sha256=style_digest)
    width, height = size
    content = resize(content, (height, width)).to(device)
    style_width, style_height = fit_size(style, max(8, round(max(size) * recipe.style_scale)))
    style = resize(style, (style_height, style_width)).to(device)

    objective = style_objective(model, content, style, recipe)
    param = FourierParam(height, width, decay_power=recipe.decay_power, generator=generator(recipe.seed, "param"),
                         init=content.cpu() if recipe.init == "content" else None).to(device)
    rendering = render(model, objective, param, transforms_by_name(recipe.transforms), recipe.settings, recipe.seed,
                       progress)
    return Stylized(rendering.image.cpu(), rendering.history, recipe)
