"""Caricature pipeline: recipe -> photo, model, one caricature render per layer -> images (a sheet for several)."""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from PIL import Image
from torch import nn

from reverie.engine.optimize import Transform, render
from reverie.robustness import compose
from reverie.engine.progress import ProgressCallback
from reverie.errors import ReverieError
from reverie.imaging import grid, resize, sample, to_pil
from reverie.io.images import file_sha256, read_image, save_image
from reverie.models import ModelSpec, layer_shapes, model_on_device
from reverie.objectives.caricature import caricature as caricature_objective
from reverie.randomness import generator
from reverie.recipe import CaricatureRecipe

DEFAULT_LONG_SIDE = 224


@dataclass(frozen=True)
class Caricature:
    """Caricatures [N, 3, H, W] (one per layer), their labels (layer names), history and recipe."""

    images: torch.Tensor
    labels: list[str]
    history: list[float]
    recipe: CaricatureRecipe

    def picture(self) -> Image.Image:
        """One image as is; several as a contact sheet labelled with their layers."""
        return to_pil(self.images) if self.images.shape[0] == 1 else grid(self.images, labels=self.labels)

    def save(self, path: str | os.PathLike) -> Path:
        return save_image(path, self.picture(), self.recipe.to_json())


# --- helpers shared with the style pipeline -------------------------------------------------------

def load_picture(source: str, expected_sha256: str | None, check_hash: bool,
                 recipe_folder: str | os.PathLike | None = None) -> tuple[torch.Tensor, str | None]:
    """The image [1, 3, H, W] a recipe names ("sample:NAME" or a path) and its file's sha256."""
    if source.startswith("sample:"):
        return sample(source.removeprefix("sample:")), None
    from reverie.pipelines.dream import locate_source

    path = locate_source(source, recipe_folder)
    image = read_image(path)
    digest = file_sha256(path)
    if check_hash and expected_sha256 and digest != expected_sha256:
        raise ReverieError(f"input {source} differs from the file the recipe was made from (sha256 mismatch); "
                           "pass the original image")
    return image, digest


def fit_size(image: torch.Tensor, long_side: int) -> tuple[int, int]:
    """(width, height) with ``image``'s aspect ratio and the given long side."""
    height, width = image.shape[-2:]
    scale = long_side / max(height, width)
    return max(1, round(width * scale)), max(1, round(height * scale))


def model_and_device(recipe, model: nn.Module | None, device) -> tuple[nn.Module, torch.device]:
    """The recipe's model (or the caller's) and the device to put data on."""
    return model_on_device(ModelSpec(recipe.model, recipe.weights, recipe.normalize), model, device)


# --- caricature -----------------------------------------------------------------------------------

class WithReference(nn.Module):
    """An image parameterization whose output carries a fixed reference image as its last batch item."""

    def __init__(self, param: nn.Module, reference: torch.Tensor):
        super().__init__()
        self.param = param
        self.register_buffer("reference", reference, persistent=False)

    def forward(self) -> torch.Tensor:
        image = self.param()  # [B, 3, H, W]
        return torch.cat([image, self.reference.to(image)])  # [B + 1, 3, H, W]


def same_draw_for_each_item(transforms: Sequence[Transform]) -> Transform:
    """Apply ``transforms`` to every batch item with the same random draw, so items stay aligned.

    The generator's state is rewound before each item; afterwards it is where one item's draw left it.
    """
    transform = compose(transforms)

    def apply(image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        state = generator.get_state()
        items = []
        for item in image.split(1):  # [B, C, H, W] -> B x [1, C, H, W]
            generator.set_state(state)
            items.append(transform(item, generator))
        return torch.cat(items)
    return apply


def caricature(recipe: CaricatureRecipe, *, model: nn.Module | None = None, photo: torch.Tensor | None = None,
               device: str | torch.device = "auto", progress: ProgressCallback | None = None,
               check_hash: bool = False, recipe_folder: str | os.PathLike | None = None) -> Caricature:
    """Render the recipe's caricatures: one image per layer, each maximising Lucid's caricature score.

    The photo, resized to the output size, rides in the batch behind the image and passes through
    the same robustness transforms, so activations are compared position by position (the result
    keeps the photo's layout). ``photo`` [1, 3, H, W] overrides the recipe's source.
    """
    from reverie.params import make_param
    from reverie.robustness import transforms_by_name

    model, device = model_and_device(recipe, model, device)
    if photo is None:
        photo, digest = load_picture(recipe.source, recipe.source_sha256, check_hash, recipe_folder)
        recipe = replace(recipe, source_sha256=digest)
    size = recipe.size or fit_size(photo, DEFAULT_LONG_SIDE)
    recipe = replace(recipe, size=size)
    width, height = size
    reference = resize(photo, (height, width)).to(device)
    transform = same_draw_for_each_item(transforms_by_name(recipe.transforms))
    objectives = [caricature_objective(name, recipe.power) for name in recipe.layers]
    for objective in objectives:  # names checked on a small probe before any long work
        objective.check(layer_shapes(model, objective.layers))

    images, history = [], []
    for index, objective in enumerate(objectives):
        param = make_param("fft", height, width, generator=generator(recipe.seed, "param", index),
                           decay_power=recipe.decay_power).to(device)
        tracker = _progress_for(progress, index, len(objectives))
        rendering = render(model, objective, WithReference(param, reference), [transform], recipe.settings,
                           recipe.seed + index, tracker)
        images.append(rendering.image[:-1].cpu())  # drop the reference
        history.extend(rendering.history)
    return Caricature(torch.cat(images), list(recipe.layers), history, recipe)


def _progress_for(progress: ProgressCallback | None, index: int, count: int) -> ProgressCallback | None:
    """Progress of render ``index`` of ``count``, reported as one bar."""
    if progress is None:
        return None

    def callback(event):
        stage = f"layer {index + 1}/{count}" if count > 1 else event.stage
        progress(replace(event, stage=stage, work_done=index * event.work_total + event.work_done,
                         work_total=count * event.work_total, _preview=lambda: event.preview()[:1]))
    return callback
