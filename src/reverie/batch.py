"""Dreaming a folder of photos: one output per input, on any executor, resumable.

Every photo gets the same dream recipe, with its own ``source`` and the sha256 of its bytes. An output
whose embedded recipe is exactly the one planned is already done and is skipped, so a run killed at any
moment and started again dreams only what is missing (outputs are written whole or not at all). Each
job carries the photo's bytes, so a Ray worker on another machine needs no shared disk; the pixels are
those ``reverie dream PHOTO`` gives for the same recipe.
"""
from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from PIL import Image, UnidentifiedImageError
import torch
from torch import nn

from reverie.engine.progress import ProgressCallback, StopSignal, Tracker
from reverie.errors import ReverieError
from reverie.executors import LocalExecutor, ModelWork, make_executor
from reverie.imaging import Size, from_pil, resize
from reverie.io.images import read_recipe_text
from reverie.models import MODELS, model_on_device
from reverie.pipelines.dream import DreamRecipe, DreamResult
from reverie.pipelines.prepare import objective_from, text_of
from reverie.recipe import from_json
from reverie.tasks import run

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")


@dataclass(frozen=True)
class PhotoJob:
    """One photo to dream: its recipe (source and hash filled in), where the output goes (relative to the
    output folder) and the photo's bytes."""

    recipe: DreamRecipe
    output: str
    data: bytes


@dataclass(frozen=True)
class FolderReport:
    """What a folder run did."""

    dreamed: list[Path]        # outputs written by this run
    reused: list[Path]         # outputs already there with the same recipe
    skipped: list[str]         # inputs that are not readable images
    stopped: bool


class DreamWork(ModelWork):
    """Dreams photo jobs on one device, holding the model (see :mod:`reverie.executors`)."""

    def weight(self, job: PhotoJob) -> float:
        return 1.0

    def __call__(self, job: PhotoJob, progress: ProgressCallback | None = None,
                 stop: StopSignal | None = None) -> DreamResult | str | None:
        """The dream of ``job``'s photo; the reason, as text, when its bytes are not an image; None when
        stopped (a partial dream is never kept)."""
        self.prepare()
        try:
            with Image.open(io.BytesIO(job.data)) as picture:
                picture.load()
                image = from_pil(picture.copy())  # what reading the file gives (reverie.io.images.read_image)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
            return f"not an image PIL can decode ({type(error).__name__})"
        if job.recipe.size is not None:
            image = resize(image, Size(*job.recipe.size).shape)
        model, device = self.loaded
        result = run(job.recipe, model=model, image=image, device=device, progress=progress, stop=stop)
        return None if result.stopped else result


def photo_files(folder: Path) -> list[Path]:
    """The photos in ``folder`` and below (by suffix, hidden ones excepted), in sorted order."""
    if not folder.is_dir():
        raise ReverieError(f"input folder not found: {folder}")
    found = sorted(path for path in folder.rglob("*") if path.is_file() and path.suffix.lower() in PHOTO_SUFFIXES
                   and not any(part.startswith(".") for part in path.relative_to(folder).parts))
    if not found:
        raise ReverieError(f"{folder} holds no photos ({', '.join(PHOTO_SUFFIXES)})")
    return found


def output_names(folder: Path, photos: Sequence[Path]) -> list[str]:
    """``a/cat.jpg`` -> ``a/cat.png``; where two photos would share a name, each keeps its suffix
    (``cat.jpg.png``, ``cat.webp.png``)."""
    plain = [str(path.relative_to(folder).with_suffix(".png")) for path in photos]
    return [name if plain.count(name) == 1 else str(path.relative_to(folder)) + ".png"
            for name, path in zip(plain, photos)]


class _Jobs(Sequence):
    """The jobs, each read from disk only when an executor takes it: memory holds the jobs in flight."""

    def __init__(self, planned: list[tuple[DreamRecipe, str, Path]]):
        self.planned = planned

    def __len__(self) -> int:
        return len(self.planned)

    def __getitem__(self, index):
        recipe, output, path = self.planned[index]
        return PhotoJob(recipe, output, path.read_bytes())


