"""Mesh textures: recipe -> mesh, model, objective, textured-mesh param -> render loop -> UV texture."""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import ClassVar

import torch
from torch import nn

from reverie.engine.optimize import RenderSettings, render
from reverie.engine.progress import Progress, ProgressCallback, StopSignal
from reverie.errors import ReverieError
from reverie.fields import option
from reverie.imaging import Size, resize
from reverie.mesh import Mesh, TexturedMeshParam, load_mesh
from reverie.mesh.shapes import sample_mesh
from reverie.models import ModelSpec, layer_shapes, model_on_device
from reverie.objectives import Objective, parse_objective
from reverie.objectives.style import StyleObjective, style_targets
from reverie.params import FourierParam
from reverie.pipelines.prepare import (
    STYLE_LAYERS,
    check_unchanged,
    checked,
    fit_size,
    input_path,
    live_name,
    model_field,
    read_input,
    record,
    refuse_untrusted,
    text_of,
    replayable,
)
from reverie.pipelines.result import TextureResult, stopped_recipe, tracker_for
from reverie.randomness import generator
from reverie.recipe import MAX_BATCH, MAX_OPTIMISED_SIDE, Recipe, check_size
from reverie.robustness import TRANSFORM_SETS, transforms_by_name


@dataclass(frozen=True)
class TextureRecipe(Recipe):
    """Everything needed to replay a mesh texture: a UV texture optimised so that renders of the
    textured mesh from random viewpoints maximise an objective."""

    KIND: ClassVar[str] = "texture"
    mesh: str = option("", "the mesh file (OBJ or anything trimesh reads), with UVs, or sample:torus/sphere/cube", flag=False, max_length=4096,
                       file="MESH")
    mesh_sha256: str | None = option(None, "of the mesh file's bytes, to notice a changed mesh on replay",
                                     flag=False, max_length=64)
    # bold, large-scale stripes on EfficientNet-Lite0 (chosen by looking)
    objective: str = option("channel(blocks.6, 12)", "objective expression", max_length=10_000)
    style: str | None = option(None, 'a style image ("sample:NAME" or a path): match its Gram matrices',
                               max_length=4096, file="--style")
    style_sha256: str | None = option(None, "of the style file's bytes", flag=False, max_length=64)
    style_layers: tuple[str, ...] = option(STYLE_LAYERS, "layers whose Gram matrices carry the style",
                                           max_items=64, max_length=1000)
    style_weight: float = option(1.0, "weight of the style term (a score in [-1, 0]) against the objective",
                                 low=0, high=1e6)
    size: tuple[int, int] = option((256, 256), "WIDTHxHEIGHT of the texture", low=1)
    render_size: int = option(160, "side in px of each rendered view the model sees", low=16, high=1024)
    views: int = option(2, "random viewpoints rendered (as one batch) per step", low=1, high=MAX_BATCH)
    decay_power: float = option(1.0, "the texture's FFT spectrum decay", low=0, high=8)
    transforms: str = option("standard", "robustness transforms on each view", choices=tuple(TRANSFORM_SETS))
    settings: RenderSettings = option(default_factory=lambda: RenderSettings(steps=256),
                                      help="how the texture is optimised", flag=False)

    def __post_init__(self):
        check_size(self.size, "texture", MAX_OPTIMISED_SIDE)  # first: its message beats the generic one
        super().__post_init__()


Texturing = TextureResult  # earlier name


def load_recipe_mesh(recipe: TextureRecipe, check_hash: bool = False,
                     recipe_folder: str | os.PathLike | None = None) -> tuple[Mesh, str | None]:
    """The recipe's mesh and its file's sha256 (None for a bundled ``sample:NAME`` mesh); with
    ``check_hash`` a changed file is an error."""
    if not recipe.mesh:
        raise ReverieError("no mesh given: pass a mesh file with UVs (e.g. model.obj), or sample:torus, "
                           "sample:sphere or sample:cube")
    if recipe.mesh.startswith("sample:"):
        return sample_mesh(recipe.mesh.removeprefix("sample:")), None
    path = input_path(recipe, "mesh", "mesh", recipe_folder)
    mesh = load_mesh(path)
    return mesh, check_unchanged(path, recipe.mesh_sha256, check_hash, "mesh", recipe.mesh)


