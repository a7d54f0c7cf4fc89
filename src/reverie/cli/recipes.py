"""``reverie caricature`` and ``reverie style``: feature inversion and style transfer from the command line."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Optional

import typer

from reverie.cli.common import (DeviceOption, ModelOption, NormalizeOption, QuietOption, RecipeOption, WeightsOption,
                                load_recipe, model_changes, parse_size, refuse_code_models)
from reverie.cli.visualize import DecayOption, LrOption, SeedOption, stderr
from reverie.errors import ReverieError
from reverie.version import __version__

TransformsOption = Annotated[Optional[str], typer.Option(help="Robustness transforms: standard or none.", show_default=False)]


def _source(text: str) -> str:
    """An image argument as recipe text: a bundled sample's name becomes "sample:NAME"."""
    from reverie.imaging import SAMPLES

    if text in SAMPLES and not Path(text).exists():
        return f"sample:{text}"
    if not Path(text).exists():
        raise ReverieError(f"input image not found: {text} (or name a bundled sample: {', '.join(SAMPLES)})")
    return text


def _shared_changes(base, *, model, weights, normalize, size, steps, lr, transforms, decay_power, seed) -> dict:
    refuse_code_models(model, base.model)
    changes: dict = {"version": __version__, **model_changes(model, weights, normalize)}
    if size is not None:
        changes["size"] = parse_size(size)
    for name, value in (("transforms", transforms), ("decay_power", decay_power), ("seed", seed)):
        if value is not None:
            changes[name] = value
    settings = {k: v for k, v in dict(steps=steps, lr=lr).items() if v is not None}
    if settings:
        changes["settings"] = replace(base.settings, **settings)
    return changes


def _run(function, recipe, device: str, quiet: bool, **options):
    if quiet:
        return function(recipe, device=device, **options)
    from reverie.cli.progress import progress_bar

    with progress_bar("rendering", stderr) as callback:
        return function(recipe, device=device, progress=callback, **options)


def caricature(
    image: Annotated[Optional[str], typer.Argument(help="Photo to caricature (a file, or a sample name: chelsea...). [default: chelsea]", show_default=False)] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Output image.")] = Path("caricature.png"),
    layer: Annotated[Optional[list[str]], typer.Option("--layer", "-l", help="Layer to invert (repeatable: one image per layer, as a sheet). [default: blocks.8]", show_default=False)] = None,
    power: Annotated[Optional[float], typer.Option(help="Exponent of the cosine-similarity weight: higher keeps closer to the photo's direction. [default: 1]", show_default=False)] = None,
    model: ModelOption = None, weights: WeightsOption = None, normalize: NormalizeOption = None,
    size: Annotated[Optional[str], typer.Option(help="Output WIDTHxHEIGHT. [default: the photo's aspect, long side 224]", show_default=False)] = None,
    steps: Annotated[Optional[int], typer.Option(help="Optimisation steps. [default: 256]", show_default=False)] = None,
    lr: LrOption = None, transforms: TransformsOption = None, decay_power: DecayOption = None, seed: SeedOption = None,
    device: DeviceOption = "auto", recipe: RecipeOption = None, quiet: QuietOption = False,
) -> None:
    """Caricature a photo: an image whose activations at a layer point where the photo's do, only stronger."""
    from reverie.io.images import check_output_path
    from reverie.pipelines.caricature import caricature as run_caricature
    from reverie.recipe import CaricatureRecipe

    check_output_path(output)
    base = load_recipe(recipe, CaricatureRecipe)
    changes = _shared_changes(base, model=model, weights=weights, normalize=normalize, size=size, steps=steps, lr=lr,
                              transforms=transforms, decay_power=decay_power, seed=seed)
    if image is not None:
        changes.update(source=_source(image), source_sha256=None, size=changes.get("size"))
    if layer:
        changes["layers"] = tuple(layer)
    if power is not None:
        changes["power"] = power
    final = replace(base, **changes)
    recipe_folder = recipe.parent if recipe is not None and image is None else None
    result = _run(run_caricature, final, device, quiet, check_hash=recipe is not None and image is None,
                  recipe_folder=recipe_folder)
    saved = result.save(output)
    stderr.print(f"wrote {saved} ({len(result.labels)} layer(s): {', '.join(result.labels)})")


