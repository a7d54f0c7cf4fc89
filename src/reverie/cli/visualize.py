"""``reverie visualize`` and ``reverie interpolate``: feature visualization from the command line."""
from __future__ import annotations

# Modules that load torch are imported inside the commands, not here: `reverie --help` must answer in
# well under a second (bench/startup.py).
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Optional

import typer

from reverie.cli.common import (
    DeviceOption,
    FinishOption,
    MaxWorkOption,
    QuietOption,
    RecipeOption,
    check_prompt_flags,
    parse_channels,
    say,
)
from reverie.cli.flags import base_recipe, field_help, recipe_flags, with_flags
from reverie.cli.task import report_stop, run_task
from reverie.errors import ReverieError
from reverie.expressions import quote_name

CPPN_LR = 0.005  # a CPPN's weights need a much smaller step than pixels: used when --lr is not given


@recipe_flags("visualize")
def visualize(
    output: Annotated[Path, typer.Option("--output", "-o", help="Output image (.png keeps alpha).")] = Path("visualization.png"),
    layer: Annotated[Optional[str], typer.Option("--layer", "-l", help="Layer to visualize.")] = None,
    channel: Annotated[Optional[int], typer.Option("--channel", "-c", help="Channel of the layer.")] = None,
    channels: Annotated[Optional[str], typer.Option(help=field_help("visualize", "channels", ", e.g. 0-15 or 3,7,9"))] = None,
    diversity: Annotated[Optional[float], typer.Option(help="Weight of the diversity term across the batch, counted on the first half of the steps (--diversity-steps); 300 at batch 4 gives different images, each near full strength.")] = None,
    lr: Annotated[Optional[float], typer.Option(help=field_help("visualize", "lr", f"; {CPPN_LR:g} with --param cppn"), show_default=False)] = None,
    device: DeviceOption = "auto", max_work: MaxWorkOption = None, recipe: RecipeOption = None, finish: FinishOption = False, quiet: QuietOption = False,
    **flags,
) -> None:
    """Feature visualization: an image that maximises a channel, neuron, layer, objective expression or text prompt."""
    from reverie.io.images import check_output_path

    check_output_path(output)
    base = base_recipe("visualize", recipe, finish)
    objective, blend = flags.pop("objective"), flags["blend"]
    if channel is not None and channels is not None:
        raise ReverieError("give --channel or --channels, not both")
    if (channel is not None or channels is not None) and not (layer or base.layer):
        raise ReverieError("--channel/--channels need a --layer")
    if objective is not None and layer is not None and channel is None and channels is None:
        raise ReverieError("--layer without --channel/--channels conflicts with --objective; give one of them")
    named = [objective, layer, channel, channels, diversity]  # flags that name what to maximise
    if blend is not None and any(value is not None for value in named):
        raise ReverieError("--blend names its own objectives; give --blend or "
                           "--objective/--layer/--channel/--channels/--diversity, not both")
    if flags["blend_ramp"] is not None and blend is None and not base.blend:
        raise ReverieError("--blend-ramp needs --blend")
    check_prompt_flags(base, flags)

    changes: dict = {}
    if blend is not None:
        changes.update(layer="", channels=(), objective="")
    elif any(value is not None for value in named[:4]):
        changes["blend"] = ""  # flags that name an objective replace a replayed recipe's blend
    if channels is not None:
        changes.update(layer=layer or base.layer, channels=parse_channels(channels), objective=objective or "")
    elif channel is not None:
        term = f"channel({quote_name(layer)}, {channel})"
        changes.update(layer="", channels=(), objective=term + (f" + {objective}" if objective else ""))
    elif layer is not None:
        changes.update(layer="", channels=(), objective=f"layer({quote_name(layer)})")
    elif objective is not None:
        changes.update(layer="", channels=(), objective=objective)
    if diversity is not None:
        target = layer or changes.get("layer") or base.layer
        if not target:
            raise ReverieError("--diversity needs a --layer (diversity is measured on that layer's activations)")
        current = changes.get("objective", base.objective)
        term = f"{diversity:g}*diversity({quote_name(target)})"
        changes["objective"] = f"{current} + {term}" if current else term
    final = with_flags(base, {**flags, "lr": lr}, **changes)
    if lr is None and final.param == "cppn" and final.settings.lr == type(final.settings)().lr:
        final = replace(final, settings=replace(final.settings, lr=CPPN_LR))
    if flags["transforms"] is None and recipe is None and final.param == "cppn":
        # A CPPN is smooth by construction; jitter and scaling only blur it (Lucid trains it with none).
        final = replace(final, transforms="none")
    if final.batch > 1 and final.channels:
        raise ReverieError("--batch applies to one objective; with --channels each channel gets one image")
    if final.alpha and output.suffix.lower() in (".jpg", ".jpeg"):  # found before rendering, not after
        raise ReverieError(f"JPEG cannot hold the alpha channel; write {output.with_suffix('.png')} instead")

    result, interrupted = run_task(final, "rendering", quiet=quiet, device=device, max_work=max_work)
    saved = result.save(output)
    report_stop(result, saved, interrupted)
    say(f"wrote {saved} ({result.images.shape[0]} image(s){_final_score(result)})")


@recipe_flags("interpolate")
def interpolate(
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the numbered frames.")] = Path("interpolation"),
    gif: Annotated[Optional[Path], typer.Option(help="Also write an animated GIF here.")] = None,
    fps: Annotated[float, typer.Option(help="GIF frames per second.")] = 8.0,
    device: DeviceOption = "auto", max_work: MaxWorkOption = None, recipe: RecipeOption = None, finish: FinishOption = False, quiet: QuietOption = False,
    **flags,
) -> None:
    """Frames that morph from one objective to another, aligned by shared parameters."""
    from reverie.io.frames import MAX_GIF_FPS, write_frames, write_gif
    from reverie.io.images import check_output_path

    if gif is not None:
        if gif.suffix.lower() != ".gif":
            raise ReverieError(f"--gif needs a .gif file name, got {gif}")
        check_output_path(gif.with_suffix(".png"))  # folder exists and is writable
    if not 0 < fps <= MAX_GIF_FPS and flags["delay"] is None:  # write_gif's limit, checked before rendering
        raise ReverieError(f"fps must be above 0 and at most {MAX_GIF_FPS} (GIF delays are hundredths of a "
                           f"second), got {fps:g}")
    final = with_flags(base_recipe("interpolate", recipe, finish), flags)
    if not final.start or not final.end:
        raise ReverieError("give both --from and --to objectives")
    result, interrupted = run_task(final, "rendering", quiet=quiet, device=device, max_work=max_work)
    paths = write_frames(output, result.images, result.recipe.to_json())
    report_stop(result, paths[0], interrupted)
    message = f"wrote {len(paths)} frames to {output}"
    if gif is not None:
        write_gif(gif, result.images, fps=fps, delay=result.recipe.gif_delay)
        message += f" and {gif}"
    say(message)


def _final_score(result) -> str:
    return f", final score {result.history[-1]:.4g}" if result.history else ""
