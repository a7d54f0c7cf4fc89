"""What every task does before its loop, written once: read the inputs a recipe names (noticing a
changed file), put the model on its device, build the objective and check it on a small probe.

Tasks import this module and never one another.
"""
from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Callable
from dataclasses import fields, replace
from pathlib import Path

import torch
from torch import nn

from reverie.allocator import memory_kept
from reverie.engine.deepdream import DreamSettings
from reverie.errors import ReverieError
from reverie.expressions import quote_name
from reverie.fields import NOT_FILES, escaped, file_values
from reverie.imaging import SAMPLES, Size, noise, resize, sample
from reverie.io.images import read_image
from reverie.machine import intra_op_threads, this_machine
from reverie.models.checks import check_layers
from reverie.models import ModelSpec, check_trusted, default_layers, layer_shapes, min_input_side, resolve_device
from reverie.objectives import Objective, layer, parse_objective
from reverie.objectives.clip import Clip, clip_objective, load_clip
from reverie.params.noise import noise_image
from reverie.randomness import generator
from reverie.recipe import Recipe
from reverie.recorder import ActivationRecorder

# Gram-matrix style layers for EfficientNet-Lite0: from the stem's colours to blocks.8's motifs.
STYLE_LAYERS = ("stem", "blocks.1", "blocks.3", "blocks.5", "blocks.8")
PERLIN = "noise:perlin"  # the source that starts from fractal Perlin noise (``--perlin``)
NOISE_SIZE = (512, 512)  # (width, height) of a pure dream when no size is given
LIVE = "live:"  # prefix of a recipe field that names a live Python object (no text form): not replayable


def live_name(thing: object) -> str:
    """The recipe text for a live object passed from Python: ``live:TinyCNN``, ``live:tensor``."""
    return LIVE + (type(thing).__name__ if not torch.is_tensor(thing) else "tensor")


def refuse_live(field: str, value: str | None) -> None:
    """A recipe field that recorded a live Python object cannot be replayed from a file."""
    if value and value.startswith(LIVE):
        raise ReverieError(f"the recipe's {field} was a live Python object ({value[len(LIVE):][:80]}) with no text "
                           f"form, so a file cannot replay it; pass the {field} again")


def text_of(thing: object, parse: Callable[[str], object] = parse_objective) -> str | None:
    """The expression text of a live objective (or, with ``parse=parse_frame_transforms``-like readers,
    a frame transform) when that text reads back; None for one with no text form (masked, style...).
    """
    writer = getattr(thing, "expression", None)
    if writer is None or not getattr(thing, "textual", True):
        return None
    try:
        text = writer()
        parse(text)
    except (ReverieError, NotImplementedError):
        return None
    return text


def source_text(image: object) -> str:
    """What a recipe records for a keyword call's ``image``: a sample, noise, a path, or a live object."""
    if image is None:
        return "sample:chelsea"
    if isinstance(image, (str, os.PathLike)):
        text = str(image)
        return "noise" if text == "noise" else f"sample:{text}" if text in SAMPLES else text
    return live_name(image)


