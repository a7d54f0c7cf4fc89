"""``reverie animate`` and ``reverie encode``: dream animations into a frame folder, and GIF/MP4 from it."""
from __future__ import annotations

# Modules that load torch are imported inside the commands, not here: `reverie --help` must answer in
# well under a second (bench/startup.py).
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from reverie.animation_presets import preset as find_preset
from reverie.animation_presets import presets_help
from reverie.cli.common import (
    MP4_QUALITY,
    ChannelsOption,
    DeviceOption,
    FinishOption,
    LayersOption,
    MaxWorkOption,
    NoiseOption,
    PerlinOption,
    OverwriteInputOption,
    QualityOption,
    QuietOption,
    RecipeOption,
    SampleOption,
    dream_objective,
    quoted,
    say,
    start_sources,
)
from reverie.cli.flags import base_recipe, note_version, recipe_flags, with_flags
from reverie.cli.task import report_frames_stop, run_task
from reverie.errors import ReverieError

# Options of the encoders, which no recipe holds (encode reads a finished folder).
FpsOption = Annotated[Optional[float], typer.Option(help="Frames per second of the GIF/MP4. [default: the folder recipe's, else 12]", show_default=False)]
GifOption = Annotated[Optional[Path], typer.Option(help="Also write an animated GIF here.")]
Mp4Option = Annotated[Optional[Path], typer.Option(help="Also write an H.264 MP4 here.")]
DelayOption = Annotated[Optional[int], typer.Option("--delay", help="GIF frame delay in hundredths of a second, as convert -delay 7; replaces --fps for the GIF. [default: the folder recipe's, else from the fps]", show_default=False)]
LoopOption = Annotated[int, typer.Option(help="GIF plays: 0 = for ever, 1 = once, N = N times.")]
ReverseOption = Annotated[bool, typer.Option("--reverse", help="Play the frames backwards.")]
PingpongOption = Annotated[bool, typer.Option("--pingpong", help="Play forward, then back (2N-2 frames).")]
PresetOption = Annotated[Optional[str], typer.Option(
    "--preset", help="A named effect; fills in -t and --frames where not given: " + presets_help() + ".",
    show_default=False)]


def _animate_help(text: str) -> str:
    """The animate command's docstring with the frame transforms listed (kept unwrapped: click's \\b)."""
    return text + """

\b
Frame transforms (-t, repeatable, applied in order; numbers may be keys("0:0.01, 100:0.05")):
  geometry   zoom(amount)  stretch(amount, axis=1)  rotate(degrees)  translate(x, y)
             affine(a, b, c, d, tx, ty)  perlin_warp(amount, scale, speed)
  rolls      roll(axis=1, shift=N | linear(slope, offset) | sin(amplitude, period, phase), group)
             alternate_roll(shift, group)  random_shift(axis=1, low=-2, high=2, group)
  filters    sobel(colour, keep="none"|"colour"|"luminance", mix=0.5, match=1)  prewitt(...)
             blur(sigma)  sharpen(amount, sigma)
  colour     colour_match(amount=1)  hue_shift(degrees)  posterize(levels)
             pixel_sort(axis, threshold, reverse)  blend(amount)  perlin_noise(amount, scale, speed)
  symmetry   kaleidoscope(n, angle)  mirror(axis)
"""


@recipe_flags("animate")
def animate(
    input: Annotated[Optional[str], typer.Argument(help="Image to start from; omit for the bundled sample photo.", show_default=False)] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the numbered frames and recipe.json.")] = Path("animation"),
    gif: GifOption = None, mp4: Mp4Option = None, loop: LoopOption = 0, quality: QualityOption = MP4_QUALITY,
    sample_name: SampleOption = None, noise_start: NoiseOption = False, perlin_start: PerlinOption = False,
    layer: LayersOption = None, channel: ChannelsOption = None, preset: PresetOption = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the animation in the output folder from its last finished frame.")] = False,
    device: DeviceOption = "auto", max_work: MaxWorkOption = None, overwrite_input: OverwriteInputOption = False,
    recipe: RecipeOption = None, finish: FinishOption = False, quiet: QuietOption = False,
    **flags,
) -> None:
    """Dream animation: each frame is the dream of the previous frame, moved by frame transforms."""
    from reverie.pipelines.animate import read_folder_recipe

    _check_encode_targets(gif, mp4, flags["fps"], loop, quality, flags["delay"])
    if recipe is None and resume and (stored := read_folder_recipe(output)) is not None:
        note_version(stored)
        base = stored  # resuming with no flags continues exactly what the folder holds
    else:
        base = base_recipe("animate", recipe, finish)
    sources = start_sources(input, sample_name, noise_start, perlin_start)
    objective = dream_objective(flags.pop("objective"), layer, channel)
    if preset is not None:  # a preset fills in only what the flags leave unsaid
        chosen = find_preset(preset)
        flags["transform"] = list(chosen.transforms) if flags["transform"] is None else flags["transform"]
        flags["frames"] = chosen.frames if flags["frames"] is None else flags["frames"]
    if flags["transform"] is not None and [t.strip().lower() for t in flags["transform"]] == ["none"]:
        flags["transform"] = []
    changes: dict = {} if objective is None else {"objective": objective}
    if sources:
        changes.update(source=sources[0], source_sha256=None)
    final = with_flags(base, flags, **changes)

    again = f"reverie animate{_input_again(final.source)} -o {quoted(output)} --resume"
    try:
        result, interrupted = run_task(final, "animating", quiet=quiet, device=device, max_work=max_work,
                                       overwrite_input=overwrite_input, outputs=(gif, mp4), output_dir=output,
                                       resume=resume)
    except KeyboardInterrupt:  # a second Ctrl-C: the finished frames are on disk all the same
        from reverie.io.frames import finished_frames

        print(f"reverie: interrupted; {finished_frames(output)} of {final.frames} frames are finished in {output}; "
              f"continue with: {again}", file=sys.stderr)
        raise SystemExit(130) from None  # typer.Exit would be returned, not raised, by app(standalone_mode=False)
    report_frames_stop(result, interrupted, again)
    count, first = result.recipe.frames, result.first_index
    if first == count and resume:
        message = f"all {count} frames in {output} were already finished"
    else:
        message = f"wrote {count} frames to {output}" + (f" (resumed at frame {first})" if first else "")
    try:
        written = _encode(result.frames(), gif, mp4, flags["fps"] or result.recipe.fps, loop, quality, False, False,
                          result.recipe.to_json(), result.recipe.gif_delay)
    except KeyboardInterrupt:
        print(f"reverie: interrupted while encoding; the {count} frames are in {output}; "
              f"encode them with: reverie encode {quoted(output)} --gif FILE --mp4 FILE", file=sys.stderr)
        raise SystemExit(130) from None
    say(message + "".join(f" and {path}" for path in written))


