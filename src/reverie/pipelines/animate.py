"""The animate pipeline: recipe -> model, objectives, transforms, start frame -> frame loop -> frame files.

A folder holds one animation: ``recipe.json`` and ``frame-00000.png``, ``frame-00001.png`` ...,
each frame written atomically as soon as it is dreamed and carrying the recipe and its frame index.
Resuming reads the last finished frame back and continues; the frames come out exactly as an
uninterrupted run's (see :func:`reverie.engine.animate.dream_frames`).
"""
from __future__ import annotations

import dataclasses
import itertools
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

import torch
from PIL import Image
from torch import nn

from reverie.engine.animate import dream_frames
from reverie.engine.budget import check_cost
from reverie.engine.deepdream import DreamSettings, dream_cost
from reverie.engine.progress import ProgressCallback, StopSignal
from reverie.errors import ReverieError
from reverie.expressions import quote_name
from reverie.fields import option
from reverie.frame_transforms import parse_frame_transforms
from reverie.frame_transforms.base import FrameContext, FrameTransform
from reverie.frame_transforms.filters import ANCHORED, BARE, EdgeFilter
from reverie.imaging import Size, check_image, from_pil, resize
from reverie.io.atomic import folder_lock
from reverie.io.frames import finished_frames, frame_path
from reverie.io.images import read_image
from reverie.keyframes import Keyframes, option_keyframes
from reverie.models import ModelSpec, layer_shapes, min_input_side, model_on_device, resolve_device
from reverie.objectives import Objective, parse_objective
from reverie.pipelines import frame_folder
from reverie.pipelines.frame_folder import RECIPE_FILE
from reverie.pipelines.prepare import (
    fit_size,
    input_path,
    live_name,
    load_start,
    model_field,
    objective_from,
    refuse_untrusted,
    source_text,
    text_of,
    replayable,
)
from reverie.pipelines.result import FramesResult, tracker_for
from reverie.randomness import generator
from reverie.recipe import MAX_DREAM_SIDE, MAX_FRAMES, Recipe, check_size

# Dream options a keyframe may change; layer/channel/objective change the objective.
SETTING_OPTIONS = ("octaves", "octave_scale", "steps", "step_size", "jitter")
KEYFRAME_OPTIONS = ("layer", "channel", "objective", *SETTING_OPTIONS)
# Fields that do not change any frame's pixels, so a resume may differ in them.
_NOT_IN_PIXELS = ("fps", "gif_delay", "version", "made_with", "frame_index", "stopped_at")

# Each frame starts from an already dreamed image, so a frame needs far less dreaming than a still
# (4 x 20 steps): with 2 octaves x 6 steps the photo is fully dreamed by about frame 5, and over 100
# frames of zoom(0.02) the dream keeps recognisable structure instead of boiling into noise or
# saturating (looked at on EfficientNet-Lite0 at 256 px). The rest are the still dream's settings.
ANIMATION_SETTINGS = DreamSettings(octaves=2, steps=6)


@dataclass(frozen=True)
class AnimateRecipe(Recipe):
    """Everything needed to replay a dream animation: frame k+1 = dream(transform(frame k))."""

    KIND: ClassVar[str] = "animate"
    source: str = option("sample:chelsea", '"sample:NAME", "noise", "noise:perlin", or an image file path', flag=False,
                         max_length=4096, file="INPUT")
    source_sha256: str | None = option(None, "of the input file's bytes, to notice a changed input on resume",
                                       flag=False, max_length=64)
    size: tuple[int, int] | None = option(None, "WIDTHxHEIGHT of every frame; default: the input's", low=1)
    objective: str = option("", "objective expression; empty: the model's default layers", max_length=10_000)
    settings: DreamSettings = option(default_factory=lambda: ANIMATION_SETTINGS, help="each frame's dream",
                                     flag=False)
    transforms: tuple[str, ...] = option(("zoom(0.02)",), "frame transforms, applied in order before each dream",
                                         flag="--transform", short="-t", max_items=256, max_length=10_000)
    keyframes: tuple[str, ...] = option((), 'dream options over time: "200: layer=blocks.12, steps=8"',
                                        flag="--keyframe", short="-k", max_items=256, max_length=10_000)
    frames: int = option(100, "frames to make", low=1, high=MAX_FRAMES)
    fps: float = option(12.0, "frames per second of the GIF/MP4 (no frame depends on it)", low=0.01, high=240)
    gif_delay: int | None = option(None, "GIF frame delay in hundredths of a second, as convert -delay 7 "
                                         "(no frame depends on it); empty: from --fps", low=2, high=65535,
                                   flag="--delay")
    # Recipes written before edge filters had mix= and match= replay the bare edge map (absent=False).
    edge_anchor: bool = option(True, "sobel()/prewitt() without mix=/match= blend half back to the previous frame "
                                     "and match the first image's colours; off: the bare edge map", absent=False)
    frame_index: int | None = option(None, "set in a frame file's copy: which frame it is", low=0,
                                     high=MAX_FRAMES - 1, flag=False)

    def __post_init__(self):
        check_size(self.size, "animation", MAX_DREAM_SIDE)  # first: its message beats the generic one
        super().__post_init__()
        if self.frame_index is not None and self.frame_index >= self.frames:
            raise ReverieError(f"frame-index must be below frames ({self.frames}), got {self.frame_index}")


