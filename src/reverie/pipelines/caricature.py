"""Caricature pipeline: recipe -> photo, model, one caricature render per layer -> images (a sheet for several)."""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import ClassVar

import torch
from torch import nn

from reverie.engine.optimize import RenderSettings, render
from reverie.engine.progress import Progress, ProgressCallback, StopSignal
from reverie.errors import ReverieError
from reverie.fields import option
from reverie.imaging import Size, resize
from reverie.models import ModelSpec, model_on_device
from reverie.objectives.caricature import caricature as caricature_objective
from reverie.params import make_param
from reverie.pipelines.prepare import checked, fit_size, input_path, model_field, read_input, refuse_untrusted, source_text, replayable
from reverie.pipelines.result import ImageResult, Passes, stopped_recipe, tracker_for
from reverie.randomness import generator
from reverie.recipe import MAX_OPTIMISED_SIDE, Recipe, check_size
from reverie.robustness import TRANSFORM_SETS, Transform, canvas_views, compose, transforms_by_name

DEFAULT_LONG_SIDE = 224
MAX_RECIPE_LAYERS = 64
CARICATURE_SETTINGS = RenderSettings(steps=256)


@dataclass(frozen=True)
class CaricatureRecipe(Recipe):
    """A feature-inversion caricature of a photo at one or more layers (one image per layer)."""

    KIND: ClassVar[str] = "caricature"
    source: str = option("sample:chelsea", '"sample:NAME" or an image file path', flag=False, max_length=4096,
                         file="IMAGE")
    source_sha256: str | None = option(None, "of the input file's bytes, to notice a changed input on replay",
                                       flag=False, max_length=64)
    layers: tuple[str, ...] = option(("blocks.8",), "one image per layer, early to late", flag="--layer",
                                     short="-l", max_items=MAX_RECIPE_LAYERS, max_length=1000)
    # 0 (Lucid's default): the plain dot product, so the image grows what the photo shows, strongly; a
    # higher power ties it to the photo's direction and the result stays closer to the photo.
    power: float = option(0.0, "exponent of the cosine-similarity weight; higher stays closer to the photo",
                          low=0, high=8, absent=1.0)
    size: tuple[int, int] | None = option(None, "WIDTHxHEIGHT; default: the photo's aspect, long side 224", low=1)
    decay_power: float = option(1.0, "how fast the spectrum's scale falls with frequency", low=0, high=8)
    transforms: str = option("standard", "robustness transforms", choices=tuple(TRANSFORM_SETS))
    view: int = option(384, "a larger image is seen through views of this long side (px): the whole image shrunk, "
                            "and crops at finer zooms; bounds memory; 0: the whole image at full size",
                       low=0, high=4096, absent=0)
    settings: RenderSettings = option(default_factory=lambda: CARICATURE_SETTINGS, help="how it is optimised",
                                      flag=False)
    frames: int = option(1, "with several layers: this many frames morphing from the first layer's caricature "
                            "to the last's (each frame continues from the one before)", low=1, high=256)

    def __post_init__(self):
        check_size(self.size, "caricature", MAX_OPTIMISED_SIDE)  # first: its message beats the generic one
        super().__post_init__()
        if not self.layers or not all(self.layers):
            raise ReverieError(f"caricature layers must be 1 to {MAX_RECIPE_LAYERS} layer names, "
                               f"got {list(self.layers)[:4]}")
        if self.frames > 1 and len(self.layers) < 2:
            raise ReverieError("caricature frames morph between layers: give two or more --layer with --frames")


@dataclass(frozen=True)
class CaricatureResult(ImageResult):
    """Caricatures [N, 3, H, W] (one per layer), their labels (layer names), history and recipe."""


Caricature = CaricatureResult  # earlier name


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


def morph_plan(objectives: Sequence, layers: Sequence[str], frames: int) -> list[tuple[object, str]]:
    """(objective, label) of each image: one per layer, or with ``frames`` > 1 a morph through the layers.

    Frame k sits at position t = k (L - 1) / (frames - 1) along the L layers; between layers i and
    i + 1 its objective is (1 - f) caricature(i) + f caricature(i + 1), f = t - i (each caricature
    score is relative to the photo's own activation, so the two weigh alike).
    """
    if frames <= 1:
        return list(zip(objectives, layers))
    plan = []
    for k in range(frames):
        position = k * (len(layers) - 1) / (frames - 1)
        index = min(int(position), len(layers) - 2)
        share = position - index
        objective = objectives[index] if share == 0 else objectives[index + 1] if share == 1 \
            else (1 - share) * objectives[index] + share * objectives[index + 1]
        plan.append((objective, f"{layers[index]}>{layers[index + 1]} {share:.2f}"))
    return plan