def file_sha256(path: str | os.PathLike) -> str:
    """Of a file's bytes, read a megabyte at a time (a video may not fit in memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def locate(source: str, recipe_folder: str | os.PathLike | None = None, what: str = "input image") -> Path:
    """The file the caller named: relative to the working folder, else to ``recipe_folder``.

    Only for paths the caller gave; a path read from a recipe file goes through :func:`input_path`,
    which confines it to the recipe's folder.
    """
    refuse_live(what, source)
    path = Path(source)
    if path.exists() or recipe_folder is None or path.is_absolute():
        return path  # the reader says plainly when it is missing
    beside = Path(recipe_folder) / path
    if beside.exists():
        return beside
    if Path(recipe_folder).resolve() == Path.cwd().resolve():
        return path
    raise ReverieError(f"{what} not found: {escaped(source)} (looked in the working folder, as {escaped(str(path))}, "
                       f"and in {escaped(str(recipe_folder))}); pass the file again")


def input_path(recipe: Recipe, name: str, what: str, recipe_folder: str | os.PathLike | None = None) -> str | Path:
    """What recipe field ``name`` names: its text for a sample, noise or live object, else the file's path.

    The path rule: a value still as read from a recipe file (``recipe.origin``) must be a regular
    file at a relative path inside that file's folder; anything else is a ReverieError naming the
    field and how to pass the file yourself. A value the caller set is read as given.
    """
    value = getattr(recipe, name)
    if not isinstance(value, str) or value.startswith(NOT_FILES):
        return value
    origin = recipe.origin
    if origin is not None and origin.confines(name, value):
        how = next(item.metadata.get("file") for item in fields(recipe) if item.name == name)
        return origin.path(name, value, how)
    return locate(value, recipe_folder, what)


def files_to_read(recipe: Recipe) -> list[tuple[str, Path]]:
    """(field, path) of every file a recipe read from a file will read, each checked against the path
    rule now, before any work: a front end says which files a replay reads before it reads one."""
    found = []
    for part, prefix in ((recipe, ""), (recipe.model, "model.")):
        how = {item.name: item.metadata.get("file") for item in fields(part)}
        for name, value in file_values(part):
            if part.origin is not None and part.origin.confines(name, value):
                found.append((prefix + name, part.origin.path(prefix + name, value, how[name])))
    return found


def check_unchanged(path: Path, expected: str | None, check: bool, what: str, field: str) -> str:
    """The file's sha256; with ``check``, a ReverieError when it differs from ``expected`` (the recipe's)."""
    digest = file_sha256(path)
    if check and expected and digest != expected:
        raise ReverieError(f"{what} {escaped(field)} differs from the file the recipe was made from (sha256 "
                           f"mismatch); pass the original {what}")
    return digest


def read_input(source: str | Path, expected_sha256: str | None = None, check_hash: bool = False,
               recipe_folder: str | os.PathLike | None = None,
               what: str = "input") -> tuple[torch.Tensor, str | None]:
    """The image [1, 3, H, W] a recipe names ("sample:NAME", a path the caller gave, or a ``Path``
    :func:`input_path` found) and its file's sha256 (None for a sample)."""
    if isinstance(source, str) and source.startswith("sample:"):
        return sample(source.removeprefix("sample:")), None
    path = source if isinstance(source, Path) else locate(source, recipe_folder, what=f"{what} image")
    image = read_image(path)
    return image, check_unchanged(path, expected_sha256, check_hash, what, str(source))


def load_start(source: str | Path, expected_sha256: str | None, size: tuple[int, int] | None, seed: int,
               check_hash: bool = False, recipe_folder: str | os.PathLike | None = None
               ) -> tuple[torch.Tensor, str | None]:
    """The image a dream or animation starts from: ``source`` is "noise" (grey with faint noise,
    drawn from ``seed``), "noise:perlin" (colour fractal Perlin noise, from ``seed``), "sample:NAME" or a
    file; resized to ``size`` = (width, height) when given.
    Returns it with the file's sha256 (None for noise and samples)."""
    if source == "noise":
        return noise(Size(*(size or NOISE_SIZE)).shape, generator(seed, "noise")), None
    if source == PERLIN:  # colour fractal Perlin noise: broad blobs to dream into instead of grey
        return noise_image(*Size(*(size or NOISE_SIZE)).shape, generator(seed, "perlin")), None
    image, digest = read_input(source, expected_sha256, check_hash, recipe_folder)
    return (image if size is None else resize(image, Size(*size).shape)), digest


def fit_size(image: torch.Tensor, long_side: int) -> Size:
    """The size with ``image``'s aspect ratio and the given long side."""
    height, width = image.shape[-2:]
    scale = long_side / max(height, width)
    return Size(max(1, round(width * scale)), max(1, round(height * scale)))


def refuse_untrusted(spec: ModelSpec, model: nn.Module | None) -> None:
    """Apply the trust rule first, before a stranger's recipe gets any file opened: a recipe read from a
    file may not name a model that runs code, unless the caller passes a live ``model``."""
    if model is None:
        check_trusted(spec)


