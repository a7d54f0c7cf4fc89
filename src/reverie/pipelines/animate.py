"""The animate pipeline: recipe -> model, objectives, transforms, start frame -> frame loop -> frame files.

A folder holds one animation: ``recipe.json`` and ``frame-00000.png``, ``frame-00001.png`` ...,
each frame written atomically as soon as it is dreamed and carrying the recipe and its frame index.
Resuming reads the last finished frame back and continues; the frames come out exactly as an
uninterrupted run's (see :func:`reverie.engine.animate.dream_frames`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn

from reverie.engine.animate import dream_frames
from reverie.engine.deepdream import DreamSettings
from reverie.engine.progress import ProgressCallback
from reverie.errors import ReverieError
from reverie.expressions import quote_name
from reverie.frame_transforms import parse_frame_transforms
from reverie.imaging import check_image
from reverie.io.frames import FrameFolder, finished_frames, frame_path
from reverie.io.images import read_image
from reverie.keyframes import option_keyframes
from reverie.models import ModelSpec, layer_shapes, model_on_device, min_input_side, resolve_device
from reverie.objectives import Objective, parse_objective
from reverie.pipelines import frame_folder
from reverie.pipelines.dream import build_objective, load_source
from reverie.pipelines.frame_folder import RECIPE_FILE
from reverie.recipe import AnimateRecipe

# Dream options a keyframe may change; layer/channel/objective change the objective.
SETTING_OPTIONS = ("octaves", "octave_scale", "steps", "step_size", "jitter")
KEYFRAME_OPTIONS = ("layer", "channel", "objective", *SETTING_OPTIONS)
# Fields that do not change any frame's pixels, so a resume may differ in them.
_NOT_IN_PIXELS = ("fps", "version", "frame_index")


@dataclass(frozen=True)
class Animation:
    """A folder of finished frames and the recipe that made them."""

    folder: Path
    recipe: AnimateRecipe
    first_index: int      # the frame this run started at (0, or where a resumed run picked up)

    def frames(self) -> FrameFolder:
        """The frames on disk, read one at a time when indexed: [1, 3, H, W] in [0, 1]."""
        return FrameFolder(self.folder)


class FramePlan:
    """Each frame's objective and dream settings: the recipe's, overridden by its keyframes.

    Objectives are parsed, and checked against the model, once per distinct expression.
    """

    def __init__(self, recipe: AnimateRecipe, model: nn.Module):
        self.model = model
        self.base = build_objective(recipe.objective, recipe.model, model)
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


def animate(recipe: AnimateRecipe, output_dir: str | os.PathLike, *, progress: ProgressCallback | None = None,
            resume: bool = False, model: nn.Module | None = None, image: torch.Tensor | None = None,
            device: str | torch.device = "auto", recipe_folder: str | os.PathLike | None = None) -> Animation:
    """Dream the animation ``recipe`` describes into ``output_dir``, frame by frame.

    Each frame is saved (``frame-00042.png``, atomically) as soon as it is dreamed, so an
    interruption loses at most the frame in progress. ``resume=True`` continues from the last
    finished frame in ``output_dir``; its ``recipe.json`` must describe the same frames (only
    ``fps`` may differ). Without ``resume``, a folder that already holds an animation is refused.
    ``progress`` is called with a :class:`FrameProgress` after each frame is on disk.
    ``model``/``image`` override the recipe's (for library callers); ``recipe_folder`` is where a
    relative input path is also looked for (see :func:`reverie.pipelines.dream.locate_source`).
    """
    folder = Path(output_dir)
    stored = frame_folder.check_folder(folder, resume, AnimateRecipe, what="output folder",
                                       held="already holds an animation; pass --resume to continue it, "
                                            "or choose another output folder")

    # Inputs first, each mistake a ReverieError, before any long work or any file is written.
    device = resolve_device(device)
    if image is None:
        image, digest = load_source(recipe, check_hash=False, recipe_folder=recipe_folder)
        recipe = replace(recipe, source_sha256=digest)
    check_image(image)
    if image.shape[0] != 1:
        raise ReverieError(f"an animation starts from one image, got a batch of {image.shape[0]}")
    model, model_device = model_on_device(ModelSpec(recipe.model, recipe.weights, recipe.normalize), model, device)
    transforms = parse_frame_transforms(list(recipe.transforms))
    plan = FramePlan(recipe, model)
    recipe = replace(recipe, objective=plan.base.expression(), transforms=tuple(t.expression() for t in transforms),
                     keyframes=plan.keyframe_texts(), frame_index=None,
                     size=(image.shape[-1], image.shape[-2]))
    for frame_index in range(recipe.frames):  # every frame's options are valid before frame 0 is dreamed
        plan(frame_index)

    if stored is not None:
        frame_folder.check_same_frames(
            stored, recipe, folder, not_in_pixels=_NOT_IN_PIXELS, start_over="start a new folder",
            source_changed=f"the input {recipe.source} differs from the file {folder / RECIPE_FILE} was made from; "
                           "pass the original image or start a new folder")
        recipe = replace(recipe, fps=stored.fps)
    else:
        frame_folder.write_recipe(folder, recipe)
    frame_folder.remove_stale_frames(folder)

    first_index = min(finished_frames(folder), recipe.frames)
    start = image if first_index == 0 else read_image(frame_path(folder, first_index - 1))
    if start.shape[-2:] != image.shape[-2:]:
        raise ReverieError(f"frame {first_index - 1} in {folder} is {start.shape[-1]}x{start.shape[-2]}, "
                           f"not the animation's {image.shape[-1]}x{image.shape[-2]}")
    source = image.to(model_device)
    frames = dream_frames(model, start.to(model_device), plan, transforms, recipe.frames, recipe.seed,
                          first_index, source)
    frame_folder.save_frames(folder, frames, recipe, recipe.frames, progress)
    return Animation(folder, recipe, first_index)


def read_folder_recipe(folder: str | os.PathLike) -> AnimateRecipe | None:
    """The recipe an animation folder was made with, or None if it has none."""
    return frame_folder.read_folder_recipe(folder, AnimateRecipe)
