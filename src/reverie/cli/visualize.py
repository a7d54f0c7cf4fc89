"""``reverie visualize`` and ``reverie interpolate``: feature visualization from the command line."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from reverie.cli.common import (DeviceOption, ModelOption, NormalizeOption, QuietOption, RecipeOption, WeightsOption,
                                load_recipe, model_changes, parse_channels, parse_size, refuse_code_models)
from reverie.errors import ReverieError
from reverie.version import __version__

stderr = Console(stderr=True)

SizeOption = Annotated[Optional[str], typer.Option(help="Output WIDTHxHEIGHT.", show_default=False)]
StepsOption = Annotated[Optional[int], typer.Option(help="Optimisation steps. [default: 512]", show_default=False)]
LrOption = Annotated[Optional[float], typer.Option(help="Learning rate. [default: 0.05; 0.005 for cppn]", show_default=False)]
OptimizerOption = Annotated[Optional[str], typer.Option(help="adam, clampsgd or sgd. [default: adam]", show_default=False)]
TransformsOption = Annotated[Optional[str], typer.Option(help="Robustness transforms: standard or none. [default: standard]", show_default=False)]
DecayOption = Annotated[Optional[float], typer.Option(help="FFT spectrum decay power. [default: 1.0]", show_default=False)]
SeedOption = Annotated[Optional[int], typer.Option(help="Random seed. [default: 0]", show_default=False)]


TextOption = Annotated[Optional[str], typer.Option("--text", help='Steer toward a text prompt with CLIP, e.g. "a watercolour of a lighthouse" (needs the clip extra).', show_default=False)]
TextWeightOption = Annotated[Optional[float], typer.Option(help="Weight of the CLIP term when combined with an objective. [default: 1]", show_default=False)]
ClipModelOption = Annotated[Optional[str], typer.Option(help="open_clip architecture for --text. [default: ViT-B-32]", show_default=False)]
ClipWeightsOption = Annotated[Optional[str], typer.Option(help="open_clip checkpoint file, or a pretrained tag already in the Hugging Face cache.")]
CutoutsOption = Annotated[Optional[int], typer.Option(help="CLIP cutouts per step (more: steadier, slower). [default: 32]", show_default=False)]


def text_changes(base, *, text, text_weight, clip_model, clip_weights, cutouts) -> dict:
    """Recipe changes for the CLIP flags; CLIP settings without a prompt are a mistake worth saying."""
    changes = {k: v for k, v in dict(text=text, text_weight=text_weight, clip_model=clip_model,
                                     clip_weights=clip_weights, cutouts=cutouts).items() if v is not None}
    if not changes.get("text", base.text) and len(changes) > ("text" in changes):
        raise ReverieError("--text-weight, --clip-model, --clip-weights and --cutouts need --text PROMPT")
    return changes


def _common_changes(base, *, model, weights, normalize, size, steps, lr, optimizer, transforms, decay_power, seed,
                    param_name: str | None = None) -> dict:
    refuse_code_models(model, base.model)
    changes: dict = {"version": __version__, **model_changes(model, weights, normalize)}
    if size is not None:
        changes["size"] = parse_size(size)
    if transforms is not None:
        changes["transforms"] = transforms
    if decay_power is not None:
        if not decay_power >= 0:
            raise ReverieError(f"decay-power must be zero or positive, got {decay_power}")
        changes["decay_power"] = decay_power
    if seed is not None:
        changes["seed"] = seed
    settings_changes = {k: v for k, v in dict(steps=steps, lr=lr, optimizer=optimizer).items() if v is not None}
    if lr is None and param_name == "cppn" and base.settings.lr == 0.05:
        settings_changes["lr"] = 0.005  # a CPPN's weights need a much smaller step than pixels
    if settings_changes:
        changes["settings"] = replace(base.settings, **settings_changes)
    return changes


def _run_with_progress(function, recipe, device: str, quiet: bool):
    if quiet:
        return function(recipe, device=device)
    from reverie.cli.progress import progress_bar

    with progress_bar("rendering", stderr) as callback:
        return function(recipe, device=device, progress=callback)


def visualize(
    output: Annotated[Path, typer.Option("--output", "-o", help="Output image (.png keeps alpha).")] = Path("visualization.png"),
    layer: Annotated[Optional[str], typer.Option("--layer", "-l", help="Layer to visualize.")] = None,
    channel: Annotated[Optional[int], typer.Option("--channel", "-c", help="Channel of the layer.")] = None,
    channels: Annotated[Optional[str], typer.Option(help="Many channels, e.g. 0-15 or 3,7,9: one image each, as a sheet.")] = None,
    sheet: Annotated[bool, typer.Option("--sheet", help="Lay several images out as a labelled contact sheet (implied by --channels).")] = False,
    objective: Annotated[Optional[str], typer.Option(help='Objective expression, e.g. "channel(blocks.9, 7) - 0.5*channel(blocks.9, 12)".')] = None,
    param: Annotated[Optional[str], typer.Option(help="Image parameterization: fft, pixel or cppn. [default: fft]", show_default=False)] = None,
    batch: Annotated[Optional[int], typer.Option(help="Images optimised together (with --diversity: different takes). [default: 1]", show_default=False)] = None,
    diversity: Annotated[Optional[float], typer.Option(help="Weight of the diversity term across the batch (e.g. 100 at batch 4).")] = None,
    alpha: Annotated[bool, typer.Option("--alpha", help="Semi-transparent RGBA output, optimised over random backgrounds.")] = False,
    model: ModelOption = None, weights: WeightsOption = None, normalize: NormalizeOption = None,
    size: SizeOption = None, steps: StepsOption = None, lr: LrOption = None, optimizer: OptimizerOption = None,
    transforms: TransformsOption = None, decay_power: DecayOption = None, seed: SeedOption = None,
    device: DeviceOption = "auto", recipe: RecipeOption = None, quiet: QuietOption = False,
    text: TextOption = None, text_weight: TextWeightOption = None, clip_model: ClipModelOption = None,
    clip_weights: ClipWeightsOption = None, cutouts: CutoutsOption = None,
    blend: Annotated[Optional[str], typer.Option(help='Objectives side by side, e.g. "channel(blocks.9, 3) | channel(blocks.9, 9)".')] = None,
    blend_ramp: Annotated[Optional[str], typer.Option(help="How --blend's objectives are laid out: horizontal, vertical or radial. [default: horizontal]", show_default=False)] = None,
) -> None:
    """Feature visualization: an image that maximises a channel, neuron, layer, objective expression or text prompt."""
    from reverie.expressions import quote_name
    from reverie.io.images import check_output_path
    from reverie.pipelines.visualize import visualize as run_visualize
    from reverie.recipe import VisualizeRecipe

    check_output_path(output)
    base = load_recipe(recipe, VisualizeRecipe)
    changes = _common_changes(base, model=model, weights=weights, normalize=normalize, size=size, steps=steps, lr=lr,
                              optimizer=optimizer, transforms=transforms, decay_power=decay_power, seed=seed,
                              param_name=param or base.param)
    if channel is not None and channels is not None:
        raise ReverieError("give --channel or --channels, not both")
    if (channel is not None or channels is not None) and not (layer or base.layer):
        raise ReverieError("--channel/--channels need a --layer")
    if objective is not None and layer is not None and channel is None and channels is None:
        raise ReverieError("--layer without --channel/--channels conflicts with --objective; give one of them")
    if param is not None:
        changes["param"] = param
    if batch is not None:
        if batch < 1:
            raise ReverieError(f"batch must be a positive whole number, got {batch}")
        changes["batch"] = batch
    if alpha:
        changes["alpha"] = True
    if blend is not None and (objective is not None or layer is not None or channel is not None
                              or channels is not None or diversity is not None):
        raise ReverieError("--blend names its own objectives; give --blend or "
                           "--objective/--layer/--channel/--channels/--diversity, not both")
    if blend_ramp is not None and blend is None and not base.blend:
        raise ReverieError("--blend-ramp needs --blend")
    if blend_ramp is not None:
        changes["blend_ramp"] = blend_ramp
    if blend is not None:
        changes.update(layer="", channels=(), objective="", blend=blend)
    elif objective is not None or layer is not None or channel is not None or channels is not None:
        changes["blend"] = ""  # flags that name an objective replace a replayed recipe's blend
    extra = objective
    if channels is not None:
        changes.update(layer=layer or base.layer, channels=parse_channels(channels), objective=extra or "")
    elif channel is not None:
        term = f"channel({quote_name(layer)}, {channel})"
        changes.update(layer="", channels=(), objective=term + (f" + {extra}" if extra else ""))
    elif layer is not None:
        changes.update(layer="", channels=(), objective=f"layer({quote_name(layer)})")
    elif extra is not None:
        changes.update(layer="", channels=(), objective=extra)
    if diversity is not None:
        target = layer or changes.get("layer") or base.layer
        if not target:
            raise ReverieError("--diversity needs a --layer (diversity is measured on that layer's activations)")
        current = changes.get("objective", base.objective)
        changes["objective"] = f"{current} + {diversity:g}*diversity({quote_name(target)})" if current else \
            f"{diversity:g}*diversity({quote_name(target)})"
    changes.update(text_changes(base, text=text, text_weight=text_weight, clip_model=clip_model,
                                clip_weights=clip_weights, cutouts=cutouts))
    final = replace(base, **changes)
    if final.batch > 1 and final.channels:
        raise ReverieError("--batch applies to one objective; with --channels each channel gets one image")
    if final.alpha and output.suffix.lower() in (".jpg", ".jpeg"):  # found before rendering, not after
        raise ReverieError(f"JPEG cannot hold the alpha channel; write {output.with_suffix('.png')} instead")
    result = _run_with_progress(run_visualize, final, device, quiet)
    saved = result.save(output)
    stderr.print(f"wrote {saved} ({result.images.shape[0]} image(s), final score {result.history[-1]:.4g})")


def interpolate(
    start: Annotated[str, typer.Option("--from", help='Objective of the first frame, e.g. "channel(blocks.9, 3)".')] = "",
    end: Annotated[str, typer.Option("--to", help="Objective of the last frame.")] = "",
    frames: Annotated[Optional[int], typer.Option(help="Number of frames. [default: 12]", show_default=False)] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the numbered frames.")] = Path("interpolation"),
    gif: Annotated[Optional[Path], typer.Option(help="Also write an animated GIF here.")] = None,
    fps: Annotated[float, typer.Option(help="GIF frames per second.")] = 8.0,
    model: ModelOption = None, weights: WeightsOption = None, normalize: NormalizeOption = None,
    size: SizeOption = None, steps: StepsOption = None, lr: LrOption = None, optimizer: OptimizerOption = None,
    transforms: TransformsOption = None, decay_power: DecayOption = None, seed: SeedOption = None,
    device: DeviceOption = "auto", recipe: RecipeOption = None, quiet: QuietOption = False,
) -> None:
    """Frames that morph from one objective to another, aligned by shared parameters."""
    from reverie.io.frames import write_frames, write_gif
    from reverie.io.images import check_output_path
    from reverie.pipelines.visualize import interpolate as run_interpolate
    from reverie.recipe import InterpolateRecipe

    if gif is not None:
        if gif.suffix.lower() != ".gif":
            raise ReverieError(f"--gif needs a .gif file name, got {gif}")
        check_output_path(gif.with_suffix(".png"))  # folder exists and is writable
    from reverie.io.frames import MAX_GIF_FPS

    if not 0 < fps <= MAX_GIF_FPS:  # write_gif's own limit, checked before the frames are rendered
        raise ReverieError(f"fps must be above 0 and at most {MAX_GIF_FPS} (GIF delays are hundredths of a "
                           f"second), got {fps:g}")
    base = load_recipe(recipe, InterpolateRecipe)
    changes = _common_changes(base, model=model, weights=weights, normalize=normalize, size=size, steps=steps, lr=lr,
                              optimizer=optimizer, transforms=transforms, decay_power=decay_power, seed=seed)
    if start:
        changes["start"] = start
    if end:
        changes["end"] = end
    if frames is not None:
        changes["frames"] = frames
    final = replace(base, **changes)
    if not final.start or not final.end:
        raise ReverieError("give both --from and --to objectives")
    result = _run_with_progress(run_interpolate, final, device, quiet)
    paths = write_frames(output, result.images, final.to_json())
    message = f"wrote {len(paths)} frames to {output}"
    if gif is not None:
        write_gif(gif, result.images, fps=fps)
        message += f" and {gif}"
    stderr.print(message)
