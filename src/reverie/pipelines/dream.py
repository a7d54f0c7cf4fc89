"""The dream task: recipe (or keywords with live objects) -> model, objective, input image -> DeepDream -> result."""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import ClassVar

import torch
from PIL import Image
from torch import nn

from reverie.engine.deepdream import DreamSettings, deep_dream
from reverie.engine.progress import ProgressCallback, StopSignal
from reverie.errors import ReverieError
from reverie.fields import option
from reverie.imaging import Size, check_image, from_pil, resize
from reverie.io.images import open_picture
from reverie.masks import check_mask, fit_mask, mask_from_pil, ramp_masks
from reverie.models import ModelSpec, model_on_device, resolve_device
from reverie.objectives import Objective, blend_text, parse_blend
from reverie.objectives.clip import Clip
from reverie.objectives.guide import guided
from reverie.pipelines.prepare import (
    check_unchanged,
    checked,
    fit_size,
    dream_settings_for,
    live_name,
    load_start,
    clip_weights,
    input_path,
    model_field,
    objective_from,
    read_input,
    refuse_live,
    refuse_untrusted,
    source_text,
    text_objective,
    text_of,
    replayable,
)
from reverie.pipelines.result import ImageResult, stopped_recipe, tracker_for
from reverie.recipe import MAX_DREAM_SIDE, Blended, Prompted, Recipe, check_exclusive, check_size


@dataclass(frozen=True)
class DreamRecipe(Recipe, Prompted, Blended):
    """Everything needed to replay a dream, and nothing that could run code when read back."""

    KIND: ClassVar[str] = "dream"
    source: str = option("sample:chelsea", 'the image to dream: "sample:NAME", "noise", "noise:perlin", or a file path',
                         flag=False, max_length=4096, file="INPUT")
    source_sha256: str | None = option(None, "of the input file's bytes, to notice a changed input on replay",
                                       flag=False, max_length=64)
    size: tuple[int, int] | None = option(None, "WIDTHxHEIGHT the input (or noise) is resized to", low=1)
    objective: str = option("", 'objective expression, e.g. "layer(blocks.6) + 0.5*channel(blocks.9, 7)"; '
                                "empty: the model's default layers", max_length=10_000)
    settings: DreamSettings = option(default_factory=DreamSettings, help="how the dream is computed", flag=False)
    mask: str | None = option(None, "dream only inside this mask: an image's alpha channel, else its luminance "
                                    "(black = untouched)", max_length=4096, file="--mask")
    mask_sha256: str | None = option(None, "of the mask file's bytes, to notice a changed mask on replay",
                                     flag=False, max_length=64)
    guide: str | None = option(None, "dream toward this image's features: each position grows the guide's "
                                     "best-matching feature vector at the objective's layers", max_length=4096,
                               file="--guide")
    guide_sha256: str | None = option(None, "of the guide file's bytes, to notice a changed guide on replay",
                                      flag=False, max_length=64)

    def __post_init__(self):
        check_size(self.size, "dream", MAX_DREAM_SIDE)  # first: its message beats the generic one
        super().__post_init__()
        check_exclusive(self, "objective", "blend")
        check_exclusive(self, "guide", "blend")


@dataclass(frozen=True)
class DreamResult(ImageResult):
    """A dream: ``image`` [1, 3, H, W] in [0, 1] and the recipe that replays it."""


Dream = DreamResult  # earlier name


def load_mask(recipe: DreamRecipe, shape: tuple[int, int], check_hash: bool,
              recipe_folder: str | os.PathLike | None = None) -> tuple[torch.Tensor, str]:
    """The recipe's mask file as [1, 1, H, W] in [0, 1] at ``shape`` = (H, W), and its hash.

    An image with an alpha channel gives its alpha; any other image its luminance.
    """
    path = input_path(recipe, "mask", "mask image", recipe_folder)
    mask = mask_from_pil(open_picture(path, what="mask image", noun="mask"))
    digest = check_unchanged(path, recipe.mask_sha256, check_hash, "mask", recipe.mask)
    return fit_mask(mask, shape), digest


