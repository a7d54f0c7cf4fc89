"""The dream-video pipeline: a video -> every frame dreamed with temporal coherence -> frame folder -> MP4.

Frame k is dreamed starting from source frame k plus ``blend`` times frame k-1's dream detail
(dreamed minus source), moved along the optical flow from source frame k-1 to k; so the dream's
patterns stay on the objects they grew on instead of boiling anew every frame.

A folder holds the frames, as an animation's does: ``recipe.json`` and ``frame-00000.png`` ...,
each written atomically as soon as it is dreamed. The only state carried from frame to frame is the
previous source frame (decoded again from the video) and the previous dreamed frame (read back from
its PNG; the uninterrupted run carries the same 8-bit image), so a resumed run gives the same frames.
The MP4 keeps the source's frame rate and audio track.
"""
from __future__ import annotations

import itertools
import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

import torch
from torch import nn

from reverie.engine.budget import Cost, check_cost
from reverie.engine.deepdream import DreamSettings, dream_cost
from reverie.engine.progress import ProgressCallback, StopSignal
from reverie.engine.video import VIDEO_BLEND, VIDEO_SETTINGS, dream_video_frames
from reverie.errors import ReverieError
from reverie.fields import option
from reverie.imaging import Size, resize
from reverie.io.atomic import folder_lock, probe_prefix
from reverie.io.frames import FrameFolder, finished_frames, frame_path
from reverie.io.images import read_image
from reverie.io.video import DEFAULT_QUALITY, read_video, write_mp4
from reverie.models import ModelSpec, model_on_device, resolve_device
from reverie.objectives import Objective
from reverie.pipelines import frame_folder
from reverie.pipelines.prepare import (
    checked,
    dream_settings_for,
    file_sha256,
    input_path,
    live_name,
    model_field,
    objective_from,
    refuse_untrusted,
    text_of,
    replayable,
)
from reverie.pipelines.result import FramesResult, tracker_for
from reverie.recipe import MAX_DREAM_SIDE, MAX_FRAMES, Recipe, check_size

# Fields that do not change any frame's pixels, so a resume may differ in them. The input is
# compared by its bytes' hash, not by how its path was written.
_NOT_IN_PIXELS = ("source", "fps", "frames", "version", "made_with", "frame_index", "stopped_at")


@dataclass(frozen=True)
class VideoRecipe(Recipe):
    """Everything needed to replay a dreamed video: frame k is dreamed from source frame k plus
    ``blend`` times frame k-1's dream detail (dreamed minus source), moved along the optical flow."""

    KIND: ClassVar[str] = "video"
    source: str = option("", "the input video file path, as given", flag=False, max_length=4096, file="INPUT")
    source_sha256: str | None = option(None, "of the input file's bytes, to notice a changed input on resume",
                                       flag=False, max_length=64)
    size: tuple[int, int] | None = option(None, "WIDTHxHEIGHT every frame is resized to; default: the video's",
                                          low=1)
    objective: str = option("", "objective expression; empty: the model's default layers", max_length=10_000)
    settings: DreamSettings = option(default_factory=lambda: VIDEO_SETTINGS, help="each frame's dream", flag=False)
    blend: float = option(VIDEO_BLEND, "share of the previous frame's dream detail a frame starts with", low=0,
                          high=1)
    flow: bool = option(True, "move that detail along the optical flow; off: leave it in place")
    occlusion: bool = option(True, "with flow: carry detail only where the forward and backward flows agree "
                                   "(uncovered or unsure pixels are dreamed anew)", absent=False)
    fps: float | None = option(None, "the source's frame rate, kept by the output", low=0.01, high=1000, flag=False)
    frames: int | None = option(None, "the source's frame count", low=1, high=MAX_FRAMES, flag=False)
    frame_index: int | None = option(None, "set in a frame file's copy: which frame it is", low=0,
                                     high=MAX_FRAMES - 1, flag=False)

    def __post_init__(self):
        check_size(self.size, "video", MAX_DREAM_SIDE)  # first: its message beats the generic one
        super().__post_init__()
        if self.frames is not None and self.frame_index is not None and self.frame_index >= self.frames:
            raise ReverieError(f"frame-index must be below frames ({self.frames}), got {self.frame_index}")


@dataclass(frozen=True)
class VideoResult(FramesResult):
    """A dreamed video: the MP4 (``output``), the folder of its frames, and the recipe that made them."""


