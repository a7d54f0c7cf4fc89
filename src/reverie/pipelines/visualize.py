"""Feature-visualization pipelines: recipe -> model, objective, parameterization -> render loop -> images."""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from PIL import Image
from torch import nn

from reverie.engine.optimize import render
from reverie.engine.progress import Progress, ProgressCallback
from reverie.errors import ReverieError
from reverie.expressions import Call, Number, evaluate, parse
from reverie.imaging import flatten_alpha, grid
from reverie.io.images import save_image
from reverie.models import ModelSpec, layer_shapes, model_on_device, resolve_device
from reverie.objectives import FUNCTIONS, Objective, alignment, parse_objective, transparent
from reverie.randomness import generator
from reverie.recipe import InterpolateRecipe, VisualizeRecipe

SHEET_BATCH = 8  # channels rendered together when making a sheet: one pass, bounded memory


@dataclass(frozen=True)
class Visualization:
    """Rendered images [N, C, H, W] (C = 4 with alpha), their labels, history and recipe."""

    images: torch.Tensor
    labels: list[str]
    history: list[float]
    recipe: VisualizeRecipe | InterpolateRecipe

    def picture(self) -> Image.Image:
        """One image as is; several as a labelled contact sheet."""
        if self.images.shape[0] == 1:
            from reverie.imaging import to_pil

            return to_pil(self.images)
        return grid(flatten_alpha(self.images), labels=self.labels)

    def save(self, path: str | os.PathLike) -> Path:
        return save_image(path, self.picture(), self.recipe.to_json())


def for_batch(text: str, index: int) -> Objective:
    """Parse objective text with every call aimed at batch item ``index`` (adds ``batch=index``)."""
    def aim(node):
        if isinstance(node, Call):
            kwargs = tuple((k, aim(v)) for k, v in node.kwargs if k != "batch")
            args = tuple(aim(a) for a in node.args)
            if node.name in FUNCTIONS and _takes_batch(node.name):
                kwargs += (("batch", Number(index)),)
            return replace(node, args=args, kwargs=kwargs)
        for attribute in ("left", "right", "operand"):
            if hasattr(node, attribute):
                node = replace(node, **{attribute: aim(getattr(node, attribute))})
        return node
    value = evaluate(aim(parse(text)), FUNCTIONS)
    if not isinstance(value, Objective):
        raise ReverieError(f"objective {text!r} is not an objective")
    return value


def _takes_batch(name: str) -> bool:
    import inspect

    try:
        return "batch" in inspect.signature(FUNCTIONS[name]).parameters
    except (TypeError, ValueError):
        return False


def _model_and_device(recipe, model: nn.Module | None, device) -> tuple[nn.Module, torch.device]:
    return model_on_device(ModelSpec(recipe.model, recipe.weights, recipe.normalize), model, device)


def _param(recipe, batch: int, seed_label: object, device: torch.device, aligned: bool = False):
    from reverie.params import make_param

    width, height = recipe.size
    channels = 4 if getattr(recipe, "alpha", False) else 3
    name = "interpolation" if aligned else recipe.param
    options = {}
    if name in ("fft", "aligned", "interpolation"):
        options["decay_power"] = recipe.decay_power
    if name in ("fft", "pixel"):
        options["decorrelate"] = recipe.decorrelate
    param = make_param(name, height, width, batch=batch, channels=channels,
                       generator=generator(recipe.seed, "param", seed_label), **options)
    return param.to(device)


def _transforms(name: str):
    from reverie.robustness import transforms_by_name

    return transforms_by_name(name)


class _Chunks:
    """Progress over several render passes, reported as one bar."""

    def __init__(self, progress: ProgressCallback | None, chunks: int):
        self.progress, self.chunks, self.index = progress, chunks, 0

    def callback(self, event: Progress) -> None:
        if self.progress is not None:
            stage = f"batch {self.index + 1}/{self.chunks}" if self.chunks > 1 else event.stage
            self.progress(replace(event, stage=stage, work_done=self.index * event.work_total + event.work_done,
                                  work_total=self.chunks * event.work_total))


def blend_objective(text: str, ramp: str, size: tuple[int, int]) -> Objective:
    """``"a | b"`` -> ``masked(a, band 0) + masked(b, band 1)``: the objectives side by side along ``ramp``
    on an image of ``size`` = (width, height), meeting in a smooth transition (see ``ramp_masks``)."""
    from reverie.masks import ramp_masks
    from reverie.objectives import masked, parse_blend

    objectives = parse_blend(text)
    width, height = size
    masks = ramp_masks(len(objectives), height, width, ramp)  # [N, 1, H, W]
    terms = [masked(objective, masks[i:i + 1]) for i, objective in enumerate(objectives)]
    return sum(terms[1:], terms[0])


