"""The task API: every task by its kind, run from a recipe with one progress event and one stop.

>>> sorted(TASKS)
['animate', 'caricature', 'dream', 'interpolate', 'style', 'texture', 'video', 'visualize']
>>> recipe_schema("dream")["properties"]["settings"]["properties"]["steps"]["default"]
20

Every front end (command line, studio, notebook, atlas) calls :func:`run`; each task also has a
keyword function that takes live objects (``reverie.dream``, ``reverie.visualize`` ...).
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from reverie.engine.progress import ProgressCallback, StopSignal
from reverie.errors import ReverieError, unknown_name_message
from reverie.io.images import read_recipe_text
from reverie.io.video import read_mp4_recipe
from reverie.pipelines import animate, caricature, dream, interpolate, style, texture, video, visualize
from reverie.pipelines.result import Result
from reverie.recipe import Recipe, from_json, schema


@dataclass(frozen=True)
class Task:
    """One kind of task: its recipe class, the function that runs a recipe, and its keyword function."""

    kind: str
    recipe: type[Recipe]
    run: Callable[..., Result]       # run(recipe, *, progress, stop, device, ...) -> Result
    keywords: Callable[..., Result]  # the keyword API (reverie.dream, reverie.visualize ...)
    writes: str                      # "image" (saved by the caller), "frames" or "video" (written as it runs)


TASKS: dict[str, Task] = {
    "dream": Task("dream", dream.DreamRecipe, dream.run, dream.dream, "image"),
    "visualize": Task("visualize", visualize.VisualizeRecipe, visualize.run, visualize.visualize, "image"),
    "interpolate": Task("interpolate", interpolate.InterpolateRecipe, interpolate.run, interpolate.interpolate,
                        "image"),
    "caricature": Task("caricature", caricature.CaricatureRecipe, caricature.run, caricature.caricature, "image"),
    "style": Task("style", style.StyleRecipe, style.run, style.style, "image"),
    "texture": Task("texture", texture.TextureRecipe, texture.run, texture.texture, "image"),
    "animate": Task("animate", animate.AnimateRecipe, animate.run, animate.animate, "frames"),
    "video": Task("video", video.VideoRecipe, video.run, video.dream_video, "video"),
}


OUTPUT_ARGUMENT = {"frames": "output_dir", "video": "output"}  # what a task that writes as it runs needs


def task(kind: str) -> Task:
    if kind not in TASKS:
        raise ReverieError(unknown_name_message("task", kind, TASKS))
    return TASKS[kind]


def run(recipe: Recipe, *, progress: ProgressCallback | None = None, stop: StopSignal | None = None,
        device: str | torch.device = "auto", **options) -> Result:
    """Run any task's recipe. ``progress`` gets a :class:`reverie.Progress` after every step (with
    ``.preview()``); ``stop`` is anything with ``is_set()``: once set, the task returns within one step
    with ``result.stopped`` true, the work so far, and a recipe that records where it stopped.
    ``options``: what the task's own ``run`` takes beyond these (e.g. ``output_dir`` for animate,
    ``output`` for video, live objects such as ``model=``).
    """
    if not isinstance(recipe, Recipe):
        raise ReverieError(f"run needs a recipe (one of {', '.join(TASKS)}), got {type(recipe).__name__}")
    where = OUTPUT_ARGUMENT.get(task(recipe.KIND).writes)
    if where is not None and where not in options:
        article = "an" if recipe.KIND[0] in "aeiou" else "a"
        raise ReverieError(f"{article} {recipe.KIND} task writes its {task(recipe.KIND).writes} as it runs: "
                           f"pass {where}=PATH")
    return task(recipe.KIND).run(recipe, progress=progress, stop=stop, device=device, **options)


def read_recipe(source: str | os.PathLike | bytes) -> Recipe:
    """The recipe in a Reverie output (PNG, JPEG, WebP, MP4), a ``.json`` recipe file, or JSON text/bytes.

    A model that could run code, named by such a recipe, is refused when the task is run unless the
    caller replaces it (see :mod:`reverie.recipe`).
    """
    if isinstance(source, bytes) or (isinstance(source, str) and source.lstrip().startswith("{")):
        return from_json(source)
    return from_json(recipe_text(source))


VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov")  # containers write_mp4's recipe tag survives in


def recipe_text(path: str | os.PathLike) -> str:
    """The recipe JSON a Reverie output carries: an image's text chunk, an MP4's comment tag, or a
    ``.json`` file's text."""
    path = Path(path)
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        return read_recipe_text(path)
    if not path.is_file():
        raise ReverieError(f"recipe file not found: {path}")
    text = read_mp4_recipe(path)
    if text is None:
        raise ReverieError(f"{path} carries no Reverie recipe (was it made by Reverie, and not re-encoded?)")
    return text


def recipe_schema(kind: str) -> dict:
    """The JSON Schema of a task's recipe: every field's type, default, help text, bounds and choices."""
    result = schema(task(kind).recipe)
    result["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return result