animate.__doc__ = _animate_help(animate.__doc__)


def _input_again(source: str) -> str:
    """The INPUT a resume names again (a file the folder's recipe names is read only from that folder)."""
    return "" if source.startswith(("sample:", "noise", "live:")) else f" {quoted(Path(source))}"


def encode(
    folder: Annotated[Path, typer.Argument(help="Folder of numbered frames (frame-00000.png ...).", show_default=False)],
    gif: GifOption = None, mp4: Mp4Option = None, fps: FpsOption = None, loop: LoopOption = 0,
    quality: Annotated[int, typer.Option("--quality", "-q", help="MP4 quality as x264 CRF: 0 lossless ... 51 worst.")] = MP4_QUALITY,
    reverse: ReverseOption = False, pingpong: PingpongOption = False, delay: DelayOption = None,
) -> None:
    """(Re)encode a folder of frames as an animated GIF and/or an MP4."""
    from reverie.io.frames import FrameFolder
    from reverie.pipelines.animate import read_folder_recipe

    if gif is None and mp4 is None:
        raise ReverieError("give --gif FILE and/or --mp4 FILE to write")
    _check_encode_targets(gif, mp4, fps, loop, quality, delay)
    frames = FrameFolder(folder)
    stored = read_folder_recipe(folder)  # carried into the MP4 when the frames play as dreamed
    if delay is None and fps is None and stored is not None:
        delay = stored.gif_delay  # the folder's delay, unless this command names a rate
    if fps is None:
        fps = stored.fps if stored is not None else 12.0
    written = _encode(frames, gif, mp4, fps, loop, quality, reverse, pingpong,
                      None if stored is None or reverse or pingpong else stored.to_json(), delay)
    rate = f"{fps:g} fps" if delay is None or gif is None else f"{delay}/100 s a frame"
    say(f"wrote {' and '.join(map(str, written))} from {len(frames)} frames at {rate}")


def _check_encode_targets(gif: Path | None, mp4: Path | None, fps: float | None, loop: int, quality: int,
                          delay: int | None = None) -> None:
    """Mistakes in the encoding flags are reported before any frame is dreamed."""
    from reverie.io.frames import MAX_GIF_FPS, check_delay

    if gif is not None and gif.suffix.lower() != ".gif":
        raise ReverieError(f"--gif needs a .gif file name, got {gif}")
    if mp4 is not None and mp4.suffix.lower() != ".mp4":
        raise ReverieError(f"--mp4 needs a .mp4 file name, got {mp4}")
    if fps is not None and not 0 < fps <= 240:
        raise ReverieError(f"fps must be above 0 and at most 240, got {fps:g}")
    if delay is not None:
        check_delay(delay)
    if gif is not None and fps is not None and fps > MAX_GIF_FPS and delay is None:
        raise ReverieError(f"a GIF plays at most {MAX_GIF_FPS} fps (its delays are hundredths of a second); "
                           f"got {fps:g}; use --mp4 for more")
    if not 0 <= loop <= 65536:
        raise ReverieError(f"loop must be 0 (for ever) or the number of plays up to 65536, got {loop}")
    if not 0 <= quality <= 51:
        raise ReverieError(f"quality (x264 CRF) must be from 0 (lossless) to 51, got {quality}")
    from reverie.io.images import check_writable

    for target, what in ((gif, "--gif"), (mp4, "--mp4")):
        if target is not None:
            check_writable(target, what)  # a read-only folder is found now, not after the last frame
    if mp4 is not None:
        from reverie.io.video import ffmpeg_exe

        ffmpeg_exe()  # says how to install imageio-ffmpeg if it is missing


def _encode(frames, gif: Path | None, mp4: Path | None, fps: float, loop: int, quality: int,
            reverse: bool, pingpong: bool, recipe_json: str | None = None, delay: int | None = None) -> list[Path]:
    from reverie.io.frames import ordered_frames, write_gif

    written = []
    if gif is not None:
        written.append(write_gif(gif, frames, fps=min(fps, 50), loop=loop, reverse=reverse, pingpong=pingpong,
                                 delay=delay))
    if mp4 is not None:
        from reverie.io.video import write_mp4

        written.append(write_mp4(mp4, ordered_frames(frames, reverse, pingpong), fps=fps, quality=quality,
                                 recipe_json=recipe_json))
    return written
