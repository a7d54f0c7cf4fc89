"""The visualize task: recipe (or keywords with live objects) -> model, objective, parameterization ->
render loop -> images (one, a batch, or a contact sheet)."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

import torch
from torch import nn

from reverie.engine.batch_size import measured_batch
from reverie.engine.optimize import RenderSettings, render
from reverie.engine.phased import render_phased
from reverie.engine.progress import ProgressCallback, StopSignal
from reverie.errors import ReverieError
from reverie.expressions import quote_name
from reverie.fields import option
from reverie.imaging import Size
from reverie.io.images import save_output
from reverie.masks import ramp_masks
from reverie.models import ModelSpec, model_on_device, resolve_device
from reverie.objectives import (
    Objective,
    Transparent,
    masked,
    parse_blend,
    parse_objective,
    transparent,
    without_diversity,
)
from reverie.objectives.clip import Clip, load_clip
from reverie.params import CPPNParam, make_param
from reverie.pipelines.prepare import (checked, clip_weights, default_visualize_objective, live_name, model_field,
                                      refuse_untrusted, replayable, text_objective, text_of)
from reverie.pipelines.result import ImageResult, Passes, stopped_recipe, tracker_for
from reverie.randomness import generator
from reverie.recipe import MAX_BATCH, MAX_OPTIMISED_SIDE, Blended, Prompted, Recipe, check_exclusive, check_size
from reverie.robustness import TRANSFORM_SETS, canvas_views, transforms_by_name

SHEET_BATCH = 8  # channels rendered together in a sheet when the job is too small to measure (and before)
# Measuring the best batch (engine.batch_size) costs about 30-60 image passes: paid only by sheets of at
# least this many image-steps, where it is under 5 % of the work.
MEASURE_FROM = 1200
# The network's view of a larger canvas (see robustness.CanvasView): the whole canvas shrunk to this
# long side on some steps, crops at finer zooms on others. 384 px: near the size the models were trained
# at, and a 1024 px visualization stays well under 1.5 GB (bench/composition.py).
VIEW_SIDE = 384
MAX_CHANNELS = 4096
PARAM_NAMES = ("fft", "pixel", "cppn")
# Diversity pushes a batch's images apart while their motifs form; after that it only fights the channel
# (at high weights, washed-out images). Counted on the first half of the steps, the images keep their
# different layouts and the second half brings each one's channel back (bench/diversity.py).
DIVERSITY_STEPS = 0.5


@dataclass(frozen=True)
class VisualizeRecipe(Recipe, Prompted, Blended):
    """Everything needed to replay a feature visualization (one image, a batch, or a sheet)."""

    KIND: ClassVar[str] = "visualize"
    objective: str = option("", "objective expression for the whole batch; per-item targets use batch=i; with "
                                "no objective, channels or text: channel(blocks.9, 7) on EfficientNet-Lite0, "
                                "channel 0 of the default dream layer on other models", max_length=10_000)
    layer: str = option("", "with channels: one image per channel of this layer (a contact sheet)",
                        flag="--layer", short="-l", max_length=1000)
    channels: tuple[int, ...] = option((), "channels of the layer, one image each", low=0, high=100_000,
                                       max_items=MAX_CHANNELS)
    param: str = option("fft", "image parameterization", choices=PARAM_NAMES)
    decay_power: float = option(1.0, "fft: how fast the spectrum's scale falls with frequency", low=0, high=8)
    decorrelate: bool = option(True, "optimise in ImageNet's decorrelated colour space")
    cppn_norm: bool = option(True, "cppn: normalise each hidden layer over the image (without it colours "
                                   "collapse to one hue)", absent=False)
    alpha: bool = option(False, "RGBA output, optimised over random backgrounds")
    size: tuple[int, int] = option((224, 224), "WIDTHxHEIGHT of each image", low=1)
    batch: int = option(1, "images optimised together", low=1, high=MAX_BATCH)
    # Added later: sheets were rendered 8 channels at a time before it existed.
    sheet_batch: int = option(0, "channels of a sheet rendered together; 0: the size measured fastest here (the "
                                 "output's recipe keeps the number)", low=0, high=MAX_BATCH, absent=SHEET_BATCH)
    transforms: str = option("standard", "robustness transforms", choices=tuple(TRANSFORM_SETS))
    view: int = option(VIEW_SIDE, "a larger image is seen through views of this long side (px): the whole image "
                                  "shrunk, and crops at finer zooms, so it has structure at every scale; "
                                  "0: the whole image at full size (not with --blend)", low=0, high=4096, absent=0)
    settings: RenderSettings = option(default_factory=RenderSettings, help="how the image is optimised", flag=False)
    # Added later: diversity counted on every step washed the images out or left them alike (bench/diversity.py).
    diversity_steps: float = option(DIVERSITY_STEPS, "fraction of the steps, from the first, on which diversity "
                                                     "terms count; the rest sharpen what each image shows",
                                    low=0.0, high=1.0, absent=1.0)
    # An atlas renders several units in one batch; each unit's file replays the batch and keeps its own item.
    item: int | None = option(None, "of the images rendered, the one to return (the rest are rendered alongside "
                                    "it, as when it was made, and dropped)", low=0, high=MAX_CHANNELS - 1,
                              flag=False)

    def __post_init__(self):
        check_size(self.size, "visualize", MAX_OPTIMISED_SIDE)  # first: its message beats the generic one
        super().__post_init__()
        check_exclusive(self, "objective", "blend")


@dataclass(frozen=True)
class VisualizeResult(ImageResult):
    """Rendered images [N, C, H, W] (C = 4 with alpha), their labels, the score history and the recipe.

    ``network``: for a CPPN rendered in one pass, the network itself (``CPPNParam.to_text``), which
    :meth:`save` keeps in a PNG so ``reverie render`` can draw the picture again at any size.
    """

    network: str | None = None

    def save(self, path: str | os.PathLike) -> Path:
        return save_output(path, self.picture(), self.recipe.to_json(), self.network)


Visualization = VisualizeResult  # earlier name


def _param(recipe: VisualizeRecipe, batch: int, seed_label: object, device: torch.device):
    size = Size(*recipe.size)
    channels = 4 if recipe.alpha else 3
    options = {}
    if recipe.param == "fft":
        options["decay_power"] = recipe.decay_power
    if recipe.param in ("fft", "pixel"):
        options["decorrelate"] = recipe.decorrelate
    if recipe.param == "cppn":
        options["normalize"] = recipe.cppn_norm
    param = make_param(recipe.param, size.height, size.width, batch=batch, channels=channels,
                       generator=generator(recipe.seed, "param", seed_label), **options)
    return param.to(device)


def blend_objective(text: str, ramp: str, size: tuple[int, int]) -> Objective:
    """``"a | b"`` -> ``masked(a, band 0) + masked(b, band 1)``: the objectives side by side along ``ramp``
    on an image of ``size`` = (width, height), meeting in a smooth transition (see ``ramp_masks``)."""
    objectives = parse_blend(text)
    masks = ramp_masks(len(objectives), *Size(*size).shape, ramp)  # [N, 1, H, W]
    terms = [masked(objective, masks[i:i + 1]) for i, objective in enumerate(objectives)]
    return sum(terms[1:], terms[0])


def _plan(recipe: VisualizeRecipe, objective: Objective | None) -> tuple[list, list[Objective | None], list[str]]:
    """The render passes: (batch size of each pass, its objective without CLIP/alpha, labels)."""
    if recipe.channels and recipe.blend.strip():
        raise ReverieError("a blend paints one image; it cannot be combined with --channels")
    if recipe.channels:
        if not recipe.layer:
            raise ReverieError("channels need a layer (--layer)")
        size = recipe.sheet_batch or SHEET_BATCH
        chunks = [recipe.channels[i:i + size] for i in range(0, len(recipe.channels), size)]
        extra = objective if objective is not None else (
            parse_objective(recipe.objective) if recipe.objective.strip() else None)
        objectives = []
        for chunk in chunks:
            sheet = parse_objective(" + ".join(f"channel({quote_name(recipe.layer)}, {c}, batch={i})"
                                               for i, c in enumerate(chunk)))
            objectives.append(sheet if extra is None else sheet + extra)
        return [len(chunk) for chunk in chunks], objectives, [str(c) for c in recipe.channels]
    if objective is None and recipe.blend.strip():
        objective = blend_objective(recipe.blend, recipe.blend_ramp, recipe.size)
    elif objective is None and recipe.objective.strip():
        objective = parse_objective(recipe.objective)
    elif objective is None and not recipe.text:
        raise ReverieError("nothing to visualize: give --layer/--channel, --objective or --text")
    return [recipe.batch], [objective], []


def _sheet_batch(recipe: VisualizeRecipe, model: nn.Module, device: torch.device) -> int:
    """How many channels of the sheet to render together: measured where the sheet is big enough."""
    count = len(recipe.channels)
    if count * recipe.settings.steps < MEASURE_FROM or not recipe.layer:
        return min(SHEET_BATCH, count)
    size = Size(*recipe.size)
    return measured_batch(model, [recipe.layer], size.height, size.width, min(count, MAX_BATCH), device)


@replayable
def run(recipe: VisualizeRecipe, *, progress: ProgressCallback | None = None, stop: StopSignal | None = None,
        device: str | torch.device = "auto", model: nn.Module | None = None, objective: Objective | None = None,
        clip: Clip | None = None) -> VisualizeResult:
    """Render the recipe: one objective over a batch, or one image per channel of ``layer``.

    ``objective`` (a live Objective of any kind) replaces the recipe's text; ``model`` and ``clip``
    replace the recipe's. With ``text``, CLIP similarity to the prompt is added (or, with no objective,
    is the objective). ``stop`` ends the render within one step and keeps what was rendered.
    """
    refuse_untrusted(recipe.model, model)
    if recipe.text and clip is None:  # loaded once, and before the model: missing CLIP weights fail first
        clip = load_clip(recipe.clip_model, clip_weights(recipe), resolve_device(device))
    model, device = model_on_device(recipe.model, model, device)
    if objective is None and not (recipe.channels or recipe.objective.strip() or recipe.blend.strip() or recipe.text):
        recipe = replace(recipe, objective=default_visualize_objective(recipe.model, model))  # stored: replays as is
    size = Size(*recipe.size)
    # Blend masks are laid out on the whole image, so a blend always sees it whole.
    views = [] if recipe.blend.strip() else canvas_views(size.height, size.width, recipe.view)
    transforms = views + transforms_by_name(recipe.transforms)
    if recipe.channels and not recipe.sheet_batch:
        recipe = replace(recipe, sheet_batch=_sheet_batch(recipe, model, device))
    batches, objectives, labels = _plan(recipe, objective)
    if recipe.item is not None and recipe.item >= sum(batches):
        raise ReverieError(f"item {recipe.item} is past the {sum(batches)} images the recipe renders")
    if objective is not None:
        recipe = replace(recipe, objective=text_of(objective) or live_name(objective))
    final, later = [], []  # each pass's objective, and the one for its steps after diversity (or None)
    for index, base in enumerate(objectives):
        text_term = text_objective(recipe.text, recipe.text_weight, recipe.clip_model, clip_weights(recipe),
                                   recipe.cutouts, clip, device, recipe.seed + index)

        def whole(base: Objective | None, text_term: Objective | None = text_term) -> Objective:
            term = text_term if base is None else base if text_term is None else base + text_term
            if recipe.alpha and not isinstance(term, Transparent):
                term = transparent(term)  # semi-transparent output: opaque pixels must earn their place
            return checked(term, model)

        final.append(whole(base))
        rest = without_diversity(base) if base is not None and recipe.diversity_steps < 1 else None
        later.append(whole(rest) if rest is not None else None)

    tracker = tracker_for(recipe, progress, stop)
    passes = Passes(tracker, len(final))
    images, history, network = [], [], None
    for index, (batch, term, then) in enumerate(zip(batches, final, later)):
        passes.index = index
        param = _param(recipe, batch, index, device)
        if isinstance(param, CPPNParam) and len(batches) == 1 and recipe.item is None:
            network = param
        seed = recipe.seed + index
        if then is None:
            rendering = render(model, term, param, transforms, recipe.settings, seed, passes, stop=tracker)
        else:  # diversity on the first steps, then without it
            first_steps = math.ceil(recipe.settings.steps * recipe.diversity_steps)
            rendering = render_phased(model, term, then, first_steps, param, transforms, recipe.settings, seed,
                                      passes, stop=tracker)
        images.append(rendering.image.cpu())
        history.extend(rendering.history)
        if tracker.stopped:
            break
    images_t = torch.cat(images)
    if recipe.item is not None and recipe.item < images_t.shape[0]:  # (a stopped run may hold fewer)
        images_t = images_t[recipe.item:recipe.item + 1]  # [N, C, H, W] -> [1, C, H, W]
        labels = [labels[recipe.item]] if len(labels) > recipe.item else []
    count = images_t.shape[0]
    labels = labels[:count] or ([str(i) for i in range(count)] if count > 1 else [])
    return VisualizeResult(stopped_recipe(recipe, tracker), tracker.stopped, images_t, labels, history,
                           network.to_text() if network is not None else None)


def visualize(objective: str | Objective | VisualizeRecipe | None = None, *, layer: str = "",
              channels: tuple[int, ...] = (), model: str | ModelSpec | nn.Module = "efficientnet-lite0",
              param: str = "fft", size: tuple[int, int] = (224, 224), batch: int = 1,
              settings: RenderSettings = RenderSettings(), seed: int = 0, alpha: bool = False,
              decay_power: float = 1.0, decorrelate: bool = True, transforms: str = "standard", view: int = VIEW_SIDE,
              blend: str = "", blend_ramp: str = "horizontal", text: str = "", text_weight: float = 1.0,
              clip: Clip | None = None, device: str | torch.device = "auto",
              progress: ProgressCallback | None = None, stop: StopSignal | None = None) -> VisualizeResult:
    """Visualize what maximises ``objective`` (any Objective, live masked ones too, or expression text),
    or one image per channel of ``layer`` with ``channels``. Returns a :class:`VisualizeResult`.

    A :class:`VisualizeRecipe` as the first argument runs that recipe (the other keywords then only
    pass ``model``, ``clip``, ``device``, ``progress`` and ``stop``).
    """
    spec, module = model_field(model)
    if isinstance(objective, VisualizeRecipe):
        return run(objective, model=module if not isinstance(model, str) else None, clip=clip, device=device,
                   progress=progress, stop=stop)
    recipe = VisualizeRecipe(model=spec, objective=objective if isinstance(objective, str) else "", layer=layer,
                             channels=tuple(channels), param=param, decay_power=decay_power, decorrelate=decorrelate,
                             alpha=alpha, size=size, batch=batch, transforms=transforms, view=view, settings=settings, seed=seed,
                             blend=blend, blend_ramp=blend_ramp, text=text, text_weight=text_weight)
    return run(recipe, model=module, objective=objective if isinstance(objective, Objective) else None, clip=clip,
               device=device, progress=progress, stop=stop)