@dataclass(frozen=True)
class AnimateResult(FramesResult):
    """A folder of finished frames and the recipe that made them."""


Animation = AnimateResult  # earlier name


class FramePlan:
    """Each frame's objective and dream settings: the recipe's, overridden by its keyframes.

    Objectives are parsed, and checked against the model, once per distinct expression.
    """

    def __init__(self, recipe: AnimateRecipe, model: nn.Module, base: Objective | None = None):
        self.model = model
        self.base = base if base is not None else objective_from(recipe.objective, recipe.model, model)
        self.settings = recipe.settings
        self.keyframes = option_keyframes(recipe.keyframes, allowed=KEYFRAME_OPTIONS)
        self._objectives: dict[str, tuple[Objective, int]] = {}

    def keyframe_texts(self) -> tuple[str, ...]:
        return tuple(self.keyframes.texts())

    def __call__(self, frame_index: int) -> tuple[Objective, DreamSettings]:
        overrides = self.keyframes(frame_index)
        where = f"keyframe options at frame {frame_index}"
        objective, smallest = self._objective(self._objective_text(overrides, where), where)
        changes = {}
        for name in SETTING_OPTIONS:
            if name in overrides:
                value = overrides[name]
                if isinstance(getattr(self.settings, name), int) and isinstance(value, float) and value.is_integer():
                    value = int(value)
                changes[name] = value
        try:
            settings = replace(self.settings, **changes) if changes else self.settings
        except ReverieError as error:
            raise ReverieError(f"{where}: {error}") from None
        if smallest > settings.min_octave_size:
            settings = replace(settings, min_octave_size=smallest)
        return objective, settings

    def _objective_text(self, overrides: dict, where: str) -> str:
        if "objective" in overrides:
            if "layer" in overrides or "channel" in overrides:
                raise ReverieError(f"{where}: give objective= or layer=/channel=, not both")
            return str(overrides["objective"])
        layer_name = overrides.get("layer")
        if "channel" in overrides:
            if layer_name is None:
                if len(self.base.layers) != 1:
                    raise ReverieError(f"{where}: channel={overrides['channel']} needs a layer (add layer=NAME)")
                layer_name = self.base.layers[0]
            channel = overrides["channel"]
            if isinstance(channel, float) and channel.is_integer():
                channel = int(channel)
            return f"channel({quote_name(str(layer_name))}, {channel})"
        if layer_name is not None:
            return f"layer({quote_name(str(layer_name))})"
        return ""

    def _objective(self, text: str, where: str) -> tuple[Objective, int]:
        if text not in self._objectives:
            objective = parse_objective(text) if text else self.base
            try:
                objective.check(layer_shapes(self.model, objective.layers))
            except ReverieError as error:
                raise ReverieError(f"{where}: {error}") from None
            self._objectives[text] = (objective, min_input_side(self.model, objective.layers))
        return self._objectives[text]


def _one_transform(text: str) -> object:
    return parse_frame_transforms([text])


