"""``reverie dream-video``: dream every frame of a video, the dream following the motion, resumably."""
from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from reverie.cli.common import (ChannelsOption, DeviceOption, DreamObjectiveOption, FrameOctavesOption,
                                FrameRecipeOption, FrameSeedOption, FrameTileOption, LayersOption, ModelOption,
                                NormalizeOption, OctaveScaleOption, QuietOption, StepSizeOption, WeightsOption,
                                check_objective_flags, frame_dream_changes, parse_size, refuse_code_models)
from reverie.cli.progress import frame_bar, quoted
from reverie.errors import ReverieError
from reverie.version import __version__

stderr = Console(stderr=True)


def dream_video(
    input: Annotated[Optional[str], typer.Argument(help="Video to dream (anything ffmpeg reads); may be omitted with --recipe or --resume.", show_default=False)] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Output video (.mp4), with the input's frame rate and audio.")] = Path("dream.mp4"),
    frames_dir: Annotated[Optional[Path], typer.Option(help="Folder for the dreamed frames and recipe.json. [default: OUTPUT's name + -frames, beside it]", show_default=False)] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the last finished frame in the frames folder.")] = False,
    blend: Annotated[Optional[float], typer.Option(help="Share of the previous frame's dream each frame starts from, 0-1; 0 dreams every frame afresh. [default: 0.8]", show_default=False)] = None,
    flow: Annotated[Optional[str], typer.Option(help="on: the carried dream follows the motion (optical flow); off: it stays in place. [default: on]", show_default=False)] = None,
    quality: Annotated[int, typer.Option(help="MP4 quality as x264 CRF: 0 lossless ... 51 worst.")] = 18,
    model: ModelOption = None, weights: WeightsOption = None, normalize: NormalizeOption = None,
    layer: LayersOption = None, channel: ChannelsOption = None, objective: DreamObjectiveOption = None,
    octaves: FrameOctavesOption = None, octave_scale: OctaveScaleOption = None,
    steps: Annotated[Optional[int], typer.Option(help="Steps per octave per frame (the first frame takes more). [default: 4]", show_default=False)] = None,
    step_size: StepSizeOption = None,
    jitter: Annotated[Optional[int], typer.Option(help="Max random shift per step, in px. [default: 16]", show_default=False)] = None,
    tile: FrameTileOption = None,
    size: Annotated[Optional[str], typer.Option(help="Resize every frame to WIDTHxHEIGHT.")] = None,
    seed: FrameSeedOption = None, device: DeviceOption = "auto", recipe: FrameRecipeOption = None,
    quiet: QuietOption = False,
) -> None:
    """Dream every frame of a video; each frame carries the last one's dream along the motion."""
    from reverie.engine.deepdream import DreamSettings
    from reverie.io.images import read_recipe_text
    from reverie.pipelines.video import default_frames_dir, read_folder_recipe, run
    from reverie.recipe import VideoRecipe

    if output.suffix.lower() != ".mp4":
        raise ReverieError(f"the dreamed video is written as an MP4; give -o a name ending in .mp4, got {output}")
    if not 0 <= quality <= 51:
        raise ReverieError(f"quality (x264 CRF) must be from 0 (lossless) to 51, got {quality}")
    if flow is not None and flow.lower() not in ("on", "off"):
        raise ReverieError(f"flow must be on or off, got '{flow}'")
    folder = frames_dir if frames_dir is not None else default_frames_dir(output)
    if recipe is not None:
        base = VideoRecipe.from_json(read_recipe_text(recipe))
    elif resume and (stored := read_folder_recipe(folder)) is not None:
        base = stored  # resuming with no flags continues exactly what the folder holds
    else:
        base = VideoRecipe()
    if base.version != __version__:
        stderr.print(f"note: recipe made by Reverie {base.version}, continuing with {__version__}")
    refuse_code_models(model, base.model)
    check_objective_flags(objective, layer, channel)

    changes = frame_dream_changes(base, recipe=recipe, model=model, weights=weights, normalize=normalize, layer=layer,
                                  channel=channel, objective=objective, octaves=octaves, octave_scale=octave_scale,
                                  steps=steps, step_size=step_size, jitter=jitter, tile=tile)
    if input is not None:
        changes.update(source=input, source_sha256=None)
    elif not base.source:
        raise ReverieError("give the video to dream: reverie dream-video IN.mp4 -o OUT.mp4")
    if blend is not None:
        changes["blend"] = blend
    if flow is not None:
        changes["flow"] = flow.lower() == "on"
    if seed is not None:
        changes["seed"] = seed
    if size is not None:
        changes["size"] = parse_size(size)
    final = replace(base, **changes)
    if not isinstance(final.settings, DreamSettings):
        raise ReverieError("recipe settings are invalid")

    # A recipe's relative input path may be relative to where it was made: when it is not found
    # from here, it is looked for beside the recipe file (or in the frames folder, when resuming).
    recipe_folder = None if input is not None else recipe.parent if recipe is not None else folder if resume else None
    try:
        with frame_bar("dreaming video", quiet, stderr) as callback:
            result = run(final, output, frames_dir=folder, quality=quality, resume=resume, device=device,
                         progress=callback, recipe_folder=recipe_folder)
    except KeyboardInterrupt:
        from reverie.io.frames import finished_frames

        done = finished_frames(folder)
        print(f"reverie: interrupted; {done} frame{'' if done == 1 else 's'} finished in {folder}; continue with: "
              f"reverie dream-video -o {quoted(output)} --frames-dir {quoted(folder)} --resume", file=sys.stderr)
        raise SystemExit(130) from None  # typer.Exit would be returned, not exited, under standalone_mode=False
    started = f" (resumed at frame {result.first_index})" if result.first_index else ""
    stderr.print(f"wrote {result.output}: {result.recipe.frames} frames at {result.recipe.fps:g} fps{started}; "
                 f"frames in {result.folder}")
