"""``reverie`` commands: dream, layers, info. Flags become a recipe; a ReverieError becomes one line."""
from __future__ import annotations

# Modules that load torch are imported inside the commands, not here: `reverie --help` must answer in
# well under a second (bench/startup.py).
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from reverie.cli.common import (
    ChannelsOption,
    DeviceOption,
    FinishOption,
    LayersOption,
    MaxWorkOption,
    NoiseOption,
    PerlinOption,
    OverwriteInputOption,
    QuietOption,
    RecipeOption,
    SampleOption,
    check_prompt_flags,
    dream_objective,
    say,
    start_sources,
)
from reverie.cli.batch import AddressOption, ExecutorOption, WorkersOption, dream_photos, refuse_executor_flags
from reverie.cli.flags import base_recipe, recipe_flags, with_flags
from reverie.cli.task import report_stop, run_task
from reverie.errors import ReverieError
from reverie.fields import escaped
from reverie.version import __version__

# Heavy modules (torch, reverie.tasks, reverie.pipelines) are imported inside the command bodies, so
# that `reverie --help` and `reverie dream --help` answer at once.

MAX_ERROR = 600  # characters of an error line; a longer one (an echoed input) is cut with an ellipsis

app = typer.Typer(
    add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
    help="Reverie: neural dreaming with any PyTorch image model.",
)


@app.command()
@recipe_flags("dream")
def dream(
    input: Annotated[Optional[str], typer.Argument(help="Image to dream, or a folder of photos (-o then names a folder); omit to dream a bundled sample photo.", show_default=False)] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Output image (.png, .jpg, .webp).")] = Path("dream.png"),
    sample_name: SampleOption = None, noise_start: NoiseOption = False, perlin_start: PerlinOption = False,
    layer: LayersOption = None, channel: ChannelsOption = None,
    executor: ExecutorOption = None, address: AddressOption = None, workers: WorkersOption = None,
    device: DeviceOption = "auto", max_work: MaxWorkOption = None, overwrite_input: OverwriteInputOption = False,
    recipe: RecipeOption = None, finish: FinishOption = False, quiet: QuietOption = False,
    **flags,
) -> None:
    """DeepDream a photo (or noise, or every photo of a folder) toward a layer, channels, an objective
    expression, or a text prompt."""
    from reverie.io.images import check_output_path

    folder_input = input is not None and Path(input).is_dir()  # one dream per photo, resumable
    if not folder_input:
        refuse_executor_flags(executor, address, workers)
        check_output_path(output)
    base = base_recipe("dream", recipe, finish)
    sources = start_sources(input, sample_name, noise_start, perlin_start)
    objective = dream_objective(flags["objective"], layer, channel)
    if flags["blend"] is not None and objective is not None:
        raise ReverieError("--blend names its own objectives; give --blend or --objective/--layer/--channel, not both")
    if flags["blend_ramp"] is not None and flags["blend"] is None and not base.blend:
        raise ReverieError("--blend-ramp needs --blend")
    check_prompt_flags(base, flags)
    changes: dict = {}
    if sources:
        changes.update(source=sources[0], source_sha256=None)
    if objective is not None:
        changes.update(objective=objective, blend="")
    elif flags["blend"] is not None:
        changes["objective"] = ""
    if flags["mask"] is not None:
        changes["mask_sha256"] = None
    if flags["guide"] is not None:
        from reverie.imaging import SAMPLES

        changes["guide_sha256"] = None
        if flags["guide"] in SAMPLES and not Path(flags["guide"]).exists():  # --guide coffee: a bundled sample
            flags["guide"] = f"sample:{flags['guide']}"
    flags.pop("objective")  # set above, from --objective or --layer/--channel
    final = with_flags(base, flags, **changes)
    if folder_input:
        dream_photos(Path(input), output, final, executor=executor, address=address, workers=workers, device=device,
                     quiet=quiet)
        return

    result, interrupted = run_task(final, "dreaming", quiet=quiet, device=device, max_work=max_work,
                                   overwrite_input=overwrite_input, outputs=(output,), check_hash=recipe is not None)
    saved = result.save(output)
    report_stop(result, saved, interrupted)
    target = f"blend {result.recipe.blend}" if result.recipe.blend else f"objective {result.recipe.objective}"
    say(f"wrote {saved} ({result.image.shape[-1]}x{result.image.shape[-2]}, {target})")