def anchored_edges(transforms: Sequence, anchor: bool) -> list:
    """``transforms`` with each edge filter's unset mix/match given the recipe's meaning: :data:`ANCHORED`
    (``edge_anchor`` on) or the bare edge map of older recipes. The recipe's text stays as written."""
    values = ANCHORED if anchor else BARE
    return [item.with_unset(values) if isinstance(item, EdgeFilter) else item for item in transforms]


def _probe_transforms(transforms: Sequence, frames: int, image: torch.Tensor) -> None:
    """Run the built-in frame transforms on a small copy of the start image at frame 1, the last frame
    and every keyframe between, so a value no frame can use (``zoom(-5)``) is refused before a folder
    is made, not at frame 1 (keyframed values are linear or held between keys, so keys are the extremes)."""
    built_in = [item for item in transforms if isinstance(item, FrameTransform)]
    indices = {1, frames - 1}
    for item in built_in:
        for field in dataclasses.fields(item) if dataclasses.is_dataclass(item) else ():
            value = getattr(item, field.name)
            if isinstance(value, Keyframes):
                indices |= {frame for frame, _ in value.points}
    small = resize(image[:1].detach().cpu(), fit_size(image, 32).shape)  # [1, 3, h, w], long side 32
    for frame_index in sorted(index for index in indices if 1 <= index < frames):
        context = FrameContext(frame_index, frames, generator(0, "probe", frame_index), small)
        frame = small
        for item in built_in:
            try:
                frame = item(frame, context)
            except ReverieError:
                raise
            except Exception:  # noqa: BLE001 - a probe this small is not the real frame: the run decides
                return


@replayable
def run(recipe: AnimateRecipe, output_dir: str | os.PathLike, *, progress: ProgressCallback | None = None,
        stop: StopSignal | None = None, device: str | torch.device = "auto", resume: bool = False,
        model: nn.Module | None = None, image: torch.Tensor | None = None, objective: Objective | None = None,
        transforms: Sequence | None = None, recipe_folder: str | os.PathLike | None = None) -> AnimateResult:
    """Dream the animation ``recipe`` describes into ``output_dir``, frame by frame.

    Each frame is saved (``frame-00042.png``, atomically) as soon as it is dreamed, so an
    interruption loses at most the frame in progress. ``resume=True`` continues from the last
    finished frame in ``output_dir``; its ``recipe.json`` must describe the same frames (only
    ``fps`` may differ). Without ``resume``, a folder that already holds an animation is refused.
    ``progress`` gets every dream step (``frame_index`` says which frame); ``stop`` ends the run
    within one step, keeping every finished frame (the frame in progress is dropped).
    ``model``/``image``/``objective``/``transforms`` (live frame transform objects) replace the recipe's.
    """
    refuse_untrusted(recipe.model, model)
    folder = Path(output_dir)
    stored = frame_folder.check_folder(folder, resume, AnimateRecipe, what="output folder",
                                       held="already holds an animation; pass --resume to continue it, "
                                            "or choose another output folder")

    # Inputs first, each mistake a ReverieError, before any long work or any file is written.
    device = resolve_device(device)
    if image is None:
        image, digest = load_start(input_path(recipe, "source", "input image", recipe_folder), None, recipe.size, recipe.seed, False, recipe_folder)
        recipe = replace(recipe, source_sha256=digest)
    check_image(image)
    if image.shape[0] != 1:
        raise ReverieError(f"an animation starts from one image, got a batch of {image.shape[0]}")
    model, model_device = model_on_device(recipe.model, model, device)
    if transforms is None:
        transforms = parse_frame_transforms(list(recipe.transforms))
    plan = FramePlan(recipe, model, objective)
    recipe = replace(recipe, objective=text_of(plan.base) or live_name(plan.base),
                     transforms=tuple(text_of(t, _one_transform) or live_name(t) for t in transforms),
                     keyframes=plan.keyframe_texts(), frame_index=None, size=Size.of(image))
    transforms = anchored_edges(transforms, recipe.edge_anchor)
    _probe_transforms(transforms, recipe.frames, image)
    cost = None  # every frame's options are valid, and all frames fit the work budget, before frame 0
    for frame_index in range(recipe.frames):
        frame_cost = dream_cost(tuple(image.shape[-2:]), plan(frame_index)[1])
        cost = frame_cost if cost is None else cost + frame_cost
    check_cost(cost, f"this animation of {recipe.frames} frames", "the frames, size, octaves or steps", model_device)

    with folder_lock(folder, "output folder"):  # one render at a time in a folder
        stored = frame_folder.check_folder(folder, resume, AnimateRecipe, what="output folder",
                                           held="was just taken by another run; choose another output folder")
        if stored is not None:
            frame_folder.check_same_frames(
                stored, recipe, folder, not_in_pixels=_NOT_IN_PIXELS, start_over="start a new folder",
                source_changed=f"the input {recipe.source} differs from the file {folder / RECIPE_FILE} was made from; "
                               "pass the original image or start a new folder")
            recipe = replace(recipe, fps=stored.fps)
        else:
            frame_folder.write_recipe(folder, replace(recipe, stopped_at=None))
        frame_folder.remove_stale_frames(folder)

        first_index = min(finished_frames(folder), recipe.frames)
        start = image if first_index == 0 else read_image(frame_path(folder, first_index - 1))
        if start.shape[-2:] != image.shape[-2:]:
            raise ReverieError(f"frame {first_index - 1} in {folder} is {start.shape[-1]}x{start.shape[-2]}, "
                               f"not the animation's {image.shape[-1]}x{image.shape[-2]}")
        tracker = tracker_for(recipe, progress, stop)
        frames = dream_frames(model, start.to(model_device), plan, transforms, recipe.frames, recipe.seed,
                              first_index, image.to(model_device), progress=tracker, stop=tracker)
        limit = frame_folder.frame_limit(recipe, first_index)
        if limit is not None:
            frames = itertools.islice(frames, limit)
        frame_folder.save_frames(folder, frames, recipe)
        stopped = tracker.stopped or finished_frames(folder) < recipe.frames
        return AnimateResult(frame_folder.frames_recipe(recipe, folder, recipe.frames, stopped), stopped, folder,
                             first_index)