DreamedVideo = VideoResult  # earlier name


def default_frames_dir(output: str | os.PathLike) -> Path:
    """Where the frames of ``output`` go unless told: ``clip-frames/`` beside ``clip.mp4``."""
    output = Path(output)
    return output.with_name(f"{output.stem}-frames")


@replayable
def run(recipe: VideoRecipe, output: str | os.PathLike, *, progress: ProgressCallback | None = None,
        stop: StopSignal | None = None, device: str | torch.device = "auto",
        frames_dir: str | os.PathLike | None = None, quality: int = DEFAULT_QUALITY, resume: bool = False,
        model: nn.Module | None = None, objective: Objective | None = None,
        recipe_folder: str | os.PathLike | None = None) -> VideoResult:
    """Dream the video ``recipe.source`` into ``output`` (an .mp4), frame by frame.

    Frames go to ``frames_dir`` (default: :func:`default_frames_dir`) as soon as each is dreamed;
    ``resume=True`` continues from the last finished frame there (its ``recipe.json`` must describe
    the same frames). The MP4 (x264 CRF ``quality``) keeps the source's frame rate and audio, and
    is written atomically at the end; a stopped run writes the MP4 of the frames finished so far.
    ``progress`` gets every dream step (``frame_index`` says which frame). ``model``/``objective``
    replace the recipe's; ``recipe_folder``: where a relative input path is also looked for.
    """
    refuse_untrusted(recipe.model, model)
    output = _check_output(output)
    if isinstance(quality, bool) or not isinstance(quality, int) or not 0 <= quality <= 51:
        raise ReverieError(f"MP4 quality (x264 CRF) must be a whole number from 0 (lossless) to 51, got {quality!r}")
    folder = Path(frames_dir) if frames_dir is not None else default_frames_dir(output)
    stored = frame_folder.check_folder(folder, resume, VideoRecipe, what="frames folder",
                                       held="already holds dreamed frames; pass --resume to continue them, "
                                            "or choose another --frames-dir")

    # Inputs first, each mistake a ReverieError, before any long work or any file is written.
    if not recipe.source:
        raise ReverieError("no input video given")
    path = input_path(recipe, "source", "input video", recipe_folder)
    sources, fps, frame_count, _ = read_video(path)
    if frame_count < 1:
        raise ReverieError(f"video {path} has no frames")
    if frame_count > MAX_FRAMES:
        raise ReverieError(f"video {path} has {frame_count} frames; at most {MAX_FRAMES} can be dreamed")
    model, model_device = model_on_device(recipe.model, model, resolve_device(device))
    if objective is None:
        objective = objective_from(recipe.objective, recipe.model, model)
    checked(objective, model)
    settings = dream_settings_for(model, objective, recipe.settings)
    recipe = replace(recipe, objective=text_of(objective) or live_name(objective), source_sha256=file_sha256(path),
                     fps=fps, frames=frame_count, frame_index=None)

    first_frame = next(sources, None)
    if first_frame is None:
        raise ReverieError(f"video {path} has no frames")
    sources = itertools.chain([first_frame], sources)
    shape = tuple(recipe.size[::-1]) if recipe.size is not None else tuple(first_frame.shape[-2:])
    frame_cost = dream_cost(shape, settings)
    check_cost(Cost(frame_cost.work * frame_count, frame_cost.memory, frame_cost.pixels),
               f"this video of {frame_count} frames", "the size, octaves or steps", model_device)
    for where in (output.parent, folder):
        _check_writable(where)
    with folder_lock(folder, "frames folder"):  # one render at a time in a folder
        stored = frame_folder.check_folder(folder, resume, VideoRecipe, what="frames folder",
                                           held="was just taken by another run; choose another --frames-dir")
        if stored is not None:
            frame_folder.check_same_frames(
                stored, recipe, folder, not_in_pixels=_NOT_IN_PIXELS, start_over="choose another --frames-dir",
                source_changed=f"the input {recipe.source} differs from the video the frames in {folder} were made "
                               "from; pass the original video or choose another --frames-dir")
        else:
            frame_folder.write_recipe(folder, replace(recipe, stopped_at=None))
        frame_folder.remove_stale_frames(folder)

        # [1, 3, H, W] source frames, resized when the recipe says, on the model's device
        sources = (_prepared(frame, recipe.size, model_device) for frame in sources)
        first_index = min(finished_frames(folder), frame_count)
        carried = None
        if first_index > 0:
            # Decode up to the last finished frame again: its source frame is half of the carried state.
            previous_source = next(itertools.islice(sources, first_index - 1, None), None)
            if previous_source is None:
                raise ReverieError(f"video {path} has fewer frames than the {first_index} finished in {folder}")
            previous_dreamed = read_image(frame_path(folder, first_index - 1)).to(model_device)
            if previous_dreamed.shape != previous_source.shape:
                raise ReverieError(f"frame {first_index - 1} in {folder} is {previous_dreamed.shape[-1]}x"
                                   f"{previous_dreamed.shape[-2]}, not the video's "
                                   f"{previous_source.shape[-1]}x{previous_source.shape[-2]}")
            carried = (previous_source, previous_dreamed)

        tracker = tracker_for(recipe, progress, stop)
        frames = dream_video_frames(model, objective, settings, sources, blend=recipe.blend, flow=recipe.flow,
                                    occlusion=recipe.occlusion, seed=recipe.seed, first_index=first_index, carried=carried, count=frame_count,
                                    progress=tracker, stop=tracker)
        limit = frame_folder.frame_limit(recipe, first_index)
        if limit is not None:
            frames = itertools.islice(frames, limit)
        frame_folder.save_frames(folder, frames, recipe)
        done = finished_frames(folder)
        stopped = tracker.stopped or done < frame_count
        written = None
        finished = frame_folder.frames_recipe(recipe, folder, frame_count, stopped)
        if done > 0:
            write_mp4(output, FrameFolder(folder), fps=fps, quality=quality, audio_from=path,
                      recipe_json=finished.to_json())
            written = output
        return VideoResult(finished, stopped, folder, first_index, written)


