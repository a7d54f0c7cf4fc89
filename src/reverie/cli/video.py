"""``reverie dream-video``: dream every frame of a video, the dream following the motion, resumably."""
from __future__ import annotations

import sys
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from reverie.cli.common import parse_size, refuse_code_models
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
    model: Annotated[Optional[str], typer.Option(help="Model name, module:callable, or .pt2 torch.export file. [default: efficientnet-lite0]", show_default=False)] = None,
    weights: Annotated[Optional[str], typer.Option(help="State-dict file to load into the model.")] = None,
    normalize: Annotated[Optional[str], typer.Option(help="Input normalization the model expects: none, imagenet, inception.")] = None,
    layer: Annotated[Optional[list[str]], typer.Option("--layer", "-l", help="Layer to amplify (repeatable; LAYER=WEIGHT to weight).")] = None,
    channel: Annotated[Optional[list[str]], typer.Option("--channel", "-c", help="Channel index of the layer, or LAYER:INDEX (repeatable).")] = None,
    objective: Annotated[Optional[str], typer.Option(help='Objective expression, e.g. "layer(blocks.6) + 0.5*channel(blocks.9, 7)".')] = None,
    octaves: Annotated[Optional[int], typer.Option(help="Octaves per frame. [default: 2]", show_default=False)] = None,
    octave_scale: Annotated[Optional[float], typer.Option(help="Size ratio between octaves. [default: 1.4]", show_default=False)] = None,
    steps: Annotated[Optional[int], typer.Option(help="Steps per octave per frame (the first frame takes more). [default: 4]", show_default=False)] = None,
    step_size: Annotated[Optional[float], typer.Option(help="Pixel change per step (0-1 scale). [default: 0.01]", show_default=False)] = None,
    jitter: Annotated[Optional[int], typer.Option(help="Max random shift per step, in px. [default: 16]", show_default=False)] = None,
    tile: Annotated[Optional[int], typer.Option(help="Max tile side in px. [default: 512]", show_default=False)] = None,
    size: Annotated[Optional[str], typer.Option(help="Resize every frame to WIDTHxHEIGHT.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Random seed; the same seed gives the same frames. [default: 0]", show_default=False)] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    recipe: Annotated[Optional[Path], typer.Option(help="Start from the recipe in a recipe.json or frame file; other flags override it.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Dream every frame of a video; each frame carries the last one's dream along the motion."""
    from reverie.cli.main import _objective_from_flags
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
    if objective is not None and (layer or channel):
        raise ReverieError("give either --objective or --layer/--channel, not both")
    if channel and not layer and not all(":" in c for c in channel):
        raise ReverieError("--channel needs a --layer (or write --channel LAYER:INDEX)")

    setting_flags = dict(octaves=octaves, octave_scale=octave_scale, steps=steps, step_size=step_size,
                         jitter=jitter, tile=tile)
    changes: dict = {"frame_index": None, "version": __version__}
    if any(value is not None for value in setting_flags.values()):
        changes["settings"] = replace(base.settings, **{k: v for k, v in setting_flags.items() if v is not None})
    if input is not None:
        changes.update(source=input, source_sha256=None)
    elif not base.source:
        raise ReverieError("give the video to dream: reverie dream-video IN.mp4 -o OUT.mp4")
    if model is not None:
        changes.update(model=model, weights=weights, normalize=normalize or "none")
    else:
        if weights is not None:
            changes["weights"] = weights
        if normalize is not None:
            changes["normalize"] = normalize
    if objective is not None:
        changes["objective"] = objective
    elif layer or channel:
        changes["objective"] = _objective_from_flags(layer or [], channel or [])
    elif model is not None and not recipe:
        changes["objective"] = ""
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
        with _frame_bar(quiet) as callback:
            result = run(final, output, frames_dir=folder, quality=quality, resume=resume, device=device,
                         progress=callback, recipe_folder=recipe_folder)
    except KeyboardInterrupt:
        from reverie.cli.animate import _quoted
        from reverie.io.frames import finished_frames

        done = finished_frames(folder)
        print(f"reverie: interrupted; {done} frame{'' if done == 1 else 's'} finished in {folder}; continue with: "
              f"reverie dream-video -o {_quoted(output)} --frames-dir {_quoted(folder)} --resume", file=sys.stderr)
        raise SystemExit(130) from None  # typer.Exit would be returned, not exited, under standalone_mode=False
    started = f" (resumed at frame {result.first_index})" if result.first_index else ""
    stderr.print(f"wrote {result.output}: {result.recipe.frames} frames at {result.recipe.fps:g} fps{started}; "
                 f"frames in {result.folder}")


@contextmanager
def _frame_bar(quiet: bool):
    """A progress bar of frames with an ETA from this run's time per frame; it appears with the first
    finished frame, so a mistake found while checking the inputs stays one clean line."""
    if quiet:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn, TimeElapsedColumn

    from reverie.cli.animate import _duration

    bar = Bar(TextColumn("[bold]dreaming video"), BarColumn(), MofNCompleteColumn(), TextColumn("frames"),
              TextColumn("score {task.fields[score]}"), TimeElapsedColumn(), TextColumn("ETA {task.fields[eta]}"),
              console=stderr, transient=False)
    task = None

    def update(event) -> None:
        nonlocal task
        if task is None:
            bar.start()
            task = bar.add_task("dreaming video", total=event.steps, completed=event.step - 1, score="", eta="")
        bar.update(task, completed=event.step, score=f"{event.score:.3g}", eta=_duration(event.seconds_left))
    try:
        yield update
    finally:
        if task is not None:
            bar.stop()