def load_guide(recipe: DreamRecipe, shape: tuple[int, int], check_hash: bool,
               recipe_folder: str | os.PathLike | None = None) -> tuple[torch.Tensor, str | None]:
    """The recipe's guide image, sized to be seen at the dream's scale, and its file's hash.

    Its long side is the dream's (``shape`` = (H, W)), at most one tile: the dream's features are
    computed a tile at a time, so that is the largest scale they are ever compared at.
    """
    refuse_live("guide", recipe.guide)
    path = input_path(recipe, "guide", "guide image", recipe_folder)
    guide, digest = read_input(path, recipe.guide_sha256, check_hash, recipe_folder, what="guide")
    long_side = min(max(shape), recipe.settings.tile)
    return resize(guide, fit_size(guide, long_side).shape), digest


@replayable
def run(recipe: DreamRecipe, *, progress: ProgressCallback | None = None, stop: StopSignal | None = None,
        device: str | torch.device = "auto", model: nn.Module | None = None, image: torch.Tensor | None = None,
        objective: Objective | None = None, mask: torch.Tensor | None = None, clip: Clip | None = None,
        check_hash: bool = False, recipe_folder: str | os.PathLike | None = None,
        guide: torch.Tensor | None = None) -> DreamResult:
    """Dream as ``recipe`` says. ``model``, ``image``, ``objective``, ``mask`` and ``clip`` are live
    objects that replace what the recipe names (the keyword API passes them; they never become text).

    ``recipe_folder``: where the recipe was read from, for finding a relative input path on replay.
    With ``text`` and no objective, only CLIP steers the dream and the model's forward is skipped.
    With a guide (``recipe.guide`` or a live ``guide`` [1, 3, H, W]), the objective's layers are dreamed
    toward the guide's features (see :mod:`reverie.objectives.guide`) instead of amplified.
    ``stop``: checked after every step; a stopped dream returns the image so far (``result.stopped``),
    and its recipe records where it stopped.
    """
    refuse_untrusted(recipe.model, model)
    device = resolve_device(device)
    text_term = text_objective(recipe.text, recipe.text_weight, recipe.clip_model, clip_weights(recipe),
                               recipe.cutouts, clip, device, recipe.seed)  # missing CLIP weights fail first
    if image is None:
        image, digest = load_start(input_path(recipe, "source", "input image", recipe_folder), recipe.source_sha256, recipe.size, recipe.seed, check_hash,
                                   recipe_folder)
        recipe = replace(recipe, source_sha256=digest)
    check_image(image)
    shape = tuple(image.shape[-2:])
    if mask is None and recipe.mask is not None:
        mask, digest = load_mask(recipe, shape, check_hash, recipe_folder)
        recipe = replace(recipe, mask_sha256=digest)
    if mask is not None:
        mask = fit_mask(check_mask(mask), shape)
        if not bool(mask.any()):
            what = f"mask {recipe.mask}" if recipe.mask else "the mask"
            raise ReverieError(f"{what} is empty (all black or fully transparent): nothing would be dreamed")
    if guide is None and recipe.guide is not None:
        guide, digest = load_guide(recipe, shape, check_hash, recipe_folder)
        recipe = replace(recipe, guide_sha256=digest)
    if recipe.blend.strip() and text_term is not None:
        raise ReverieError("a blend cannot be combined with a text prompt; give --blend or --text")
    model, model_device = model_on_device(recipe.model, model, device)

    targets = None  # a blend's objectives, each dreamed inside its own mask
    if recipe.blend.strip():
        targets = parse_blend(recipe.blend)
        ramps = ramp_masks(len(targets), *shape, recipe.blend_ramp)
        mask = ramps if mask is None else ramps * mask
        recipe = replace(recipe, blend=blend_text(targets))
        objective = sum(targets[1:], targets[0])  # all of them, for the checks below
    elif objective is None and text_term is not None and not recipe.objective.strip():
        objective = text_term  # the prompt alone: no layer of the model is read
    else:
        if objective is None:
            objective = objective_from(recipe.objective, recipe.model, model)
        recipe = replace(recipe, objective=text_of(objective) or live_name(objective))
        if guide is not None:  # the same layers, each toward the guide's features
            checked(objective, model)
            objective = guided(model, guide.to(model_device), objective.layers)
        if text_term is not None:
            objective = objective + text_term

    checked(objective, model)
    settings = dream_settings_for(model, objective, recipe.settings)
    if mask is not None:
        mask = mask.to(model_device)
    tracker = tracker_for(recipe, progress, stop)
    dreamed = deep_dream(model, targets or objective, image.to(model_device), settings, recipe.seed, tracker,
                         mask=mask, stop=tracker)
    return DreamResult(stopped_recipe(recipe, tracker), tracker.stopped, dreamed.detach().cpu())