def animate(image: str | os.PathLike | torch.Tensor | Image.Image | AnimateRecipe | None = None,
            output_dir: str | os.PathLike = "anim", *, model: str | ModelSpec | nn.Module = "efficientnet-lite0",
            objective: str | Objective | None = None, transforms: Sequence = ("zoom(0.02)",),
            keyframes: Sequence[str] = (), frames: int = 100, settings: DreamSettings = ANIMATION_SETTINGS,
            seed: int = 0, size: tuple[int, int] | None = None, fps: float = 12.0, resume: bool = False,
            device: str | torch.device = "auto", progress: ProgressCallback | None = None,
            stop: StopSignal | None = None) -> AnimateResult:
    """Dream an animation into the folder ``output_dir``; frame k+1 = dream(transform(frame k)).

    ``transforms``: frame transform objects (``reverie.frame_transforms``) or their text
    (``"zoom(0.02)"``); ``objective``: any Objective or expression text. An :class:`AnimateRecipe` as
    the first argument runs that recipe.
    """
    spec, module = model_field(model)
    if isinstance(image, AnimateRecipe):
        return run(image, output_dir, model=module, resume=resume, device=device, progress=progress, stop=stop)
    pixels = from_pil(image) if isinstance(image, Image.Image) else image if torch.is_tensor(image) else None
    if pixels is not None and size is not None:
        pixels = resize(pixels, Size(*size).shape)
    live_transforms = None
    if any(not isinstance(t, str) for t in transforms):
        live_transforms = [parse_frame_transforms([t])[0] if isinstance(t, str) else t for t in transforms]
    recipe = AnimateRecipe(source=source_text(image), size=size, model=spec,
                           objective=objective if isinstance(objective, str) else "", settings=settings,
                           transforms=tuple(t for t in transforms if isinstance(t, str)) if live_transforms is None
                           else (), keyframes=tuple(keyframes), frames=frames, seed=seed, fps=fps)
    return run(recipe, output_dir, model=module, image=pixels,
               objective=objective if isinstance(objective, Objective) else None, transforms=live_transforms,
               resume=resume, device=device, progress=progress, stop=stop)


def read_folder_recipe(folder: str | os.PathLike) -> AnimateRecipe | None:
    """The recipe an animation folder was made with, or None if it has none."""
    return frame_folder.read_folder_recipe(folder, AnimateRecipe)
