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

import hashlib
import itertools
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn

from reverie.engine.animate import quantize
from reverie.engine.deepdream import DreamSettings, deep_dream
from reverie.engine.flow import optical_flow, warp
from reverie.engine.progress import ProgressCallback
from reverie.errors import ReverieError
from reverie.imaging import check_image, resize
from reverie.io.frames import FrameFolder, finished_frames, frame_path
from reverie.io.images import read_image
from reverie.io.video import DEFAULT_QUALITY, read_video, write_mp4
from reverie.models import ModelSpec, layer_shapes, model_on_device, min_input_side
from reverie.objectives import Objective
from reverie.pipelines import frame_folder
from reverie.pipelines.dream import build_objective, locate_source
from reverie.randomness import generator, randint
from reverie.recipe import MAX_ANIMATION_FRAMES, VIDEO_BLEND, VIDEO_SETTINGS, VideoRecipe

# Fields that do not change any frame's pixels, so a resume may differ in them. The input is
# compared by its bytes' hash, not by how its path was written.
_NOT_IN_PIXELS = ("source", "fps", "frames", "version", "frame_index")


@dataclass(frozen=True)
class VideoFrame:
    """One dreamed frame, as the loop yields it."""

    frame_index: int
    image: torch.Tensor   # [1, 3, H, W] in [0, 1], on 8-bit levels (what its PNG stores)
    score: float          # the objective's value at the frame's last dream step


def dream_video_frames(model: nn.Module, objective: Objective, settings: DreamSettings,
                       sources: Iterable[torch.Tensor], *, blend: float = VIDEO_BLEND, flow: bool = True,
                       seed: int = 0, first_index: int = 0,
                       carried: tuple[torch.Tensor, torch.Tensor] | None = None) -> Iterator[VideoFrame]:
    """Dream each of ``sources`` (source frames ``first_index``, ``first_index + 1`` ..., each
    [1, 3, H, W] in [0, 1]), yielding each dreamed frame as soon as it is done.

    Frame k starts from ``source[k] + blend * warp(dreamed[k-1] - source[k-1], flow)``, the flow
    running from source frame k-1 to k (:func:`reverie.engine.flow.optical_flow`); with
    ``flow=False`` the detail is carried in place, unmoved, and ``blend=0`` dreams every frame
    afresh. The first frame, with nothing carried, takes ``steps / (1 - blend) / 2`` steps
    per octave (at least ``steps``).
    ``carried``: (source, dreamed) of frame ``first_index - 1`` when resuming, else None.
    Frame k's randomness comes from ``generator(seed, "frame", k)`` alone, and the dreamed frame is
    carried as its PNG stores it, so resuming from the files gives the frames an uninterrupted run gives.
    """
    # Carried detail settles where each frame adds what it loses. Were dreaming linear that would be
    # new / (1 - blend), steps / (1 - blend) steps' worth; measured, it is about half of that (warping
    # blurs the detail, and a formed pattern gains less per step): with the defaults (4 steps, blend
    # 0.8) frames settle at the strength of 10 steps from scratch. The first frame has nothing to
    # carry, so it takes those steps at once and the dream does not fade in over the first second.
    first = replace(settings, steps=max(settings.steps, round(settings.steps / max(1 - blend, 0.05) / 2)))
    previous = carried
    for frame_index, source in enumerate(sources, start=first_index):
        check_image(source, f"source frame {frame_index}")
        start = source
        if previous is not None and blend > 0:
            previous_source, previous_dreamed = previous
            if previous_source.shape != source.shape or previous_dreamed.shape != source.shape:
                raise ReverieError(f"frame {frame_index} is {source.shape[-1]}x{source.shape[-2]}, not the "
                                   f"{previous_dreamed.shape[-1]}x{previous_dreamed.shape[-2]} of the frame before")
            with torch.no_grad():
                detail = previous_dreamed - previous_source  # [1, 3, H, W], signed: what the dream added
                if flow:
                    # Detail moved in from outside the frame is 0: nothing dreamed there yet.
                    detail = warp(detail, optical_flow(previous_source, source), padding="zeros")
                start = (source + blend * detail).clamp(0, 1)
        dream_seed = randint(generator(seed, "frame", frame_index), 0, 2**62)
        last_score = [float("nan")]
        dreamed = deep_dream(model, objective, start, settings if previous is not None else first, dream_seed,
                             progress=lambda event: last_score.__setitem__(0, event.score))
        # Carry the frame as its 8-bit PNG stores it: a resumed run can only read the PNG back.
        dreamed = quantize(dreamed.detach())
        yield VideoFrame(frame_index, dreamed, last_score[0])
        previous = (source, dreamed)


@dataclass(frozen=True)
class DreamedVideo:
    """A dreamed video: the MP4, the folder of its frames, and the recipe that made them."""

    output: Path
    folder: Path
    recipe: VideoRecipe
    first_index: int      # the frame this run started at (0, or where a resumed run picked up)

    def frames(self) -> FrameFolder:
        """The frames on disk, read one at a time when indexed: [1, 3, H, W] in [0, 1]."""
        return FrameFolder(self.folder)


