"""``reverie texture``: optimise a UV texture so renders of a mesh maximise an objective."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from reverie.cli.common import (DeviceOption, ModelOption, NormalizeOption, QuietOption, RecipeOption, WeightsOption,
                                load_recipe, model_changes, parse_size, refuse_code_models)
from reverie.cli.visualize import DecayOption, LrOption, OptimizerOption, SeedOption, TransformsOption
from reverie.errors import ReverieError
from reverie.version import __version__

stderr = Console(stderr=True)


def texture(
    mesh: Annotated[Optional[Path], typer.Argument(help="Mesh file with UVs (OBJ, PLY, GLB...).", show_default=False)] = None,
    objective: Annotated[Optional[str], typer.Option(help='Objective expression. [default: "channel(blocks.6, 12)"]', show_default=False)] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Output texture image (PNG keeps the recipe).")] = Path("texture.png"),
    views: Annotated[Optional[int], typer.Option(help="Random viewpoints rendered per step. [default: 2]", show_default=False)] = None,
    size: Annotated[Optional[str], typer.Option(help="Texture WIDTHxHEIGHT. [default: 256x256]", show_default=False)] = None,
    render_size: Annotated[Optional[int], typer.Option(help="Side in px of each rendered view. [default: 160]", show_default=False)] = None,
    steps: Annotated[Optional[int], typer.Option(help="Optimisation steps. [default: 256]", show_default=False)] = None,
    style: Annotated[Optional[str], typer.Option(help="Style image (a path or sample:NAME): match its Gram matrices; without --objective, style alone.")] = None,
    style_weight: Annotated[Optional[float], typer.Option(help="Weight of the style term. [default: 1.0]", show_default=False)] = None,
    preview: Annotated[Optional[Path], typer.Option(help="Also write a turntable GIF of the textured mesh here.")] = None,
    frames: Annotated[int, typer.Option(help="Frames of the turntable GIF.")] = 24,
    model: ModelOption = None, weights: WeightsOption = None, normalize: NormalizeOption = None,
    lr: LrOption = None, optimizer: OptimizerOption = None, transforms: TransformsOption = None,
    decay_power: DecayOption = None, seed: SeedOption = None,
    device: DeviceOption = "auto", recipe: RecipeOption = None, quiet: QuietOption = False,
) -> None:
    """Texture a 3D mesh: a UV texture whose renders from random viewpoints maximise an objective."""
    from reverie.io.frames import write_gif
    from reverie.io.images import check_output_path
    from reverie.pipelines.texture import texture as run_texture
    from reverie.recipe import TextureRecipe

    check_output_path(output)
    if preview is not None:
        if preview.suffix.lower() != ".gif":
            raise ReverieError(f"--preview needs a .gif file name, got {preview}")
        check_output_path(preview.with_suffix(".png"))  # its folder exists and is writable
    if not 1 <= frames <= 360:
        raise ReverieError(f"frames must be a whole number from 1 to 360, got {frames}")
    base = load_recipe(recipe, TextureRecipe)
    refuse_code_models(model, base.model)
    changes: dict = {"version": __version__}
    if mesh is not None:
        changes.update(mesh=str(mesh), mesh_sha256=None)
    changes.update(model_changes(model, weights, normalize))
    if size is not None:
        changes["size"] = parse_size(size)
    flags = dict(objective=objective, views=views, render_size=render_size, transforms=transforms,
                 decay_power=decay_power, seed=seed)
    changes.update({k: v for k, v in flags.items() if v is not None})
    if style is not None:
        changes.update(style=style, style_sha256=None)
        if objective is None:
            changes["objective"] = ""  # the style alone, unless an objective is given too
    if style_weight is not None:
        changes["style_weight"] = style_weight
    settings = {k: v for k, v in dict(steps=steps, lr=lr, optimizer=optimizer).items() if v is not None}
    if settings:
        changes["settings"] = replace(base.settings, **settings)
    final = replace(base, **changes)
    check_hash = recipe is not None and mesh is None
    if quiet:
        result = run_texture(final, device=device, check_hash=check_hash)
    else:
        from reverie.cli.progress import progress_bar

        with progress_bar("texturing", stderr) as callback:
            result = run_texture(final, device=device, progress=callback, check_hash=check_hash)
    saved = result.save(output)
    message = f"wrote {saved} ({final.size[0]}x{final.size[1]} texture, final score {result.history[-1]:.4g})"
    if preview is not None:
        write_gif(preview, result.turntable(frames), fps=12)
        message += f" and {preview}"
    stderr.print(message)