def visualize(recipe: VisualizeRecipe, *, model: nn.Module | None = None, device: str | torch.device = "auto",
              progress: ProgressCallback | None = None, clip=None) -> Visualization:
    """Render the recipe: one objective over a batch, or one image per channel of ``layer``.

    With ``text``, CLIP similarity to the prompt is added (or, with no objective, is the objective);
    ``clip`` (a :class:`reverie.objectives.clip.Clip`) overrides the recipe's CLIP model.
    """
    from reverie.objectives.clip import load_clip
    from reverie.pipelines.dream import text_objective

    if recipe.text and clip is None:
        clip = load_clip(recipe.clip_model, recipe.clip_weights, resolve_device(device))  # fails before rendering
    model, device = _model_and_device(recipe, model, device)
    transforms = _transforms(recipe.transforms)
    if recipe.channels and recipe.blend.strip():
        raise ReverieError("a blend paints one image; it cannot be combined with --channels")
    if recipe.channels:
        if not recipe.layer:
            raise ReverieError("channels need a layer (--layer)")
        chunks = [recipe.channels[i:i + SHEET_BATCH] for i in range(0, len(recipe.channels), SHEET_BATCH)]
        texts = [" + ".join(f"channel({_quoted(recipe.layer)}, {c}, batch={i})" for i, c in enumerate(chunk))
                 for chunk in chunks]
        labels = [f"{c}" for c in recipe.channels]
        extra = recipe.objective
    else:
        if not recipe.objective.strip() and not recipe.text and not recipe.blend.strip():
            raise ReverieError("nothing to visualize: give --layer/--channel, --objective or --text")
        chunks, texts, labels, extra = [None], [None], [], ""
    objectives = []
    for index, (chunk, text) in enumerate(zip(chunks, texts)):
        text_term = text_objective(recipe, clip, device, recipe.seed + index)
        if recipe.blend.strip():
            objective = blend_objective(recipe.blend, recipe.blend_ramp, recipe.size)
            objectives.append(objective if text_term is None else objective + text_term)
            continue
        if not text and not recipe.objective.strip():
            objectives.append(text_term)  # the prompt alone: the model's forward is skipped
            continue
        objective = parse_objective(text) if text else parse_objective(recipe.objective)
        if text and extra.strip():
            objective = objective + parse_objective(extra)
        objectives.append(objective if text_term is None else objective + text_term)
    if recipe.alpha:
        # Semi-transparent output: opaque pixels must earn their place (see Transparent).
        objectives = [o if o.expression().startswith("transparent(") else transparent(o) for o in objectives]
    # Check names and indices on a small probe before any long work.
    for objective in objectives:
        objective.check(layer_shapes(model, objective.layers))

    tracker = _Chunks(progress, len(objectives))
    images, history = [], []
    for index, (chunk, objective) in enumerate(zip(chunks, objectives)):
        tracker.index = index
        batch = len(chunk) if chunk is not None else recipe.batch
        param = _param(recipe, batch, index, device)
        rendering = render(model, objective, param, transforms, recipe.settings, recipe.seed + index, tracker.callback)
        images.append(rendering.image.cpu())
        history.extend(rendering.history)
    images_t = torch.cat(images)
    if not labels and images_t.shape[0] > 1:
        labels = [str(i) for i in range(images_t.shape[0])]
    return Visualization(images_t, labels, history, recipe)


def interpolate(recipe: InterpolateRecipe, *, model: nn.Module | None = None, device: str | torch.device = "auto",
                progress: ProgressCallback | None = None) -> Visualization:
    """Frames morphing from ``start`` to ``end``: frame i maximises (1-t) start + t end, with
    parameters shared across frames so that neighbouring frames stay aligned."""
    if recipe.frames < 2:
        raise ReverieError(f"frames must be at least 2, got {recipe.frames}")
    model, device = _model_and_device(recipe, model, device)
    objective = None
    for index in range(recipe.frames):
        t = index / (recipe.frames - 1)
        term = (1 - t) * for_batch(recipe.start, index) + t * for_batch(recipe.end, index)
        objective = term if objective is None else objective + term
    if recipe.alignment > 0:
        # Neighbouring frames should agree where their objectives allow, so the sequence morphs.
        for name in objective.layers:
            if not name.startswith("@"):
                objective = objective + recipe.alignment * alignment(name)
    objective.check(layer_shapes(model, objective.layers))
    param = _param(recipe, recipe.frames, "aligned", device, aligned=True)
    rendering = render(model, objective, param, _transforms(recipe.transforms), recipe.settings, recipe.seed, progress)
    return Visualization(rendering.image.cpu(), [str(i) for i in range(recipe.frames)], rendering.history, recipe)


def _quoted(layer: str) -> str:
    from reverie.expressions import quote_name

    return quote_name(layer)
