"""A folder of dreamed frames and its ``recipe.json``: what the animate and dream-video pipelines share.

Each checks a folder before dreaming into it (refusing one that already holds frames unless
resuming), refuses to resume with options that would make different frames, writes its recipe,
and saves each frame (atomically, carrying the recipe and its frame index) as soon as it is dreamed.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import fields, replace
from pathlib import Path
from typing import TypeVar

from reverie.engine.deepdream import DreamSettings
from reverie.errors import ReverieError
from reverie.io.atomic import remove_orphans
from reverie.io.frames import finished_frames, frame_path, write_text_atomically
from reverie.io.images import save_image
from reverie.recipe import StopPoint

RECIPE_FILE = "recipe.json"

R = TypeVar("R")


def read_folder_recipe(folder: str | os.PathLike, recipe_class: type[R]) -> R | None:
    """The ``recipe_class`` recipe a frame folder was made with, or None if it has none."""
    path = Path(folder) / RECIPE_FILE
    if not path.is_file():
        return None
    try:
        return recipe_class.from_json(path.read_bytes(), Path(folder))
    except ReverieError as error:
        raise ReverieError(f"{path}: {error}") from None


def check_folder(folder: Path, resume: bool, recipe_class: type[R], *, what: str, held: str) -> R | None:
    """The recipe of the frames already in ``folder`` (when resuming), after checking it may be used.

    ``what`` names the folder in an error ("output folder"); ``held`` ends the refusal of a
    folder that already holds frames ("already holds ...; pass --resume ...").
    """
    if folder.exists() and not folder.is_dir():
        raise ReverieError(f"{what} is a file: {folder}")
    stored = read_folder_recipe(folder, recipe_class)
    has_frames = folder.is_dir() and any(folder.glob("frame-*.png"))
    if not resume:
        if stored is not None or has_frames:
            raise ReverieError(f"{folder} {held}")
        return None
    if stored is None:
        state = "holds frames but" if has_frames else "has"
        raise ReverieError(f"{folder} {state} no {RECIPE_FILE} to resume from (a run stopped before writing it "
                           "starts again without --resume)")
    return stored


def check_same_frames(stored: R, given: R, folder: Path, *, not_in_pixels: Iterable[str], source_changed: str,
                      start_over: str) -> None:
    """Refuse to resume with options that would make different frames than those on disk.

    Fields in ``not_in_pixels`` may differ; a different ``source_sha256`` is refused with the
    message ``source_changed``; ``start_over`` ends the other refusals ("start a new folder").
    """
    differences = [item.name for item in fields(type(given)) if item.name not in not_in_pixels
                   and item.metadata.get("stored", True) and getattr(stored, item.name) != getattr(given, item.name)]
    if not differences:
        return
    name = differences[0]
    if name == "source_sha256":
        raise ReverieError(source_changed)
    was, now = getattr(stored, name), getattr(given, name)
    if name == "settings":
        name = next(item.name for item in fields(DreamSettings) if getattr(was, item.name) != getattr(now, item.name))
        was, now = getattr(was, name), getattr(now, name)
    more = f" (and {len(differences) - 1} more)" if len(differences) > 1 else ""
    raise ReverieError(f"cannot resume {folder}: {name.replace('_', '-')} is {shown(now)} but the frames there "
                       f"were made with {shown(was)}{more}; give the same options, or {start_over}")


def shown(value: object) -> str:
    """A recipe value as its JSON shows it (tuples as lists)."""
    return json.dumps(list(value) if isinstance(value, tuple) else value)


def write_recipe(folder: Path, recipe) -> None:
    """``folder/recipe.json``, indented with sorted keys, written atomically."""
    text = json.dumps(json.loads(recipe.to_json()), indent=2, sort_keys=True) + "\n"
    write_text_atomically(folder / RECIPE_FILE, text)


def remove_stale_frames(folder: Path) -> None:
    """Delete half-written frames (and other temporaries) left by a run killed while writing them; the
    folder is locked, so no other run is writing here."""
    remove_orphans(folder)
    for stale in folder.glob(".frame-*.tmp"):  # written before temporaries carried a process id
        stale.unlink(missing_ok=True)


def save_frames(folder: Path, frames: Iterable, recipe) -> int:
    """Save each of ``frames`` (with ``frame_index``, ``image``) as its frame file, carrying ``recipe`` and
    the frame index, as soon as it is made; returns how many were saved."""
    saved = 0
    for frame in frames:
        save_image(frame_path(folder, frame.frame_index), frame.image,
                   replace(recipe, frame_index=frame.frame_index, stopped_at=None).to_json())
        saved += 1
    return saved


def frames_recipe(recipe, folder: Path, total: int, stopped: bool):
    """The recipe a frame task returns: when stopped, it records how many frames are finished."""
    if not stopped:
        return replace(recipe, stopped_at=None)
    done = finished_frames(folder)
    return replace(recipe, stopped_at=StopPoint(done, "frame", f"frame {done}/{total}"))


def frame_limit(recipe, first_index: int) -> int | None:
    """How many frames this run may make: a replay of a stopped recipe stops where it stopped."""
    point = recipe.stopped_at
    if point is None or point.unit != "frame":
        return None
    return max(0, point.after - first_index)