def dream_video(input: str | os.PathLike | VideoRecipe, output: str | os.PathLike = "dreamed.mp4", *,
                model: str | ModelSpec | nn.Module = "efficientnet-lite0", objective: str | Objective | None = None,
                settings: DreamSettings = VIDEO_SETTINGS, blend: float = VIDEO_BLEND, flow: bool = True,
                seed: int = 0, size: tuple[int, int] | None = None, frames_dir: str | os.PathLike | None = None,
                quality: int = DEFAULT_QUALITY, resume: bool = False, device: str | torch.device = "auto",
                progress: ProgressCallback | None = None, stop: StopSignal | None = None) -> VideoResult:
    """Dream every frame of the video ``input`` into the MP4 ``output``; see :func:`run`.

    ``model``: a registered name or any ``nn.Module`` taking [0, 1] RGB. ``objective``: any
    Objective, expression text, or None for the model's default layers. ``size``: (width, height)
    to resize the frames to. A :class:`VideoRecipe` as the first argument runs that recipe.
    """
    spec, module = model_field(model)
    recipe = input if isinstance(input, VideoRecipe) else VideoRecipe(
        source=str(input), size=size, model=spec, objective=objective if isinstance(objective, str) else "",
        settings=settings, blend=blend, flow=flow, seed=seed)
    return run(recipe, output, model=module, objective=objective if isinstance(objective, Objective) else None,
               frames_dir=frames_dir, quality=quality, resume=resume, device=device, progress=progress, stop=stop)


def read_folder_recipe(folder: str | os.PathLike) -> VideoRecipe | None:
    """The recipe a dreamed video's frame folder was made with, or None if it has none."""
    return frame_folder.read_folder_recipe(folder, VideoRecipe)


def _prepared(frame: torch.Tensor, size: tuple[int, int] | None, device: torch.device) -> torch.Tensor:
    if size is not None:
        frame = resize(frame, Size(*size).shape)
    return frame.to(device)


def _check_output(output: str | os.PathLike) -> Path:
    output = Path(output)
    if output.suffix.lower() != ".mp4":
        raise ReverieError(f"the dreamed video is written as an MP4; give an output ending in .mp4, got {output}")
    if output.is_dir():
        raise ReverieError(f"output path is a folder: {output}")
    return output


def _check_writable(folder: Path) -> None:
    """Create ``folder`` and write a file in it now, not after an hour of dreaming."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=probe_prefix(), suffix=".probe"):
            pass
    except OSError as error:
        raise ReverieError(f"cannot write in {folder}: {error.strerror or error}") from None