def model_field(model: str | nn.Module | ModelSpec) -> tuple[ModelSpec, nn.Module | None]:
    """A keyword call's ``model`` as the recipe's part and, for a live module, the module itself."""
    if isinstance(model, ModelSpec):
        return model, None
    if isinstance(model, str):
        return ModelSpec(model), None
    return ModelSpec(live_name(model)), model


def objective_from(text: str, spec: ModelSpec, model: nn.Module) -> Objective:
    """Parse objective text, or target the model's default layers when it is empty."""
    refuse_live("objective", text)
    if text.strip():
        return parse_objective(text)
    names = default_layers(spec.name, model)
    objective = layer(names[0])
    for name in names[1:]:
        objective = objective + layer(name)
    return objective


# What ``reverie visualize`` shows when given no objective: a channel known to draw a clear motif.
VISUALIZE_DEFAULTS = {"efficientnet-lite0": "channel(blocks.9, 7)"}


def default_visualize_objective(spec: ModelSpec, model: nn.Module) -> str:
    """The objective text a visualization with none renders: the model's entry in
    :data:`VISUALIZE_DEFAULTS`, else channel 0 of the layer a dream targets by default."""
    if spec.name in VISUALIZE_DEFAULTS:
        return VISUALIZE_DEFAULTS[spec.name]
    return f"channel({quote_name(default_layers(spec.name, model)[0])}, 0)"


def checked(objective: Objective, model: nn.Module) -> Objective:
    """``objective`` after checking its layer names and indices on a small probe, before any long work,
    and the layers it reads on two probe images (see :mod:`reverie.models.checks`)."""
    objective.check(layer_shapes(model, objective.layers))
    check_layers(model, objective.layers)
    return objective


def dream_settings_for(model: nn.Module, objective: Objective, settings: DreamSettings) -> DreamSettings:
    """``settings`` with the smallest octave raised to the smallest input the model accepts."""
    smallest = min_input_side(model, objective.layers)
    return replace(settings, min_octave_size=smallest) if smallest > settings.min_octave_size else settings


def clip_weights(recipe: Recipe) -> str | None:
    """The recipe's CLIP weights: a pretrained tag as it is, a file under the path rule."""
    if any(name == "clip_weights" for name, _ in file_values(recipe)):
        return str(input_path(recipe, "clip_weights", "CLIP weights"))
    return recipe.clip_weights


def text_objective(text: str, weight: float, clip_model: str, clip_weights: str | None, cutouts: int,
                   clip: Clip | None, device: torch.device, seed: int) -> Objective | None:
    """``weight * clip(text)`` for a CLIP prompt (loading CLIP unless given), else None."""
    if not text:
        return None
    if clip is None:
        clip = load_clip(clip_model, clip_weights, device)
    return weight * clip_objective(clip, text, generator(seed, "cutouts"), cutouts)


def record(model: nn.Module, image: torch.Tensor, layers) -> dict[str, torch.Tensor]:
    """The activations of ``layers`` for ``image``, without gradients (style and content targets)."""
    with torch.no_grad(), ActivationRecorder(model, tuple(layers)) as recorder:
        activations = recorder(image)
        return {name: activations[name].detach() for name in layers}


def replayable(run: Callable) -> Callable:
    """For a task's ``run(recipe, ...)``: it runs with the recipe's CPU thread count (this machine's when
    the recipe names none), and the recipe it returns records that count and the machine (see
    :mod:`reverie.machine`), so that a replay elsewhere gives the same pixels. Freed memory stays in the
    process while it runs (:mod:`reverie.allocator`)."""
    @functools.wraps(run)
    def with_recorded_threads(recipe, *args, **options):
        threads = recipe.threads or torch.get_num_threads()
        model = options.get("model")
        parameter = next(iter(model.parameters()), None) if isinstance(model, nn.Module) else None
        device = parameter.device if parameter is not None else resolve_device(options.get("device", "auto"))
        recipe = replace(recipe, threads=threads, made_with=this_machine(device))
        with intra_op_threads(threads), memory_kept():
            return run(recipe, *args, **options)
    return with_recorded_threads
