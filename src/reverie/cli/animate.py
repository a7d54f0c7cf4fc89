"""``reverie animate`` and ``reverie encode``: dream animations into a frame folder, and GIF/MP4 from it."""
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
    sample_name: Annotated[Optional[str], typer.Option("--sample", help="Bundled photo: chelsea, coffee, astronaut, rocket.")] = None,
    noise_start: Annotated[bool, typer.Option("--noise", help="Start from noise instead of a photo.")] = False,
    model: Annotated[Optional[str], typer.Option(help="Model name, module:callable, or .pt2 torch.export file. [default: efficientnet-lite0]", show_default=False)] = None,
    weights: Annotated[Optional[str], typer.Option(help="State-dict file to load into the model.")] = None,
    normalize: Annotated[Optional[str], typer.Option(help="Input normalization the model expects: none, imagenet, inception.")] = None,
    layer: Annotated[Optional[list[str]], typer.Option("--layer", "-l", help="Layer to amplify (repeatable; LAYER=WEIGHT to weight).")] = None,
    channel: Annotated[Optional[list[str]], typer.Option("--channel", "-c", help="Channel index of the layer, or LAYER:INDEX (repeatable).")] = None,
    objective: Annotated[Optional[str], typer.Option(help='Objective expression, e.g. "layer(blocks.6) + 0.5*channel(blocks.9, 7)".')] = None,
    octaves: Annotated[Optional[int], typer.Option(help="Octaves per frame. [default: 2]", show_default=False)] = None,
    octave_scale: Annotated[Optional[float], typer.Option(help="Size ratio between octaves. [default: 1.4]", show_default=False)] = None,
    steps: Annotated[Optional[int], typer.Option(help="Steps per octave per frame. [default: 6]", show_default=False)] = None,
    step_size: Annotated[Optional[float], typer.Option(help="Pixel change per step (0-1 scale). [default: 0.01]", show_default=False)] = None,
    jitter: Annotated[Optional[int], typer.Option(help="Max random shift per step, in px. [default: 32]", show_default=False)] = None,
    tile: Annotated[Optional[int], typer.Option(help="Max tile side in px. [default: 512]", show_default=False)] = None,
    size: Annotated[Optional[str], typer.Option(help="Frame size WIDTHxHEIGHT (the input, or noise, is resized).")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Random seed; the same seed gives the same frames. [default: 0]", show_default=False)] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    recipe: Annotated[Optional[Path], typer.Option(help="Start from the recipe in a recipe.json or frame file; other flags override it.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the animation in the output folder from its last finished frame.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Dream animation: each frame is the dream of the previous frame, moved by frame transforms."""
    from reverie.cli.main import _objective_from_flags
    from reverie.engine.deepdream import DreamSettings
    from reverie.errors import unknown_name_message
    from reverie.imaging import SAMPLES
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

    sources = [s for s in (input, sample_name and f"sample:{sample_name}", noise_start and "noise") if s]
    if len(sources) > 1:
        raise ReverieError("give only one of INPUT, --sample and --noise")
    if sample_name is not None and sample_name not in SAMPLES:
        raise ReverieError(unknown_name_message("sample", sample_name, SAMPLES))
    if objective is not None and (layer or channel):
        raise ReverieError("give either --objective or --layer/--channel, not both")
    if channel and not layer and not all(":" in c for c in channel):
        raise ReverieError("--channel needs a --layer (or write --channel LAYER:INDEX)")

    setting_flags = dict(octaves=octaves, octave_scale=octave_scale, steps=steps, step_size=step_size,
                         jitter=jitter, tile=tile)
    changes: dict = {"frame_index": None, "version": __version__}
    if any(value is not None for value in setting_flags.values()):
        changes["settings"] = replace(base.settings, **{k: v for k, v in setting_flags.items() if v is not None})
    if sources:
        changes.update(source=sources[0], source_sha256=None)
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
        with _frame_bar(quiet) as callback:
            result = run_animate(final, output, progress=callback, resume=resume, device=device,
                                 recipe_folder=recipe_folder)
    except KeyboardInterrupt:
        from reverie.io.frames import finished_frames

        done = finished_frames(output)
        print(f"reverie: interrupted; {done} of {final.frames} frames are finished in {output}; "
              f"continue with: reverie animate -o {_quoted(output)} --resume", file=sys.stderr)
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
              f"encode them with: reverie encode {_quoted(output)} --gif FILE --mp4 FILE", file=sys.stderr)
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


@contextmanager
def _frame_bar(quiet: bool):
    """A progress bar of frames with the engine's ETA; the bar appears with the first finished frame."""
    if quiet:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn, TimeElapsedColumn

    bar = Bar(TextColumn("[bold]animating"), BarColumn(), MofNCompleteColumn(), TextColumn("frames"),
              TextColumn("score {task.fields[score]}"), TimeElapsedColumn(), TextColumn("ETA {task.fields[eta]}"),
              console=stderr, transient=False)
    task = None

    def update(event) -> None:
        nonlocal task
        if task is None:
            bar.start()
            task = bar.add_task("animating", total=event.steps, completed=event.step - 1, score="", eta="")
        bar.update(task, completed=event.step, score=f"{event.score:.3g}", eta=_duration(event.seconds_left))
    try:
        yield update
    finally:
        if task is not None:
            bar.stop()


def _say(text: str) -> None:
    """One line on stderr, unwrapped (paths stay whole for copying) and not read as Rich markup."""
    stderr.print(text, soft_wrap=True, markup=False, highlight=False)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = round(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _quoted(path: Path) -> str:
    import shlex

    return shlex.quote(str(path))