def _done(path: Path, recipe: DreamRecipe) -> bool:
    """The output exists and carries exactly ``recipe`` (the Reverie version aside)."""
    if not path.is_file():
        return False
    try:
        stored = from_json(read_recipe_text(path))
    except ReverieError:
        return False
    return isinstance(stored, DreamRecipe) and replace(stored, version=recipe.version) == recipe


def _explicit_objective(recipe: DreamRecipe, model: nn.Module | None) -> DreamRecipe:
    """``recipe`` with the objective a dream writes into its output when none is given (the model's
    default layers), so a finished output's recipe equals the planned one."""
    if recipe.objective.strip() or recipe.blend.strip() or recipe.text:
        return recipe
    if model is None and recipe.model.name not in MODELS:
        model, _ = model_on_device(recipe.model, None, "cpu")  # its default layer depends on its shape
    return replace(recipe, objective=text_of(objective_from("", recipe.model, model)))


def dream_folder(folder: str | os.PathLike, output: str | os.PathLike, recipe: DreamRecipe | None = None, *,
                 model: nn.Module | None = None, executor: str | object = "local", device: str = "auto",
                 progress: ProgressCallback | None = None, stop: StopSignal | None = None) -> FolderReport:
    """Dream every photo in ``folder`` with ``recipe`` (its ``source`` is replaced by each photo's path)
    into ``output``/NAME.png, skipping outputs already made with the same recipe.

    ``executor``: ``"local"``, ``"ray"`` or an executor object; ``model``: a live module replacing the
    recipe's. ``stop`` ends the run after the photos in flight, keeping every finished output.
    """
    folder, output = Path(folder), Path(output)
    recipe = DreamRecipe() if recipe is None else recipe
    if output.exists() and not output.is_dir():
        raise ReverieError(f"for a folder of photos, -o names a folder; {output} is a file")
    if output.resolve() == folder.resolve():
        raise ReverieError("the output folder must not be the input folder (its dreams would be read as photos)")
    photos = [path for path in photo_files(folder) if output.resolve() not in path.resolve().parents]
    if not photos:
        raise ReverieError(f"{folder} holds no photos outside the output folder {output}")
    names = output_names(folder, photos)
    recipe = _explicit_objective(recipe, model)
    # The thread count a dream records (see reverie.machine), fixed here: every photo, on any worker,
    # dreams with it, and an output made with it is found done.
    recipe = replace(recipe, threads=recipe.threads or torch.get_num_threads())
    planned, reused = [], []
    for path, name in zip(photos, names):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        # The path as the caller wrote the folder (recipes never make a path absolute: see prepare.locate).
        photo_recipe = replace(recipe, source=str(path), source_sha256=digest, stopped_at=None)
        if _done(output / name, photo_recipe):
            reused.append(output / name)
        else:
            planned.append((photo_recipe, name, path))
    output.mkdir(parents=True, exist_ok=True)
    runner = executor if not isinstance(executor, str) else make_executor(executor, device=device)
    work = DreamWork(recipe.model, model, device)
    if isinstance(runner, LocalExecutor) and model is None and planned:
        work.prepare()  # loaded here once (and a bad model name is reported before any photo)
    dreamed, skipped = [], []
    tracker = Tracker(progress, stop) if progress is not None else None
    with runner:
        for job, result in runner.map(work, _Jobs(planned), tracker, stop):
            if isinstance(result, str):
                skipped.append(f"{job.recipe.source}: {result}")
                continue
            target = output / job.output
            target.parent.mkdir(parents=True, exist_ok=True)
            dreamed.append(result.save(target))
    stopped = len(dreamed) + len(skipped) < len(planned)
    return FolderReport(dreamed, reused, skipped, stopped)