def dream(image: str | os.PathLike | torch.Tensor | Image.Image | None = None, *,
          model: str | ModelSpec | nn.Module = "efficientnet-lite0", objective: str | Objective | None = None,
          settings: DreamSettings = DreamSettings(), seed: int = 0, size: tuple[int, int] | None = None,
          device: str | torch.device = "auto", progress: ProgressCallback | None = None,
          stop: StopSignal | None = None, mask: str | os.PathLike | torch.Tensor | None = None,
          blend: str = "", blend_ramp: str = "horizontal", text: str = "", text_weight: float = 1.0,
          clip: Clip | None = None, guide: str | os.PathLike | torch.Tensor | None = None) -> DreamResult:
    """DeepDream an image and return a :class:`DreamResult` (``.image``, ``.recipe``, ``.save(path)``).

    ``image``: a file path, a sample name (``"chelsea"``, ``"coffee"``, ``"astronaut"``, ``"rocket"``),
    ``"noise"``, a PIL image or a [1, 3, H, W] tensor in [0, 1]; None dreams the ``chelsea`` sample.
    ``model``: a registered name, a :class:`ModelSpec`, or any ``nn.Module`` taking [0, 1] RGB.
    ``objective``: any Objective (masked, style or CLIP ones too: they are used as they are), expression
    text such as ``"channel(blocks.9, 7)"``, or None for the model's default layers.
    ``size``: (width, height) to resize the input to. ``progress``: called with a :class:`reverie.Progress`
    after every step; ``stop``: anything with ``is_set()`` (a ``threading.Event``).
    ``mask``: an image file (alpha channel, else luminance) or a [1, 1, H, W] tensor outside of which
    nothing changes. ``blend``: objectives separated by ``|`` (instead of ``objective``), dreamed side by
    side along ``blend_ramp``. ``text``: a CLIP prompt, with ``clip`` a loaded :class:`Clip`.
    ``guide``: an image file, sample name or [1, 3, H, W] tensor whose features the dream grows toward
    (the DeepDream notebook's guided dream) at the objective's layers.
    """
    pixels = None
    if isinstance(image, Image.Image):
        pixels = from_pil(image)
    elif torch.is_tensor(image):
        pixels = image
    if pixels is not None and size is not None:
        pixels = resize(pixels, Size(*size).shape)
    spec, module = model_field(model)
    live_objective = objective if isinstance(objective, Objective) else None
    live_mask = mask if torch.is_tensor(mask) else None
    recipe = DreamRecipe(source=source_text(image), size=size, model=spec,
                         objective=objective if isinstance(objective, str) else "",
                         settings=settings, seed=seed,
                         mask=None if mask is None else live_name(mask) if live_mask is not None else str(mask),
                         blend=blend, blend_ramp=blend_ramp, text=text, text_weight=text_weight,
                         guide=None if guide is None else live_name(guide) if torch.is_tensor(guide)
                         else source_text(guide))
    live_guide = None
    if torch.is_tensor(guide):  # seen at the dream's scale, as a guide file is
        shape = pixels.shape[-2:] if pixels is not None else Size(*size).shape if size is not None else None
        live_guide = guide if shape is None else resize(guide, fit_size(guide, min(max(shape), settings.tile)).shape)
    return run(recipe, model=module, image=pixels, objective=live_objective, mask=live_mask, clip=clip,
               device=device, progress=progress, stop=stop, guide=live_guide)
