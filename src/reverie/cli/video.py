"""``reverie dream-video``: dream every frame of a video, the dream following the motion, resumably."""
from __future__ import annotations

# Modules that load torch are imported inside the commands, not here: `reverie --help` must answer in
# well under a second (bench/startup.py).
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from reverie.cli.common import (
    MP4_QUALITY,
    ChannelsOption,
    DeviceOption,
    FinishOption,
    LayersOption,
    MaxWorkOption,
    OverwriteInputOption,
    QualityOption,
    QuietOption,
    RecipeOption,
    dream_objective,
    quoted,
    say,
)
from reverie.cli.flags import (
    base_recipe,
    field_help,
    note_version,
    recipe_flags,
    with_flags,
)
from reverie.cli.task import report_frames_stop, run_task
from reverie.errors import ReverieError


@recipe_flags("video")
def dream_video(
    input: Annotated[Optional[str], typer.Argument(help="Video to dream (anything ffmpeg reads); may be omitted with --recipe or --resume.", show_default=False)] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Output video (.mp4), with the input's frame rate and audio.")] = Path("dream.mp4"),
    frames_dir: Annotated[Optional[Path], typer.Option(help="Folder for the dreamed frames and recipe.json. [default: OUTPUT's name + -frames, beside it]", show_default=False)] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the last finished frame in the frames folder.")] = False,
    flow: Annotated[Optional[str], typer.Option(help=field_help("video", "flow", " (on or off)"), show_default=False)] = None,
    quality: QualityOption = MP4_QUALITY,
    layer: LayersOption = None, channel: ChannelsOption = None,
    device: DeviceOption = "auto", max_work: MaxWorkOption = None, overwrite_input: OverwriteInputOption = False,
    recipe: RecipeOption = None, finish: FinishOption = False, quiet: QuietOption = False,
    **flags,
) -> None:
    """Dream every frame of a video; each frame carries the last one's dream along the motion."""
    from reverie.pipelines.video import default_frames_dir, read_folder_recipe

    if output.suffix.lower() != ".mp4":
        raise ReverieError(f"the dreamed video is written as an MP4; give -o a name ending in .mp4, got {output}")
    if not 0 <= quality <= 51:
        raise ReverieError(f"quality (x264 CRF) must be from 0 (lossless) to 51, got {quality}")
    if flow is not None and flow.lower() not in ("on", "off"):
        raise ReverieError(f"flow must be on or off, got '{flow}'")
    folder = frames_dir if frames_dir is not None else default_frames_dir(output)
    if recipe is None and resume and (stored := read_folder_recipe(folder)) is not None:
        note_version(stored)
        base = stored  # resuming with no flags continues exactly what the folder holds
    else:
        base = base_recipe("video", recipe, finish)
    objective = dream_objective(flags.pop("objective"), layer, channel)
    changes: dict = {} if objective is None else {"objective": objective}
    if flow is not None:
        changes["flow"] = flow.lower() == "on"
    if input is not None:
        changes.update(source=input, source_sha256=None)
    elif not base.source:
        raise ReverieError("give the video to dream: reverie dream-video IN.mp4 -o OUT.mp4")
    final = with_flags(base, flags, **changes)

    again = (f"reverie dream-video {quoted(Path(final.source))} -o {quoted(output)} --frames-dir {quoted(folder)} "
             "--resume")
    try:
        result, interrupted = run_task(final, "dreaming video", quiet=quiet, device=device, max_work=max_work,
                                       overwrite_input=overwrite_input, outputs=(output,), output=output,
                                       frames_dir=folder, quality=quality, resume=resume)
    except KeyboardInterrupt:  # a second Ctrl-C: the finished frames are on disk all the same
        from reverie.io.frames import finished_frames

        done = finished_frames(folder)
        print(f"reverie: interrupted; {done} frame{'' if done == 1 else 's'} finished in {folder}; "
              f"continue with: {again}", file=sys.stderr)
        raise SystemExit(130) from None  # typer.Exit would be returned, not exited, under standalone_mode=False
    report_frames_stop(result, interrupted, again)
    started = f" (resumed at frame {result.first_index})" if result.first_index else ""
    say(f"wrote {result.output}: {result.recipe.frames} frames at {result.recipe.fps:g} fps{started}; "
        f"frames in {result.folder}")