def default_frames_dir(output: str | os.PathLike) -> Path:
    """Where the frames of ``output`` go unless told: ``clip-frames/`` beside ``clip.mp4``."""
    output = Path(output)
    return output.with_name(f"{output.stem}-frames")


def run(recipe: VideoRecipe, output: str | os.PathLike, *, frames_dir: str | os.PathLike | None = None,
        quality: int = DEFAULT_QUALITY, resume: bool = False, model: nn.Module | None = None,
        device: str | torch.device = "auto", progress: ProgressCallback | None = None,
        recipe_folder: str | os.PathLike | None = None) -> DreamedVideo:
    """Dream the video ``recipe.source`` into ``output`` (an .mp4), frame by frame.

    Frames go to ``frames_dir`` (default: :func:`default_frames_dir`) as soon as each is dreamed;
    ``resume=True`` continues from the last finished frame there (its ``recipe.json`` must describe
    the same frames). The MP4 (x264 CRF ``quality``) keeps the source's frame rate and audio, and
    is written atomically at the end. ``progress`` gets a :class:`reverie.engine.animate.FrameProgress`
    after each frame is on disk. ``model`` overrides the recipe's (for library callers);
    ``recipe_folder``: where a relative input path is also looked for.
    """
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
    path = locate_source(recipe.source, recipe_folder)
    sources, fps, frame_count, _ = read_video(path)
    if frame_count < 1:
        raise ReverieError(f"video {path} has no frames")
    if frame_count > MAX_ANIMATION_FRAMES:
        raise ReverieError(f"video {path} has {frame_count} frames; at most {MAX_ANIMATION_FRAMES} can be dreamed")
    model, model_device = model_on_device(ModelSpec(recipe.model, recipe.weights, recipe.normalize), model, device)
    objective = build_objective(recipe.objective, recipe.model, model)
    objective.check(layer_shapes(model, objective.layers))
    settings = recipe.settings
    smallest = min_input_side(model, objective.layers)
    if smallest > settings.min_octave_size:
        settings = replace(settings, min_octave_size=smallest)
    recipe = replace(recipe, objective=objective.expression(), source_sha256=_sha256(path), fps=fps,
                     frames=frame_count, frame_index=None)

    for where in (output.parent, folder):
        _check_writable(where)
    if stored is not None:
        frame_folder.check_same_frames(
            stored, recipe, folder, not_in_pixels=_NOT_IN_PIXELS, start_over="choose another --frames-dir",
            source_changed=f"the input {recipe.source} differs from the video the frames in {folder} were made "
                           "from; pass the original video or choose another --frames-dir")
    else:
        frame_folder.write_recipe(folder, recipe)
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

    frames = dream_video_frames(model, objective, settings, sources, blend=recipe.blend, flow=recipe.flow,
                                seed=recipe.seed, first_index=first_index, carried=carried)
    frame_folder.save_frames(folder, frames, recipe, frame_count, progress)
    write_mp4(output, FrameFolder(folder), fps=fps, quality=quality, audio_from=path)
    return DreamedVideo(output, folder, recipe, first_index)


def dream_video(input: str | os.PathLike, output: str | os.PathLike, *,
                model: str | nn.Module = "efficientnet-lite0", objective: str | Objective | None = None,
                settings: DreamSettings = VIDEO_SETTINGS, blend: float = VIDEO_BLEND, flow: bool = True,
                seed: int = 0, size: tuple[int, int] | None = None, **options) -> DreamedVideo:
    """Dream every frame of the video ``input`` into the MP4 ``output``; see :func:`run`.

    ``model``: a registered name or any ``nn.Module`` taking [0, 1] RGB. ``objective``: an
    Objective, expression text, or None for the model's default layers. ``size``: (width, height)
    to resize the frames to. ``options``: ``frames_dir``, ``quality``, ``resume``, ``device``, ``progress``.
    """
    model_name = model if isinstance(model, str) else f"custom:{type(model).__name__}"
    if isinstance(objective, Objective):
        objective = objective.expression()
    recipe = VideoRecipe(source=str(input), size=size, model=model_name, objective=objective or "",
                         settings=settings, blend=blend, flow=flow, seed=seed)
    return run(recipe, output, model=None if isinstance(model, str) else model, **options)


def read_folder_recipe(folder: str | os.PathLike) -> VideoRecipe | None:
    """The recipe a dreamed video's frame folder was made with, or None if it has none."""
    return frame_folder.read_folder_recipe(folder, VideoRecipe)


def _prepared(frame: torch.Tensor, size: tuple[int, int] | None, device: torch.device) -> torch.Tensor:
    if size is not None:
        frame = resize(frame, (size[1], size[0]))
    return frame.to(device)


def _sha256(path: Path) -> str:
    """Of a file's bytes, read a megabyte at a time (a video may not fit in memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


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
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".reverie-", suffix=".probe"):
            pass
    except OSError as error:
        raise ReverieError(f"cannot write in {folder}: {error.strerror or error}") from None
