"""The layer and channel browser's work: a model's layers, per-channel thumbnails rendered in batches
(channels on the batch axis, one forward per step) and cached on disk, and channels ranked by how
strongly a photo excites them ("what does the network see in my photo?").
"""
from __future__ import annotations

import hashlib
import json
import weakref
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from reverie.engine.optimize import RenderSettings
from reverie.engine.progress import ProgressCallback, StopSignal
from reverie.errors import ReverieError, unknown_name_message
from reverie.io.images import save_image
from reverie.models import ModelSpec, dreamable_layers
from reverie.models.inspect import LayerInfo
from reverie.pipelines.prepare import record
from reverie.pipelines.visualize import VisualizeRecipe
from reverie.tasks import run as run_task

THUMBNAIL_SIDE = 96      # px: small enough to render a page of channels in seconds on a CPU
THUMBNAIL_STEPS = 64     # enough for a channel's motif to show; the visualize page makes the real one
PAGE = 16                # channels per page of the browser


@dataclass(frozen=True)
class Thumbnail:
    channel: int
    path: Path


_LAYERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> its layers (a probe forward each)


def layers_of(model: nn.Module) -> list[LayerInfo]:
    """The layers worth browsing, in forward order (what ``reverie layers`` lists); probed once per model."""
    if model not in _LAYERS:
        _LAYERS[model] = dreamable_layers(model)
    return _LAYERS[model]


def layer_named(model: nn.Module, name: str) -> LayerInfo:
    found = {info.name: info for info in layers_of(model)}
    if name not in found:
        raise ReverieError(unknown_name_message("layer", name, found))
    return found[name]


def thumbnail_recipe(spec: ModelSpec, layer: str, channels: tuple[int, ...], side: int = THUMBNAIL_SIDE,
                     steps: int = THUMBNAIL_STEPS) -> VisualizeRecipe:
    return VisualizeRecipe(model=spec, layer=layer, channels=channels, size=(side, side),
                           settings=RenderSettings(steps=steps))


def _cache_path(folder: Path, recipe: VisualizeRecipe, channel: int) -> Path:
    """Where one channel's thumbnail lives: keyed by everything that decides its pixels but the other
    channels of its batch (model, weights, normalization, layer, size, steps, seed)."""
    key = json.dumps({"model": [recipe.model.name, recipe.model.weights, recipe.model.normalize],
                      "layer": recipe.layer, "size": recipe.size, "steps": recipe.settings.steps,
                      "seed": recipe.seed}, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return folder / digest / f"{channel}.png"


def thumbnails(model: nn.Module, spec: ModelSpec, layer: str, channels: list[int], folder: Path, *,
               side: int = THUMBNAIL_SIDE, steps: int = THUMBNAIL_STEPS, progress: ProgressCallback | None = None,
               stop: StopSignal | None = None) -> list[Thumbnail]:
    """Thumbnails of ``channels`` of ``layer``: read from ``folder`` when cached, the rest rendered
    in one visualize task (its images on the batch axis) and saved with that task's recipe.

    A stop keeps the thumbnails already cached and returns those.
    """
    info = layer_named(model, layer)
    bad = [channel for channel in channels if not 0 <= channel < info.channels]
    if bad:
        raise ReverieError(f"channel {bad[0]} is not in layer {layer} (valid: 0-{info.channels - 1})")
    probe = thumbnail_recipe(spec, layer, (0,), side, steps)
    missing = [channel for channel in channels if not _cache_path(folder, probe, channel).exists()]
    if missing:
        recipe = thumbnail_recipe(spec, layer, tuple(missing), side, steps)
        result = run_task(recipe, model=model, progress=progress, stop=stop)
        if not result.stopped:
            for index, channel in enumerate(missing):
                path = _cache_path(folder, recipe, channel)
                path.parent.mkdir(parents=True, exist_ok=True)
                save_image(path, result.images[index:index + 1], result.recipe.to_json())
    return [Thumbnail(channel, _cache_path(folder, probe, channel)) for channel in channels
            if _cache_path(folder, probe, channel).exists()]


def ranked_channels(model: nn.Module, layer: str, image: torch.Tensor, count: int = PAGE) -> list[tuple[int, float]]:
    """The ``count`` channels of ``layer`` that ``image`` [1, 3, H, W] excites most, by mean activation,
    strongest first, with that mean."""
    layer_named(model, layer)
    parameter = next(iter(model.parameters()), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    activation = record(model, image.to(device), [layer])[layer]   # [1, C, h, w]
    means = activation.float().mean(dim=(0, 2, 3)).cpu()
    order = torch.argsort(means, descending=True)[:count]
    return [(int(channel), float(means[channel])) for channel in order]
