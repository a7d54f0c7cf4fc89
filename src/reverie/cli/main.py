"""``reverie`` commands: dream, layers, info. Flags become a recipe; a ReverieError becomes one line."""
from __future__ import annotations

import json
import sys
from dataclasses import asdict, replace
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from reverie.cli.common import (ChannelsOption, DeviceOption, DreamObjectiveOption, LayersOption, ModelOption,
                                NormalizeOption, OctaveScaleOption, QuietOption, RecipeOption, SampleOption,
                                StepSizeOption, WeightsOption, dream_settings, model_changes, objective_from_flags,
                                parse_size, refuse_code_models, start_sources)
from reverie.cli.visualize import (ClipModelOption, ClipWeightsOption, CutoutsOption, TextOption,
                                   TextWeightOption, text_changes)
from reverie.errors import ReverieError
from reverie.version import __version__

app = typer.Typer(
    add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
    help="Reverie: neural dreaming with any PyTorch image model.",
)
stderr = Console(stderr=True)


@app.command()
def dream(
    input: Annotated[Optional[str], typer.Argument(help="Image to dream; omit to dream a bundled sample photo.", show_default=False)] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Output image (.png, .jpg, .webp).")] = Path("dream.png"),
    sample_name: SampleOption = None,
    noise_start: Annotated[bool, typer.Option("--noise", help="Start from noise (a pure dream) instead of a photo.")] = False,
    model: ModelOption = None, weights: WeightsOption = None, normalize: NormalizeOption = None,
    layer: LayersOption = None, channel: ChannelsOption = None, objective: DreamObjectiveOption = None,
    octaves: Annotated[Optional[int], typer.Option(help="Number of octaves (image scales). [default: 4]", show_default=False)] = None,
    octave_scale: OctaveScaleOption = None,
    steps: Annotated[Optional[int], typer.Option(help="Steps per octave. [default: 20]", show_default=False)] = None,
    step_size: StepSizeOption = None,
    jitter: Annotated[Optional[int], typer.Option(help="Max random shift per step, in px. [default: 32]", show_default=False)] = None,
    tile: Annotated[Optional[int], typer.Option(help="Max tile side in px; bounds memory for large images. [default: 512]", show_default=False)] = None,
    size: Annotated[Optional[str], typer.Option(help="Resize the input (or noise) to WIDTHxHEIGHT.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Random seed; the same seed gives the same pixels. [default: 0]", show_default=False)] = None,
    device: DeviceOption = "auto", recipe: RecipeOption = None, quiet: QuietOption = False,
    mask: Annotated[Optional[str], typer.Option(help="Dream only inside this mask: an image's alpha channel, else its luminance (black = untouched).")] = None,
    blend: Annotated[Optional[str], typer.Option(help='Objectives side by side, e.g. "channel(blocks.9, 3) | channel(blocks.9, 9)".')] = None,
    blend_ramp: Annotated[Optional[str], typer.Option(help="How --blend's objectives are laid out: horizontal, vertical or radial. [default: horizontal]", show_default=False)] = None,
    text: TextOption = None, text_weight: TextWeightOption = None, clip_model: ClipModelOption = None,
    clip_weights: ClipWeightsOption = None, cutouts: CutoutsOption = None,
) -> None:
    """DeepDream a photo (or noise) toward a layer, channels, an objective expression, or a text prompt."""
    from reverie.engine.deepdream import DreamSettings
    from reverie.io.images import check_output_path, read_recipe_text
    from reverie.pipelines.dream import run
    from reverie.recipe import DreamRecipe

    check_output_path(output)
    base = DreamRecipe.from_json(read_recipe_text(recipe)) if recipe else DreamRecipe()
    if recipe and base.version != __version__:
        stderr.print(f"note: recipe made by Reverie {base.version}, replaying with {__version__}")
    refuse_code_models(model, base.model)

    sources = start_sources(input, sample_name, noise_start)
    if objective is not None and (layer or channel):
        raise ReverieError("give either --objective or --layer/--channel, not both")
    if blend is not None and (objective is not None or layer or channel):
        raise ReverieError("--blend names its own objectives; give --blend or --objective/--layer/--channel, not both")
    if blend_ramp is not None and blend is None and not base.blend:
        raise ReverieError("--blend-ramp needs --blend")
    if channel and not layer and not all(":" in c for c in channel):
        raise ReverieError("--channel needs a --layer (or write --channel LAYER:INDEX)")

    changes: dict = {"settings": dream_settings(base.settings, octaves=octaves, octave_scale=octave_scale, steps=steps,
                                                step_size=step_size, jitter=jitter, tile=tile)}
    if sources:
        changes.update(source=sources[0], source_sha256=None)
    changes.update(model_changes(model, weights, normalize))
    if objective is not None:
        changes.update(objective=objective, blend="")
    elif layer or channel:
        changes.update(objective=objective_from_flags(layer or [], channel or []), blend="")
    elif blend is not None:
        changes.update(objective="", blend=blend)
    elif model is not None and not recipe:
        changes["objective"] = ""
    if size is not None:
        changes["size"] = parse_size(size)
    if seed is not None:
        changes["seed"] = seed
    if blend_ramp is not None:
        changes["blend_ramp"] = blend_ramp
    if mask is not None:
        changes.update(mask=mask, mask_sha256=None)
    changes.update(text_changes(base, text=text, text_weight=text_weight, clip_model=clip_model,
                                clip_weights=clip_weights, cutouts=cutouts))
    final = replace(base, **changes, version=__version__)
    if not isinstance(final.settings, DreamSettings):
        raise ReverieError("recipe settings are invalid")

    # A replayed recipe's relative input path may be relative to the folder it was made in: when
    # it is not found from here, it is looked for next to the recipe file.
    recipe_folder = recipe.parent if recipe is not None and not sources else None
    if quiet:
        result = run(final, device=device, check_hash=recipe is not None, recipe_folder=recipe_folder)
    else:
        from reverie.cli.progress import progress_bar

        with progress_bar("dreaming", stderr) as callback:
            result = run(final, device=device, progress=callback, check_hash=recipe is not None,
                          recipe_folder=recipe_folder)
    saved = result.save(output)
    target = f"blend {result.recipe.blend}" if result.recipe.blend else f"objective {result.recipe.objective}"
    stderr.print(f"wrote {saved} ({result.image.shape[-1]}x{result.image.shape[-2]}, {target})")