def texture_objective(recipe: TextureRecipe, model: nn.Module, device: torch.device, check_hash: bool = False,
                      objective: Objective | None = None,
                      recipe_folder: str | os.PathLike | None = None) -> tuple[Objective, TextureRecipe]:
    """The objective (live, or the recipe's text) plus, with a style image, ``style_weight`` times its
    Gram-matrix match."""
    if objective is None and recipe.objective.strip():
        objective = parse_objective(recipe.objective)
    if objective is not None:
        checked(objective, model)
    if recipe.style:
        picture, digest = read_input(input_path(recipe, "style", "style image", recipe_folder), recipe.style_sha256, check_hash, recipe_folder, "style")
        recipe = replace(recipe, style_sha256=digest)
        shape = fit_size(picture, recipe.render_size).shape  # the style at the scale the model sees the mesh
        layer_shapes(model, recipe.style_layers)  # unknown names fail here, with the nearest valid ones
        picture = resize(picture, shape).to(device)
        style = recipe.style_weight * StyleObjective(style_targets(record(model, picture, recipe.style_layers),
                                                                   recipe.style_layers))
        objective = style if objective is None else objective + style
    if objective is None:
        raise ReverieError("nothing to optimise: give --objective or --style")
    return objective, recipe


@replayable
def run(recipe: TextureRecipe, *, progress: ProgressCallback | None = None, stop: StopSignal | None = None,
        device: str | torch.device = "auto", model: nn.Module | None = None, objective: Objective | None = None,
        check_hash: bool = False, recipe_folder: str | os.PathLike | None = None,
        snapshots: int = 0) -> TextureResult:
    """Optimise a UV texture for the recipe's mesh so renders from random viewpoints maximise its objective.

    The mesh is read (and its UVs checked) before the model is loaded, so a bad mesh fails fast.
    ``objective``: a live Objective that replaces the recipe's text. ``snapshots``: keep the texture
    at that many evenly spaced steps, from the start to the last (``result.snapshots``, for
    ``result.growing()``: the texture evolving on the turning mesh).
    """
    refuse_untrusted(recipe.model, model)
    mesh, digest = load_recipe_mesh(recipe, check_hash, recipe_folder)
    recipe = replace(recipe, mesh_sha256=digest)
    model, device = model_on_device(recipe.model, model, device)
    if objective is not None:
        recipe = replace(recipe, objective=text_of(objective) or live_name(objective))
    objective, recipe = texture_objective(recipe, model, device, check_hash, objective, recipe_folder)

    size = Size(*recipe.size)
    texture_param = FourierParam(size.height, size.width, decay_power=recipe.decay_power,
                                 generator=generator(recipe.seed, "texture"), device=device)
    param = TexturedMeshParam(mesh, texture_param, recipe.render_size, recipe.views,
                              generator=generator(recipe.seed, "views"))

    def texture_now() -> torch.Tensor:
        with torch.no_grad():
            return texture_param().detach().cpu()

    tracker = tracker_for(recipe, progress, stop)
    steps = recipe.settings.steps
    wanted = {round(k * steps / (snapshots - 1)) for k in range(snapshots)} if snapshots > 1 else set()
    kept = [texture_now()] if 0 in wanted else []

    def report(event: Progress) -> None:
        if event.step in wanted:
            kept.append(texture_now())
        # The preview of a texture job is the texture itself (and never draws random views).
        tracker(replace(event, _preview=texture_now))

    rendering = render(model, objective, param, transforms_by_name(recipe.transforms), recipe.settings,
                       recipe.seed, report, stop=tracker)
    return TextureResult(stopped_recipe(recipe, tracker), tracker.stopped, texture_now(), mesh, rendering.history,
                         tuple(kept))


def texture(mesh: str | os.PathLike | TextureRecipe, *, objective: str | Objective = "channel(blocks.6, 12)",
            style: str | None = None, style_weight: float = 1.0,
            model: str | ModelSpec | nn.Module = "efficientnet-lite0", size: tuple[int, int] = (256, 256),
            render_size: int = 160, views: int = 2, settings: RenderSettings = RenderSettings(steps=256),
            seed: int = 0, transforms: str = "standard", device: str | torch.device = "auto",
            progress: ProgressCallback | None = None, stop: StopSignal | None = None) -> TextureResult:
    """Optimise a texture for ``mesh`` (a file with UVs) toward ``objective`` (text or a live Objective).

    A :class:`TextureRecipe` as the first argument runs that recipe.
    """
    spec, module = model_field(model)
    if isinstance(mesh, TextureRecipe):
        return run(mesh, model=module, device=device, progress=progress, stop=stop)
    recipe = TextureRecipe(model=spec, mesh=str(mesh), objective=objective if isinstance(objective, str) else "",
                           style=style, style_weight=style_weight, size=size, render_size=render_size, views=views,
                           settings=settings, seed=seed, transforms=transforms)
    return run(recipe, model=module, objective=objective if isinstance(objective, Objective) else None,
               device=device, progress=progress, stop=stop)
