"""The dream pipeline: recipe or arguments -> model, objective, input image -> DeepDream -> result."""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from PIL import Image
from torch import nn

from reverie.engine.deepdream import DreamSettings, deep_dream
from reverie.engine.progress import ProgressCallback
from reverie.errors import ReverieError
from reverie.imaging import check_image, from_pil, noise, resize, sample
from reverie.io.images import file_sha256, open_picture, read_image, save_image
from reverie.models import ModelSpec, default_layers, layer_shapes, load_model, min_input_side, resolve_device
from reverie.objectives import Objective, layer, parse_objective
from reverie.objectives.clip import Clip, clip_objective, load_clip
from reverie.randomness import generator
from reverie.recipe import DreamRecipe

NOISE_SIZE = (512, 512)  # (width, height) of a pure dream when no size is given


@dataclass(frozen=True)
class Dream:
    """A finished dream: the image [1, 3, H, W] in [0, 1] and the recipe that replays it."""

    image: torch.Tensor
    recipe: DreamRecipe

    def save(self, path: str | os.PathLike) -> Path:
        """Write the image with its recipe embedded (atomically; PNG, JPEG or WebP by extension)."""
        return save_image(path, self.image, self.recipe.to_json())

    def to_pil(self) -> Image.Image:
        from reverie.imaging import to_pil

        return to_pil(self.image)


def locate_source(source: str, recipe_folder: str | os.PathLike | None = None, what: str = "input image") -> Path:
    """The input file a recipe names: relative to the working folder, else to the recipe's folder.

    Recipes keep the input path as it was given (never made absolute, which would put the user's
    folder names into every shared image), so a replay from another working folder looks for it
    next to the recipe file too.
    """
    path = Path(source)
    if path.exists() or recipe_folder is None or path.is_absolute():
        return path  # read_image says plainly when it is missing
    beside = Path(recipe_folder) / path
    if beside.exists():
        return beside
    if Path(recipe_folder).resolve() == Path.cwd().resolve():
        return path
    raise ReverieError(
        f"{what} not found: {source} (looked in the working folder, as {path}, and in the "
        f"recipe's folder, as {beside}); pass the image as INPUT"
    )


def load_source(recipe: DreamRecipe, check_hash: bool,
                recipe_folder: str | os.PathLike | None = None) -> tuple[torch.Tensor, str | None]:
    """The starting image the recipe names, resized to its size, and the input file's hash.

    ``recipe_folder``: the folder of the file the recipe was read from; a relative input path that
    is not found in the working folder is looked for there.
    """
    digest = None
    if recipe.source == "noise":
        width, height = recipe.size or NOISE_SIZE
        return noise((height, width), generator(recipe.seed, "noise")), None
    if recipe.source.startswith("sample:"):
        image = sample(recipe.source.removeprefix("sample:"))
    else:
        path = locate_source(recipe.source, recipe_folder)
        image = read_image(path)
        digest = file_sha256(path)
        if check_hash and recipe.source_sha256 and digest != recipe.source_sha256:
            raise ReverieError(
                f"input {recipe.source} differs from the file the recipe was made from (sha256 mismatch); "
                "pass the original image"
            )
    if recipe.size is not None:
        width, height = recipe.size
        image = resize(image, (height, width))
    return image, digest


def build_objective(recipe_objective: str, model_name: str, model: nn.Module) -> Objective:
    """Parse the objective text, or target the model's default layers when it is empty."""
    if recipe_objective.strip():
        return parse_objective(recipe_objective)
    layers = default_layers(model_name, model)
    objective = layer(layers[0])
    for name in layers[1:]:
        objective = objective + layer(name)
    return objective


def text_objective(recipe, clip: Clip | None, device: torch.device, seed: int) -> Objective | None:
    """``text_weight * clip(text)`` for a recipe with a CLIP prompt (loading CLIP unless given), else None.

    The recipe's ``objective`` text never includes this term: it is replayed from ``text``.
    """
    if not recipe.text:
        return None
    if clip is None:
        clip = load_clip(recipe.clip_model, recipe.clip_weights, device)
    return recipe.text_weight * clip_objective(clip, recipe.text, generator(seed, "cutouts"), recipe.cutouts)


def load_mask(recipe: DreamRecipe, size: tuple[int, int], check_hash: bool,
              recipe_folder: str | os.PathLike | None = None) -> tuple[torch.Tensor, str]:
    """The recipe's mask file as [1, 1, H, W] in [0, 1] at ``size`` = (height, width), and its hash.

    An image with an alpha channel gives its alpha; any other image its luminance.
    """
    from reverie.masks import fit_mask, mask_from_pil

    path = locate_source(recipe.mask, recipe_folder, what="mask image")
    mask = mask_from_pil(open_picture(path, what="mask image", noun="mask"))
    digest = file_sha256(path)
    if check_hash and recipe.mask_sha256 and digest != recipe.mask_sha256:
        raise ReverieError(f"mask {recipe.mask} differs from the file the recipe was made from (sha256 mismatch); "
                           "pass the original mask")
    mask = fit_mask(mask, size)
    if not bool(mask.any()):
        raise ReverieError(f"mask {recipe.mask} is empty (all black or fully transparent): nothing would be dreamed")
    return mask, digest


