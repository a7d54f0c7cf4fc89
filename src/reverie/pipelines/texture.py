"""Mesh textures: recipe -> mesh, model, objective, textured-mesh param -> render loop -> UV texture."""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn

from reverie.engine.optimize import render
from reverie.engine.progress import Progress, ProgressCallback
from reverie.errors import ReverieError
from reverie.io.images import file_sha256, save_image
from reverie.mesh import Mesh, TexturedMeshParam, load_mesh, turntable
from reverie.models import ModelSpec, layer_shapes, model_on_device
from reverie.objectives import Objective, parse_objective
from reverie.objectives.style import StyleObjective, style_targets
from reverie.params import FourierParam
from reverie.randomness import generator
from reverie.recipe import TextureRecipe


@dataclass(frozen=True)
class Texturing:
    """The optimised texture [1, 3, H, W] in [0, 1], the mesh it fits, the objective's history and the recipe."""

    texture: torch.Tensor
    mesh: Mesh
    history: list[float]
    recipe: TextureRecipe

    def save(self, path: str | os.PathLike) -> Path:
        """Write the texture image with its recipe embedded."""
        return save_image(path, self.texture, self.recipe.to_json())

    def turntable(self, frames: int = 24, size: int | None = None) -> torch.Tensor:
        """[frames, 3, size, size] views of the textured mesh turning once (size: the render size)."""
        return turntable(self.mesh, self.texture, frames, size or self.recipe.render_size)


def load_recipe_mesh(recipe: TextureRecipe, check_hash: bool = False) -> tuple[Mesh, str]:
    """The recipe's mesh and its file's sha256; with ``check_hash`` a changed file is an error."""
    if not recipe.mesh:
        raise ReverieError("no mesh given: pass a mesh file with UVs (e.g. model.obj)")
    mesh = load_mesh(recipe.mesh)
    digest = file_sha256(recipe.mesh)
    if check_hash and recipe.mesh_sha256 and digest != recipe.mesh_sha256:
        raise ReverieError(f"mesh {recipe.mesh} differs from the file the recipe was made from (sha256 mismatch); "
                           "pass the original mesh")
    return mesh, digest


def texture_objective(recipe: TextureRecipe, model: nn.Module, device: torch.device,
                      check_hash: bool = False) -> tuple[Objective, TextureRecipe]:
    """The recipe's objective text plus, with a style image, ``style_weight`` times its Gram-matrix match."""
    objective: Objective | None = None
    if recipe.objective.strip():
        objective = parse_objective(recipe.objective)
        objective.check(layer_shapes(model, objective.layers))
    if recipe.style:
        from reverie.imaging import resize
        from reverie.pipelines.caricature import fit_size, load_picture
        from reverie.pipelines.style import record

        picture, digest = load_picture(recipe.style, recipe.style_sha256, check_hash)
        recipe = replace(recipe, style_sha256=digest)
        width, height = fit_size(picture, recipe.render_size)  # the style at the scale the model sees the mesh
        layer_shapes(model, recipe.style_layers)  # unknown names fail here, with the nearest valid ones
        picture = resize(picture, (height, width)).to(device)
        style = recipe.style_weight * StyleObjective(style_targets(record(model, picture, recipe.style_layers),
                                                                   recipe.style_layers))
        objective = style if objective is None else objective + style
    if objective is None:
        raise ReverieError("nothing to optimise: give --objective or --style")
    return objective, recipe


def texture(recipe: TextureRecipe, *, model: nn.Module | None = None, device: str | torch.device = "auto",
            progress: ProgressCallback | None = None, check_hash: bool = False) -> Texturing:
    """Optimise a UV texture for the recipe's mesh so renders from random viewpoints maximise its objective.

    The mesh is read (and its UVs checked) before the model is loaded, so a bad mesh fails fast.
    """
    from reverie.robustness import transforms_by_name

    mesh, digest = load_recipe_mesh(recipe, check_hash)
    recipe = replace(recipe, mesh_sha256=digest)
    model, device = model_on_device(ModelSpec(recipe.model, recipe.weights, recipe.normalize), model, device)
    objective, recipe = texture_objective(recipe, model, device, check_hash)

    width, height = recipe.size
    texture_param = FourierParam(height, width, decay_power=recipe.decay_power,
                                 generator=generator(recipe.seed, "texture"), device=device)
    param = TexturedMeshParam(mesh, texture_param, recipe.render_size, recipe.views,
                              generator=generator(recipe.seed, "views"))

    def texture_now() -> torch.Tensor:
        with torch.no_grad():
            return texture_param().detach().cpu()

    def report(event: Progress) -> None:
        # The preview of a texture job is the texture itself (and never draws random views).
        if progress is not None:
            progress(replace(event, _preview=texture_now))

    rendering = render(model, objective, param, transforms_by_name(recipe.transforms), recipe.settings,
                       recipe.seed, report)
    return Texturing(texture_now(), mesh, rendering.history, recipe)
