"""What the commands share that is not a recipe field: option declarations (input choice, objective
flags, how to run), small parsers (sizes, channel ranges, layer weights) and the one-line message.

No option here repeats a recipe field's default: those come from the fields (see reverie.cli.flags).
"""
from __future__ import annotations

# Modules that load torch are imported inside the commands, not here: `reverie --help` must answer in
# well under a second (bench/startup.py).
import shlex
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from reverie.errors import ReverieError, unknown_name_message
from reverie.expressions import format_number, quote_name
from reverie.fields import escaped

stderr = Console(stderr=True)
COMMANDS = {"video": "dream-video"}  # a task's command, where it is not named after the task's kind

# How a command runs (after the recipe's flags in help).
DeviceOption = Annotated[str, typer.Option(help="auto, cpu or cuda.")]
MaxWorkOption = Annotated[Optional[float], typer.Option("--max-work", help="Allow more work than the default limit, in pixel-steps (pixels x steps, over every octave, batch item and frame); inf for no limit. [default: 1e10]", show_default=False)]
OverwriteInputOption = Annotated[bool, typer.Option("--overwrite-input", help="Allow the output to replace an input file.")]
RecipeOption = Annotated[Optional[Path], typer.Option(help="Replay the recipe in a Reverie image or .json file; other flags override it.")]
FinishOption = Annotated[bool, typer.Option("--finish", help="Run a replayed recipe that was stopped to the end, instead of to where it stopped.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]
QualityOption = Annotated[int, typer.Option(help="MP4 quality as x264 CRF: 0 lossless ... 51 worst.")]
MP4_QUALITY = 18  # x264's "visually lossless" CRF (animate, dream-video, encode)

# The dream commands' (dream, animate) choice of start and their objective shorthands.
SampleOption = Annotated[Optional[str], typer.Option("--sample", help="Bundled photo: chelsea, coffee, astronaut, rocket.")]
NoiseOption = Annotated[bool, typer.Option("--noise", help="Start from noise (a pure dream) instead of a photo.")]
PerlinOption = Annotated[bool, typer.Option("--perlin", help="Start from colour Perlin (fractal) noise instead of a photo.")]
LayersOption = Annotated[Optional[list[str]], typer.Option("--layer", "-l", help="Layer to amplify (repeatable; LAYER=WEIGHT to weight).")]
ChannelsOption = Annotated[Optional[list[str]], typer.Option("--channel", "-c", help="Channel index of the layer, or LAYER:INDEX (repeatable).")]


def say(text: str) -> None:
    """One line on stderr, unwrapped (paths stay whole for copying) and not read as Rich markup; any
    control character in it (text from a stranger's file) is shown escaped, never sent to the terminal."""
    stderr.print(escaped(text, None), soft_wrap=True, markup=False, highlight=False)


def check_not_input(recipe, outputs, overwrite_input: bool) -> None:
    """Refuse to write over a file the task reads (``-o photo.png`` for ``photo.png``), as ffmpeg does,
    unless the user said ``--overwrite-input``."""
    if overwrite_input:
        return
    # heavy (torch): only commands that run get here
    from reverie.pipelines.prepare import files_to_read

    confined = dict(files_to_read(recipe))
    inputs = [confined.get(name, Path(value)) for name, value in recipe.files()]
    for output in (Path(item) for item in outputs if item is not None):
        for path in inputs:
            if _same_file(output, path):
                raise ReverieError(f"the output {output} is the input {path}: writing it would replace your file; "
                                   "give another -o, or add --overwrite-input")


def _same_file(first: Path, second: Path) -> bool:
    try:
        return first.exists() and second.exists() and first.samefile(second)
    except OSError:
        return False


def quoted(path: Path) -> str:
    """A path as a shell would need it written, for a command line to copy."""
    return shlex.quote(str(path))


def start_sources(input: str | None, sample_name: str | None, noise_start: bool,
                  perlin_start: bool = False) -> list[str]:
    """The recipe source INPUT, --sample, --noise or --perlin names: none or one of them (a sample as
    "sample:NAME", Perlin noise as "noise:perlin")."""
    from reverie.imaging import SAMPLES

    sources = [s for s in (input, sample_name and f"sample:{sample_name}", noise_start and "noise",
                           perlin_start and "noise:perlin") if s]
    if len(sources) > 1:
        raise ReverieError("give only one of INPUT, --sample, --noise and --perlin")
    if sample_name is not None and sample_name not in SAMPLES:
        raise ReverieError(unknown_name_message("sample", sample_name, SAMPLES))
    return sources


def dream_objective(objective: str | None, layer: list[str] | None, channel: list[str] | None) -> str | None:
    """The objective text --objective or --layer/--channel give (None: neither was given).

    --objective excludes --layer/--channel; a bare --channel INDEX needs a --layer.
    """
    if objective is not None and (layer or channel):
        raise ReverieError("give either --objective or --layer/--channel, not both")
    if channel and not layer and not all(":" in c for c in channel):
        raise ReverieError("--channel needs a --layer (or write --channel LAYER:INDEX)")
    if layer or channel:
        return objective_from_flags(layer or [], channel or [])
    return objective


def check_prompt_flags(base, flags: dict) -> None:
    """CLIP settings without a prompt are a mistake worth saying (dream, visualize)."""
    settings = ("text_weight", "clip_model", "clip_weights", "cutouts")
    if not (flags["text"] if flags["text"] is not None else base.text) and any(flags[n] is not None for n in settings):
        raise ReverieError("--text-weight, --clip-model, --clip-weights and --cutouts need --text PROMPT")


def objective_from_flags(layers: list[str], channels: list[str]) -> str:
    """``--layer blocks.6 --layer blocks.9=0.5 --channel 7`` -> objective expression text."""

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
        terms.append(function if weight == 1 else f"{format_number(weight)}*{function}")
    for name, indices in by_layer.items():  # channels qualified with a layer not given by --layer
        terms.append(f"channel({quote_name(name)}, {', '.join(map(str, indices))})")
    return " + ".join(terms)


def parse_size(text: str) -> tuple[int, int]:
    """``"640x480"`` -> (640, 480) as (width, height); each task's recipe checks its own limit."""
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise ReverieError(f"size must be WIDTHxHEIGHT in pixels, e.g. 512x384; got '{text}'") from None
    if width <= 0 or height <= 0:
        raise ReverieError(f"size must be positive, got '{text}'")
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
        if last - first >= 4096:
            raise ReverieError(f"too many channels in '{part.strip()}'; the limit is 4096")
        channels.extend(range(first, last + 1))
    return tuple(dict.fromkeys(channels))


def image_source(text: str) -> str:
    """An image argument as recipe text: a bundled sample's name becomes "sample:NAME"."""
    from reverie.imaging import SAMPLES

    if text in SAMPLES and not Path(text).exists():
        return f"sample:{text}"
    if not Path(text).exists():
        raise ReverieError(f"input image not found: {text} (or name a bundled sample: {', '.join(SAMPLES)})")
    return text