@app.command()
def layers(
    model: Annotated[str, typer.Option(help="Model name, module:callable, or .pt2 torch.export file.")] = "efficientnet-lite0",
    weights: Annotated[Optional[str], typer.Option(help="State-dict file to load into the model.")] = None,
    size: Annotated[int, typer.Option(help="Reference input side in px for the output sizes.")] = 224,
    all_layers: Annotated[bool, typer.Option("--all", help="List every module with image-shaped output.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    layout: Annotated[str, typer.Option(help="How layer outputs are laid out: auto, nchw, nhwc or tokens.")] = "auto",
    normalize: Annotated[str, typer.Option(help="Input normalization the model expects.")] = "none",
) -> None:
    """List the layers worth dreaming on (transformer blocks too), with channel or feature counts and the
    output's size (a transformer's patch grid)."""
    from reverie.models import ModelSpec, dreamable_layers, load_model
    from reverie.models.fixed_input import fixed_side

    if size < 8:
        raise ReverieError(f"size must be at least 8 px, got {size}")
    spec = ModelSpec(model, weights, normalize, layout=layout)
    loaded = load_model(spec, "cpu")
    found = dreamable_layers(loaded, size, everything=all_layers)
    size = fixed_side(loaded) or size  # a model that takes one input size is listed at it
    if as_json:
        typer.echo(json.dumps({"model": model, "input_size": size, "layers": [asdict(info) for info in found]}, indent=1))
        return
    from rich.table import Table

    table = Table(title=f"{model}: layers at a {size}x{size} input")
    for column in ("layer", "kind", "channels", "output", "layout"):
        table.add_column(column, justify="right" if column in ("channels", "output") else "left")
    for info in found:
        name = f"{info.name} ({info.alias})" if info.alias else info.name
        table.add_row(name, info.kind, str(info.channels), f"{info.width}x{info.height}", info.layout)
    Console().print(table)


@app.command()
def info(image: Annotated[Path, typer.Argument(help="An image made by Reverie, or a recipe .json file.")]) -> None:
    """Print the recipe embedded in a Reverie image."""
    from reverie.tasks import recipe_text

    text = recipe_text(image)
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise ReverieError(f"{image} carries a recipe that is not valid JSON") from None
    typer.echo(json.dumps(data, indent=2, sort_keys=True))
    if isinstance(data, dict):
        say(replay_needs(data))


def replay_needs(data: dict) -> str:
    """One line on what the same pixels need: the recipe's PyTorch, device type and CPU thread count."""
    import torch  # heavy: only `reverie info` gets here

    from reverie.machine import machine_difference, this_machine
    from reverie.models import resolve_device

    made_with, threads = data.get("made_with"), data.get("threads")
    if not isinstance(made_with, str) or not isinstance(threads, int):
        return "replay: made before Reverie recorded its machine; the same pixels need the same PyTorch, " \
               "device type and CPU thread count"
    here = this_machine(resolve_device("auto"))
    difference = machine_difference(made_with, resolve_device("auto"))
    return (f"replay: made with {escaped(made_with, 200)} at {threads} CPU threads (a replay uses {threads}); "
            f"this machine: {here}, {torch.get_num_threads()} threads" + (": pixels may differ" if difference else ""))


from reverie.cli.visualize import interpolate, visualize  # noqa: E402 - registered after dream

app.command()(visualize)
app.command()(interpolate)

from reverie.cli.render import render  # noqa: E402

app.command()(render)

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

from reverie.cli.atlas import atlas_app  # noqa: E402

app.add_typer(atlas_app, name="atlas")

from reverie.cli.studio import studio  # noqa: E402

app.command()(studio)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"reverie {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: Annotated[bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Show the version.")] = False) -> None:
    """Reverie: neural dreaming with any PyTorch image model."""


def show_notes_as_lines() -> None:
    """A ReverieNote (what was detected about a model, a setting that will disappoint) is one stderr line."""
    import warnings

    from reverie.errors import ReverieNote

    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if isinstance(category, type) and issubclass(category, ReverieNote):
            say(f"note: {str(message)[:MAX_ERROR]}")
        else:
            shown(message, category, filename, lineno, file, line)
    if getattr(shown, "__name__", "") != "show":
        warnings.showwarning = show


def run() -> None:
    """Console-script entry: a ReverieError (a user mistake) becomes one line on stderr and exit 2."""
    show_notes_as_lines()
    try:
        code = app(standalone_mode=False)  # click returns, not raises, the status of an abort or an Exit
    except ReverieError as error:
        print(f"reverie: error: {escaped(str(error), MAX_ERROR)}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("reverie: interrupted", file=sys.stderr)
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
    if isinstance(code, int) and not isinstance(code, bool) and code:
        if code == 130:  # a Ctrl-C that click turned into an abort before the task's own handling
            print("reverie: interrupted", file=sys.stderr)
        sys.exit(code)