def style(
    content: Annotated[Optional[str], typer.Argument(help="Content photo (a file or a sample name). [default: chelsea]", show_default=False)] = None,
    style_image: Annotated[Optional[str], typer.Argument(metavar="STYLE", help="Style image (a file or a sample name). [default: coffee]", show_default=False)] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Output image.")] = Path("style.png"),
    content_layers: Annotated[Optional[list[str]], typer.Option("--content-layers", help="Content layer (repeatable, or comma-separated). [default: blocks.9]", show_default=False)] = None,
    style_layers: Annotated[Optional[list[str]], typer.Option("--style-layers", help="Style layers (repeatable, or comma-separated). [default: stem,blocks.1,blocks.3,blocks.5,blocks.8]", show_default=False)] = None,
    style_weight: Annotated[Optional[float], typer.Option(help="Weight of the style term. [default: 10]", show_default=False)] = None,
    content_weight: Annotated[Optional[float], typer.Option(help="Weight of the content term. [default: 1]", show_default=False)] = None,
    noise: Annotated[bool, typer.Option("--noise", help="Start from noise instead of the content photo.")] = False,
    style_scale: Annotated[Optional[float], typer.Option(help="Style image's long side relative to the output's (bigger: coarser texture). [default: 1]", show_default=False)] = None,
    model: ModelOption = None, weights: WeightsOption = None, normalize: NormalizeOption = None,
    size: Annotated[Optional[str], typer.Option(help="Output WIDTHxHEIGHT. [default: the content's aspect, long side 256]", show_default=False)] = None,
    steps: Annotated[Optional[int], typer.Option(help="Optimisation steps. [default: 150]", show_default=False)] = None,
    lr: LrOption = None,
    transforms: Annotated[Optional[str], typer.Option(help="Robustness transforms: none or standard. [default: none]", show_default=False)] = None,
    decay_power: DecayOption = None, seed: SeedOption = None,
    device: DeviceOption = "auto", recipe: RecipeOption = None, quiet: QuietOption = False,
) -> None:
    """Style transfer: the content photo's layout painted with the style image's textures (any model)."""
    from reverie.io.images import check_output_path
    from reverie.pipelines.style import style_transfer
    from reverie.recipe import StyleRecipe

    check_output_path(output)
    base = load_recipe(recipe, StyleRecipe)
    changes = _shared_changes(base, model=model, weights=weights, normalize=normalize, size=size, steps=steps, lr=lr,
                              transforms=transforms, decay_power=decay_power, seed=seed)
    if content is not None:
        changes.update(content=_source(content), content_sha256=None, size=changes.get("size"))
    if style_image is not None:
        changes.update(style=_source(style_image), style_sha256=None)
    if content_layers:
        changes["content_layers"] = _names(content_layers)
    if style_layers:
        changes["style_layers"] = _names(style_layers)
    for name, value in (("style_weight", style_weight), ("content_weight", content_weight),
                        ("style_scale", style_scale)):
        if value is not None:
            changes[name] = value
    if noise:
        changes["init"] = "noise"
    final = replace(base, **changes)
    given = content is not None or style_image is not None
    result = _run(style_transfer, final, device, quiet, check_hash=recipe is not None and not given,
                  recipe_folder=recipe.parent if recipe is not None else None)
    saved = result.save(output)
    stderr.print(f"wrote {saved} ({result.image.shape[-1]}x{result.image.shape[-2]}, final score {result.history[-1]:.4g})")


def _names(values: list[str]) -> tuple[str, ...]:
    """``["blocks.1,blocks.3", "blocks.5"]`` -> ("blocks.1", "blocks.3", "blocks.5")."""
    return tuple(name.strip() for value in values for name in value.split(",") if name.strip())
