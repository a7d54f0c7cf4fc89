"""What the commands share: option declarations, flags-to-recipe helpers, and small parsers
(sizes, channel ranges, recipe loading)."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Optional

import typer

from reverie.errors import ReverieError

ModelOption = Annotated[Optional[str], typer.Option(help="Model name, module:callable, or .pt2 torch.export file. [default: efficientnet-lite0]", show_default=False)]
WeightsOption = Annotated[Optional[str], typer.Option(help="State-dict file to load into the model.")]
NormalizeOption = Annotated[Optional[str], typer.Option(help="Input normalization the model expects: none, imagenet, inception.")]
DeviceOption = Annotated[str, typer.Option(help="auto, cpu or cuda.")]
RecipeOption = Annotated[Optional[Path], typer.Option(help="Replay the recipe in a Reverie image or .json file; other flags override it.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]
SampleOption = Annotated[Optional[str], typer.Option("--sample", help="Bundled photo: chelsea, coffee, astronaut, rocket.")]

# The dream commands' (dream, animate, dream-video) objective and dream-setting flags.
LayersOption = Annotated[Optional[list[str]], typer.Option("--layer", "-l", help="Layer to amplify (repeatable; LAYER=WEIGHT to weight).")]
ChannelsOption = Annotated[Optional[list[str]], typer.Option("--channel", "-c", help="Channel index of the layer, or LAYER:INDEX (repeatable).")]
DreamObjectiveOption = Annotated[Optional[str], typer.Option(help='Objective expression, e.g. "layer(blocks.6) + 0.5*channel(blocks.9, 7)".')]
OctaveScaleOption = Annotated[Optional[float], typer.Option(help="Size ratio between octaves. [default: 1.4]", show_default=False)]
StepSizeOption = Annotated[Optional[float], typer.Option(help="Pixel change per step (0-1 scale). [default: 0.01]", show_default=False)]
# ... and those only the frame-by-frame commands (animate, dream-video) share.
FrameOctavesOption = Annotated[Optional[int], typer.Option(help="Octaves per frame. [default: 2]", show_default=False)]
FrameTileOption = Annotated[Optional[int], typer.Option(help="Max tile side in px. [default: 512]", show_default=False)]
FrameSeedOption = Annotated[Optional[int], typer.Option(help="Random seed; the same seed gives the same frames. [default: 0]", show_default=False)]
FrameRecipeOption = Annotated[Optional[Path], typer.Option(help="Start from the recipe in a recipe.json or frame file; other flags override it.")]


def model_changes(model: str | None, weights: str | None, normalize: str | None) -> dict:
    """Recipe changes for --model/--weights/--normalize: a new model drops the recipe's weights and normalization."""
    if model is not None:
        return dict(model=model, weights=weights, normalize=normalize or "none")
    changes = {}
    if weights is not None:
        changes["weights"] = weights
    if normalize is not None:
        changes["normalize"] = normalize
    return changes


def dream_settings(settings, *, octaves, octave_scale, steps, step_size, jitter, tile):
    """``settings`` (a DreamSettings) with the dream-setting flags that were given; unchanged if none were."""
    flags = dict(octaves=octaves, octave_scale=octave_scale, steps=steps, step_size=step_size, jitter=jitter, tile=tile)
    given = {name: value for name, value in flags.items() if value is not None}
    return replace(settings, **given) if given else settings


def start_sources(input: str | None, sample_name: str | None, noise_start: bool) -> list[str]:
    """The recipe source INPUT, --sample or --noise names: none or one of them (a sample as "sample:NAME")."""
    from reverie.errors import unknown_name_message
    from reverie.imaging import SAMPLES

    sources = [s for s in (input, sample_name and f"sample:{sample_name}", noise_start and "noise") if s]
    if len(sources) > 1:
        raise ReverieError("give only one of INPUT, --sample and --noise")
    if sample_name is not None and sample_name not in SAMPLES:
        raise ReverieError(unknown_name_message("sample", sample_name, SAMPLES))
    return sources


def check_objective_flags(objective: str | None, layer: list[str] | None, channel: list[str] | None) -> None:
    """--objective excludes --layer/--channel; a bare --channel INDEX needs a --layer."""
    if objective is not None and (layer or channel):
        raise ReverieError("give either --objective or --layer/--channel, not both")
    if channel and not layer and not all(":" in c for c in channel):
        raise ReverieError("--channel needs a --layer (or write --channel LAYER:INDEX)")


