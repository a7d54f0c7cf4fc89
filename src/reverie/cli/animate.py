"""``reverie animate`` and ``reverie encode``: dream animations into a frame folder, and GIF/MP4 from it."""
from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from reverie.cli.common import (ChannelsOption, DeviceOption, DreamObjectiveOption, FrameOctavesOption,
                                FrameRecipeOption, FrameSeedOption, FrameTileOption, LayersOption, ModelOption,
                                NormalizeOption, OctaveScaleOption, QuietOption, SampleOption, StepSizeOption,
                                WeightsOption, check_objective_flags, frame_dream_changes, parse_size,
                                refuse_code_models, start_sources)
from reverie.cli.progress import frame_bar, quoted
from reverie.errors import ReverieError
from reverie.version import __version__

stderr = Console(stderr=True)

FpsOption = Annotated[Optional[float], typer.Option(help="Frames per second of the GIF/MP4. [default: the recipe's, 12]", show_default=False)]
GifOption = Annotated[Optional[Path], typer.Option(help="Also write an animated GIF here.")]
Mp4Option = Annotated[Optional[Path], typer.Option(help="Also write an H.264 MP4 here.")]
LoopOption = Annotated[int, typer.Option(help="GIF plays: 0 = for ever, 1 = once, N = N times.")]
QualityOption = Annotated[int, typer.Option(help="MP4 quality as x264 CRF: 0 lossless ... 51 worst.")]
ReverseOption = Annotated[bool, typer.Option("--reverse", help="Play the frames backwards.")]
PingpongOption = Annotated[bool, typer.Option("--pingpong", help="Play forward, then back (2N-2 frames).")]


def animate(
    input: Annotated[Optional[str], typer.Argument(help="Image to start from; omit for the bundled sample photo.", show_default=False)] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the numbered frames and recipe.json.")] = Path("animation"),
    frames: Annotated[Optional[int], typer.Option(help="Number of frames. [default: 100]", show_default=False)] = None,
    transform: Annotated[Optional[list[str]], typer.Option("--transform", "-t", help='Frame transform before each dream (repeatable), e.g. "zoom(0.02)", "rotate(1)"; "none" for none. [default: zoom(0.02)]', show_default=False)] = None,
    keyframe: Annotated[Optional[list[str]], typer.Option("--keyframe", "-k", help='Dream options from a frame on (repeatable), e.g. "100: layer=blocks.12, steps=8".')] = None,
    gif: GifOption = None, mp4: Mp4Option = None, fps: FpsOption = None, loop: LoopOption = 0,
    quality: QualityOption = 18,
    sample_name: SampleOption = None,
    noise_start: Annotated[bool, typer.Option("--noise", help="Start from noise instead of a photo.")] = False,
    model: ModelOption = None, weights: WeightsOption = None, normalize: NormalizeOption = None,
    layer: LayersOption = None, channel: ChannelsOption = None, objective: DreamObjectiveOption = None,
    octaves: FrameOctavesOption = None, octave_scale: OctaveScaleOption = None,
    steps: Annotated[Optional[int], typer.Option(help="Steps per octave per frame. [default: 6]", show_default=False)] = None,
    step_size: StepSizeOption = None,
    jitter: Annotated[Optional[int], typer.Option(help="Max random shift per step, in px. [default: 32]", show_default=False)] = None,
    tile: FrameTileOption = None,
    size: Annotated[Optional[str], typer.Option(help="Frame size WIDTHxHEIGHT (the input, or noise, is resized).")] = None,
    seed: FrameSeedOption = None, device: DeviceOption = "auto", recipe: FrameRecipeOption = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the animation in the output folder from its last finished frame.")] = False,
    quiet: QuietOption = False,
) -> None:
    """Dream animation: each frame is the dream of the previous frame, moved by frame transforms."""
    from reverie.engine.deepdream import DreamSettings
    from reverie.io.images import read_recipe_text
    from reverie.pipelines.animate import animate as run_animate
    from reverie.pipelines.animate import read_folder_recipe
    from reverie.recipe import AnimateRecipe

    _check_encode_targets(gif, mp4, fps, loop, quality)
    if recipe is not None:
        base = AnimateRecipe.from_json(read_recipe_text(recipe))
    elif resume and (stored := read_folder_recipe(output)) is not None:
        base = stored  # resuming with no flags continues exactly what the folder holds
    else:
        base = AnimateRecipe()
    if base.version != __version__:
        _say(f"note: recipe made by Reverie {base.version}, continuing with {__version__}")
    refuse_code_models(model, base.model)

    sources = start_sources(input, sample_name, noise_start)
    check_objective_flags(objective, layer, channel)

    changes = frame_dream_changes(base, recipe=recipe, model=model, weights=weights, normalize=normalize, layer=layer,
                                  channel=channel, objective=objective, octaves=octaves, octave_scale=octave_scale,
                                  steps=steps, step_size=step_size, jitter=jitter, tile=tile)
    if sources:
        changes.update(source=sources[0], source_sha256=None)
    if transform is not None:
        changes["transforms"] = () if [t.strip().lower() for t in transform] == ["none"] else tuple(transform)
    if keyframe is not None:
        changes["keyframes"] = tuple(keyframe)
    for name, value in dict(frames=frames, seed=seed, fps=fps).items():
        if value is not None:
            changes[name] = value
    if size is not None:
        changes["size"] = parse_size(size)
    final = replace(base, **changes)
    if not isinstance(final.settings, DreamSettings):
        raise ReverieError("recipe settings are invalid")

    recipe_folder = recipe.parent if recipe is not None and not sources else output if resume else None
    try:
        with frame_bar("animating", quiet, stderr) as callback:
            result = run_animate(final, output, progress=callback, resume=resume, device=device,
                                 recipe_folder=recipe_folder)
    except KeyboardInterrupt:
        from reverie.io.frames import finished_frames

        done = finished_frames(output)
        print(f"reverie: interrupted; {done} of {final.frames} frames are finished in {output}; "
              f"continue with: reverie animate -o {quoted(output)} --resume", file=sys.stderr)
        raise SystemExit(130) from None  # typer.Exit would be returned, not raised, by app(standalone_mode=False)
    count, first = result.recipe.frames, result.first_index
    if first == count and resume:
        message = f"all {count} frames in {output} were already finished"
    else:
        message = f"wrote {count} frames to {output}" + (f" (resumed at frame {first})" if first else "")
    try:
        written = _encode(result.frames(), gif, mp4, fps or result.recipe.fps, loop, quality, False, False)
    except KeyboardInterrupt:
        print(f"reverie: interrupted while encoding; the {count} frames are in {output}; "
              f"encode them with: reverie encode {quoted(output)} --gif FILE --mp4 FILE", file=sys.stderr)
        raise SystemExit(130) from None
    _say(message + "".join(f" and {path}" for path in written))