@app.command()
def layers(
    model: Annotated[str, typer.Option(help="Model name, module:callable, or .pt2 torch.export file.")] = "efficientnet-lite0",
    weights: Annotated[Optional[str], typer.Option(help="State-dict file to load into the model.")] = None,
    size: Annotated[int, typer.Option(help="Reference input side in px for the output sizes.")] = 224,
    all_layers: Annotated[bool, typer.Option("--all", help="List every module with image-shaped output.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the layers worth dreaming on, with channel counts and output size."""
    from reverie.models import ModelSpec, dreamable_layers, load_model

    if size < 8:
        raise ReverieError(f"size must be at least 8 px, got {size}")
    found = dreamable_layers(load_model(ModelSpec(model, weights), "cpu"), size, everything=all_layers)
    if as_json:
        typer.echo(json.dumps({"model": model, "input_size": size, "layers": [asdict(info) for info in found]}, indent=1))
        return
    from rich.table import Table

    table = Table(title=f"{model}: layers at a {size}x{size} input")
    for column in ("layer", "kind", "channels", "output"):
        table.add_column(column, justify="right" if column in ("channels", "output") else "left")
    for info in found:
        table.add_row(info.name, info.kind, str(info.channels), f"{info.width}x{info.height}")
    Console().print(table)


@app.command()
def info(image: Annotated[Path, typer.Argument(help="An image made by Reverie, or a recipe .json file.")]) -> None:
    """Print the recipe embedded in a Reverie image."""
    from reverie.io.images import read_recipe_text

    text = read_recipe_text(image)
    try:
        typer.echo(json.dumps(json.loads(text), indent=2, sort_keys=True))
    except json.JSONDecodeError:
        raise ReverieError(f"{image} carries a recipe that is not valid JSON") from None


from reverie.cli.visualize import interpolate, visualize  # noqa: E402 - registered after dream

app.command()(visualize)
app.command()(interpolate)

from reverie.cli.animate import animate, encode  # noqa: E402

app.command()(animate)
app.command()(encode)

from reverie.cli.recipes import caricature, style  # noqa: E402

app.command()(caricature)
app.command()(style)

from reverie.cli.texture import texture  # noqa: E402

app.command()(texture)

from reverie.cli.video import dream_video  # noqa: E402

app.command("dream-video")(dream_video)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"reverie {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: Annotated[bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Show the version.")] = False) -> None:
    """Reverie: neural dreaming with any PyTorch image model."""


def run() -> None:
    """Console-script entry: a ReverieError (a user mistake) becomes one line on stderr and exit 2."""
    try:
        app(standalone_mode=False)
    except ReverieError as error:
        print(f"reverie: error: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("reverie: interrupted; no output was written", file=sys.stderr)
        sys.exit(130)
    except Exception as error:  # click's usage errors arrive here in non-standalone mode
        # Typer >= 0.26 vendors click (typer._click) and need not install it, so take the classes
        # from typer's public names: typer.Exit/Abort, and ClickException from BadParameter's bases.
        click_exception = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
        if isinstance(error, typer.Exit):
            sys.exit(error.exit_code)
        if isinstance(error, typer.Abort):
            print("reverie: aborted", file=sys.stderr)
            sys.exit(130)
        if isinstance(error, click_exception):
            error.show()
            sys.exit(error.exit_code)
        raise