def objective_from_flags(layers: list[str], channels: list[str]) -> str:
    """``--layer blocks.6 --layer blocks.9=0.5 --channel 7`` -> objective expression text."""
    from reverie.expressions import quote_name
    from reverie.objectives.base import format_weight

    weighted = []
    for item in layers:
        name, _, weight_text = item.partition("=")
        try:
            weight = float(weight_text) if weight_text else 1.0
        except ValueError:
            raise ReverieError(f"layer weight must be a number: '{item}' (write LAYER or LAYER=WEIGHT)") from None
        weighted.append((name.strip(), weight))
    by_layer: dict[str, list[int]] = {}
    for item in channels:
        layer_name, _, index_text = item.rpartition(":")
        if not layer_name:
            if len(weighted) != 1:
                raise ReverieError(
                    f"--channel {item} is ambiguous with {len(weighted) or 'no'} --layer; "
                    "write --channel LAYER:INDEX or give exactly one --layer"
                )
            layer_name = weighted[0][0]
        try:
            index = int(index_text)
        except ValueError:
            raise ReverieError(f"channel must be a whole number (or LAYER:INDEX), got '{item}'") from None
        by_layer.setdefault(layer_name, []).append(index)
    terms = []
    for name, weight in weighted:
        function = f"channel({quote_name(name)}, {', '.join(map(str, by_layer.pop(name)))})" \
            if name in by_layer else f"layer({quote_name(name)})"
        terms.append(function if weight == 1 else f"{format_weight(weight)}*{function}")
    for name, indices in by_layer.items():  # channels qualified with a layer not given by --layer
        terms.append(f"channel({quote_name(name)}, {', '.join(map(str, indices))})")
    return " + ".join(terms)


def frame_dream_changes(base, *, recipe, model, weights, normalize, layer, channel, objective, octaves,
                        octave_scale, steps, step_size, jitter, tile) -> dict:
    """Recipe changes for the model, objective and dream-setting flags of animate and dream-video."""
    from reverie.version import __version__

    changes: dict = {"frame_index": None, "version": __version__}
    settings = dream_settings(base.settings, octaves=octaves, octave_scale=octave_scale, steps=steps,
                              step_size=step_size, jitter=jitter, tile=tile)
    if settings is not base.settings:
        changes["settings"] = settings
    changes.update(model_changes(model, weights, normalize))
    if objective is not None:
        changes["objective"] = objective
    elif layer or channel:
        changes["objective"] = objective_from_flags(layer or [], channel or [])
    elif model is not None and not recipe:
        changes["objective"] = ""
    return changes


def parse_size(text: str | None) -> tuple[int, int] | None:
    """``"640x480"`` -> (640, 480) as (width, height)."""
    if text is None:
        return None
    parts = text.lower().split("x")
    try:
        width, height = (int(part) for part in parts)
    except ValueError:
        raise ReverieError(f"size must be WIDTHxHEIGHT in pixels, e.g. 512x384; got '{text}'") from None
    if width <= 0 or height <= 0:
        raise ReverieError(f"size must be positive, got '{text}'")
    if width * height > 16384 * 16384:
        raise ReverieError(f"size {text} is larger than the 16384x16384 limit")
    return width, height


def parse_channels(text: str) -> tuple[int, ...]:
    """``"0-3,7,9-10"`` -> (0, 1, 2, 3, 7, 9, 10)."""
    channels: list[int] = []
    for part in text.split(","):
        low, dash, high = part.strip().partition("-")
        try:
            first = int(low)
            last = int(high) if dash else first
        except ValueError:
            raise ReverieError(f"channels must look like 0-15 or 3,7,9-12; got '{text}'") from None
        if first < 0 or last < first:
            raise ReverieError(f"bad channel range '{part.strip()}' in '{text}'")
        channels.extend(range(first, last + 1))
    if len(channels) > 4096:
        raise ReverieError(f"too many channels ({len(channels)}); the limit is 4096")
    return tuple(dict.fromkeys(channels))


def load_recipe(path: Path | None, kind: type):
    """The recipe in an image or JSON file, checked to be of ``kind``; or a default one."""
    if path is None:
        return kind()
    from reverie.io.images import read_recipe_text

    return kind.from_json(read_recipe_text(path))


def refuse_code_models(model_flag: str | None, recipe_model: str) -> None:
    """A recipe comes from a file a stranger may have sent: it never gets to import code."""
    from reverie.models import ModelSpec

    if model_flag is None and ModelSpec(recipe_model).runs_code():
        raise ReverieError(f"the recipe's model '{recipe_model}' could run code (an import or a pickled file); "
                           "pass --model explicitly to confirm you trust it")