def blend_targets(recipe: DreamRecipe, size: tuple[int, int],
                  mask: torch.Tensor | None) -> tuple[list[Objective], torch.Tensor]:
    """A blend's objectives and their masks [N, 1, H, W] along the recipe's ramp (times ``mask``, if any)."""
    from reverie.masks import ramp_masks
    from reverie.objectives import parse_blend

    objectives = parse_blend(recipe.blend)
    masks = ramp_masks(len(objectives), size[0], size[1], recipe.blend_ramp)
    return objectives, masks if mask is None else masks * mask


def run(recipe: DreamRecipe, *, model: nn.Module | None = None, image: torch.Tensor | None = None,
        device: str | torch.device = "auto", progress: ProgressCallback | None = None,
        check_hash: bool = False, recipe_folder: str | os.PathLike | None = None,
        clip: Clip | None = None) -> Dream:
    """Dream as ``recipe`` says. ``model``/``image``/``clip`` override the recipe's (for library callers).

    ``recipe_folder``: where the recipe was read from, for finding a relative input path on replay
    (see :func:`locate_source`); the new recipe keeps the path text as it was. With ``text`` and
    no objective, only CLIP steers the dream and the model's forward is skipped.
    """
    device = resolve_device(device)
    text_term = text_objective(recipe, clip, device, recipe.seed)  # missing CLIP weights fail first
    if image is None:
        image, digest = load_source(recipe, check_hash, recipe_folder)
        recipe = replace(recipe, source_sha256=digest)
    check_image(image)
    mask = None
    if recipe.mask is not None:
        mask, mask_digest = load_mask(recipe, tuple(image.shape[-2:]), check_hash, recipe_folder)
        recipe = replace(recipe, mask_sha256=mask_digest)
    if recipe.blend.strip() and text_term is not None:
        raise ReverieError("a blend cannot be combined with a text prompt; give --blend or --text")
    if model is None:
        model = load_model(ModelSpec(recipe.model, recipe.weights, recipe.normalize), device)
    else:
        model.eval()
    targets = None  # a blend's objectives, each dreamed inside its own mask
    if recipe.blend.strip():
        from reverie.objectives import blend_text

        targets, mask = blend_targets(recipe, tuple(image.shape[-2:]), mask)
        recipe = replace(recipe, blend=blend_text(targets))
        objective = sum(targets[1:], targets[0])  # all of them, for the checks below
    elif text_term is not None and not recipe.objective.strip():
        objective = text_term  # the prompt alone: no layer of the model is read
    else:
        objective = build_objective(recipe.objective, recipe.model, model)
        recipe = replace(recipe, objective=objective.expression())
        if text_term is not None:
            objective = objective + text_term

    # Check names and channel ranges on a small probe input before any long work.
    objective.check(layer_shapes(model, objective.layers))
    smallest = min_input_side(model, objective.layers)
    settings = recipe.settings
    if smallest > settings.min_octave_size:
        settings = replace(settings, min_octave_size=smallest)

    parameter = next(iter(model.parameters()), None)
    model_device = parameter.device if parameter is not None else device
    if mask is not None:
        mask = mask.to(model_device)
    dreamed = deep_dream(model, targets or objective, image.to(model_device), settings, recipe.seed, progress,
                         mask=mask)
    return Dream(dreamed.detach().cpu(), recipe)


def dream(image: str | os.PathLike | torch.Tensor | Image.Image | None = None, *,
          model: str | nn.Module = "efficientnet-lite0", objective: str | Objective | None = None,
          settings: DreamSettings = DreamSettings(), seed: int = 0, size: tuple[int, int] | None = None,
          device: str | torch.device = "auto", progress: ProgressCallback | None = None,
          mask: str | os.PathLike | None = None, blend: str = "", blend_ramp: str = "horizontal") -> Dream:
    """DeepDream an image and return a :class:`Dream` (``.image``, ``.recipe``, ``.save(path)``).

    ``image``: a file path, a sample name (``"chelsea"``, ``"coffee"``, ``"astronaut"``),
    ``"noise"``, a PIL image or a [1, 3, H, W] tensor in [0, 1]; None dreams the ``chelsea`` sample.
    ``model``: a registered name or any ``nn.Module`` taking [0, 1] RGB.
    ``objective``: an Objective, expression text such as ``"channel(blocks.9, 7)"``, or None for
    the model's default layers. ``size``: (width, height) to resize the input to.
    ``progress``: called with a :class:`reverie.Progress` after every step.
    ``mask``: an image file (alpha channel, else luminance) outside of which nothing changes.
    ``blend``: objectives separated by ``|`` (instead of ``objective``), dreamed side by side along
    ``blend_ramp`` (horizontal, vertical or radial).
    """
    from reverie.imaging import SAMPLES

    pixels = None
    source = "sample:chelsea"
    if isinstance(image, Image.Image):
        pixels, source = from_pil(image), "pil-image"
    elif torch.is_tensor(image):
        pixels, source = image, "tensor"
    elif image is not None:
        text = str(image)
        source = "noise" if text == "noise" else f"sample:{text}" if text in SAMPLES else text
    if pixels is not None and size is not None:
        pixels = resize(pixels, (size[1], size[0]))

    model_name = model if isinstance(model, str) else f"custom:{type(model).__name__}"
    if isinstance(objective, Objective):
        objective = objective.expression()
    recipe = DreamRecipe(source=source, size=size, model=model_name, objective=objective or "",
                         settings=settings, seed=seed, mask=None if mask is None else str(mask), blend=blend,
                         blend_ramp=blend_ramp)
    return run(recipe, model=None if isinstance(model, str) else model, image=pixels,
               device=device, progress=progress)