@replayable
def run(recipe: CaricatureRecipe, *, progress: ProgressCallback | None = None, stop: StopSignal | None = None,
        device: str | torch.device = "auto", model: nn.Module | None = None, photo: torch.Tensor | None = None,
        check_hash: bool = False, recipe_folder: str | os.PathLike | None = None) -> CaricatureResult:
    """Render the recipe's caricatures: one image per layer, each maximising Lucid's caricature score.

    The photo, resized to the output size, rides in the batch behind the image and passes through
    the same robustness transforms, so activations are compared position by position (the result
    keeps the photo's layout). ``photo`` [1, 3, H, W] overrides the recipe's source.
    """
    refuse_untrusted(recipe.model, model)
    model, device = model_on_device(recipe.model, model, device)
    if photo is None:
        photo, digest = read_input(input_path(recipe, "source", "input image", recipe_folder), recipe.source_sha256, check_hash, recipe_folder)
        recipe = replace(recipe, source_sha256=digest)
    size = Size(*(recipe.size or fit_size(photo, DEFAULT_LONG_SIDE)))
    recipe = replace(recipe, size=tuple(size))
    reference = resize(photo, size.shape).to(device)
    # The photo rides in the batch through the same draw, so a view crops it exactly as the image.
    views = canvas_views(size.height, size.width, recipe.view)
    transform = same_draw_for_each_item(views + transforms_by_name(recipe.transforms))
    objectives = [checked(caricature_objective(name, recipe.power), model) for name in recipe.layers]
    plan = morph_plan(objectives, recipe.layers, recipe.frames)

    tracker = tracker_for(recipe, progress, stop)
    passes = Passes(tracker, len(plan), "layer" if recipe.frames == 1 else "frame")

    def report(event: Progress) -> None:
        passes(replace(event, _preview=lambda: event.preview()[:-1]))  # without the reference photo
    images, history = [], []
    param = None
    for index, (objective, _) in enumerate(plan):
        passes.index = index
        if param is None or recipe.frames == 1:  # a morph's frame continues from the one before: smooth
            param = make_param("fft", size.height, size.width, generator=generator(recipe.seed, "param", index),
                               decay_power=recipe.decay_power).to(device)
        rendering = render(model, objective, WithReference(param, reference), [transform], recipe.settings,
                           recipe.seed + index, report, stop=tracker)
        images.append(rendering.image[:-1].cpu())  # drop the reference
        history.extend(rendering.history)
        if tracker.stopped:
            break
    images_t = torch.cat(images)
    return CaricatureResult(stopped_recipe(recipe, tracker), tracker.stopped, images_t,
                            [label for _, label in plan[:images_t.shape[0]]], history)


def caricature(photo: str | os.PathLike | torch.Tensor | CaricatureRecipe | None = None, *,
               layers: tuple[str, ...] = ("blocks.8",), power: float = 0.0, size: tuple[int, int] | None = None,
               model: str | ModelSpec | nn.Module = "efficientnet-lite0",
               settings: RenderSettings = CARICATURE_SETTINGS, seed: int = 0, decay_power: float = 1.0,
               transforms: str = "standard", device: str | torch.device = "auto",
               progress: ProgressCallback | None = None, stop: StopSignal | None = None,
               frames: int = 1) -> CaricatureResult:
    """Caricatures of ``photo`` (a path, a sample name, or a [1, 3, H, W] tensor), one per layer, or
    with ``frames`` > 1 that many frames morphing through the layers.

    A :class:`CaricatureRecipe` as the first argument runs that recipe.
    """
    spec, module = model_field(model)
    if isinstance(photo, CaricatureRecipe):
        return run(photo, model=module, device=device, progress=progress, stop=stop)
    recipe = CaricatureRecipe(source=source_text(photo), model=spec, layers=tuple(layers), power=power, size=size,
                              decay_power=decay_power, transforms=transforms, settings=settings, seed=seed,
                              frames=frames)
    return run(recipe, model=module, photo=photo if torch.is_tensor(photo) else None, device=device,
               progress=progress, stop=stop)