def encode(
    folder: Annotated[Path, typer.Argument(help="Folder of numbered frames (frame-00000.png ...).", show_default=False)],
    gif: GifOption = None, mp4: Mp4Option = None, fps: FpsOption = None, loop: LoopOption = 0,
    quality: QualityOption = 18, reverse: ReverseOption = False, pingpong: PingpongOption = False,
) -> None:
    """(Re)encode a folder of frames as an animated GIF and/or an MP4."""
    from reverie.io.frames import FrameFolder
    from reverie.pipelines.animate import read_folder_recipe

    if gif is None and mp4 is None:
        raise ReverieError("give --gif FILE and/or --mp4 FILE to write")
    _check_encode_targets(gif, mp4, fps, loop, quality)
    frames = FrameFolder(folder)
    if fps is None:
        stored = read_folder_recipe(folder)
        fps = stored.fps if stored is not None else 12.0
    written = _encode(frames, gif, mp4, fps, loop, quality, reverse, pingpong)
    _say(f"wrote {' and '.join(map(str, written))} from {len(frames)} frames at {fps:g} fps")


def _check_encode_targets(gif: Path | None, mp4: Path | None, fps: float | None, loop: int, quality: int) -> None:
    """Mistakes in the encoding flags are reported before any frame is dreamed."""
    from reverie.io.frames import MAX_GIF_FPS

    if gif is not None and gif.suffix.lower() != ".gif":
        raise ReverieError(f"--gif needs a .gif file name, got {gif}")
    if mp4 is not None and mp4.suffix.lower() != ".mp4":
        raise ReverieError(f"--mp4 needs a .mp4 file name, got {mp4}")
    if fps is not None and not 0 < fps <= 240:
        raise ReverieError(f"fps must be above 0 and at most 240, got {fps:g}")
    if gif is not None and fps is not None and fps > MAX_GIF_FPS:
        raise ReverieError(f"a GIF plays at most {MAX_GIF_FPS} fps (its delays are hundredths of a second); "
                           f"got {fps:g}; use --mp4 for more")
    if not 0 <= loop <= 65536:
        raise ReverieError(f"loop must be 0 (for ever) or the number of plays up to 65536, got {loop}")
    if not 0 <= quality <= 51:
        raise ReverieError(f"quality (x264 CRF) must be from 0 (lossless) to 51, got {quality}")
    if mp4 is not None:
        from reverie.io.video import ffmpeg_exe

        ffmpeg_exe()  # says how to install imageio-ffmpeg if it is missing


def _encode(frames, gif: Path | None, mp4: Path | None, fps: float, loop: int, quality: int,
            reverse: bool, pingpong: bool) -> list[Path]:
    from reverie.io.frames import ordered_frames, write_gif

    written = []
    if gif is not None:
        written.append(write_gif(gif, frames, fps=min(fps, 50), loop=loop, reverse=reverse, pingpong=pingpong))
    if mp4 is not None:
        from reverie.io.video import write_mp4

        written.append(write_mp4(mp4, ordered_frames(frames, reverse, pingpong), fps=fps, quality=quality))
    return written


def _say(text: str) -> None:
    """One line on stderr, unwrapped (paths stay whole for copying) and not read as Rich markup."""
    stderr.print(text, soft_wrap=True, markup=False, highlight=False)
