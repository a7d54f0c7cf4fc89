"""What an atlas holds, decided before anything renders: its settings, every unit, the batches they are
rendered in, and each output's deterministic key and file name.

A unit is one channel of one layer. Its images (the visualization, optionally its negative and a
diversity batch) are rendered by the visualize task, several units to a batch (one channel per batch
item, one forward per step). Each image's key hashes the model and its weights, the layer, the unit,
what is drawn and the recipe that draws it; its file name carries the key, so a rebuild knows at a
glance what is already on disk.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, replace

import torch
from torch import nn

from reverie.engine.optimize import RenderSettings
from reverie.errors import ReverieError, unknown_name_message
from reverie.expressions import format_number, quote_name
from reverie.fields import check_fields, option
from reverie.models import ModelSpec, layer_shapes
from reverie.pipelines.visualize import VisualizeRecipe
from reverie.recipe import MAX_BATCH
from reverie.recorder import module_names

# Units per render batch. Measured with bench/atlas_batch.py on a shared 2-core CPU, one thread, at
# 128 px (EfficientNet-Lite0, blocks.9): units/s at batch 1, 2, 4, 8, 16 = 1 : 1.20 : 1.34 : 1.38 :
# 1.39; 8 is as fast as 16 with half the memory. A GPU, which batch 1 leaves mostly idle, gains more
# from a larger --batch.
DEFAULT_BATCH = 8
VARIANTS = ("unit", "negative", "diversity")  # what a unit's images show: its channel, the opposite, a batch
# Lucid's diversity weight is 100 at batch 4 summed over pairs; Reverie's term is the mean over pairs,
# (B - 1) times smaller, so 300 matches it (see reverie.objectives.diversity).
DIVERSITY_WEIGHT = 300.0


@dataclass(frozen=True)
class AtlasSettings:
    """How every unit of an atlas is rendered (the model is given beside it)."""

    layers: tuple[str, ...] = option((), "layers to map, e.g. blocks.6,blocks.9", max_items=1000)
    channels: tuple[int, ...] = option((), "channels of every layer; empty: all of them", low=0, max_items=100_000)
    size: int = option(128, "side of every image in pixels", low=16, high=1024)
    steps: int = option(512, "optimization steps per image", low=1, high=100_000)
    negative: bool = option(False, "also render each unit's negative (what it responds to least)")
    diversity: int = option(0, "also render a diversity batch of this many images per unit (0: none)", low=0,
                            high=MAX_BATCH)
    batch: int = option(DEFAULT_BATCH, "units rendered together, one per batch item; 0: the number measured fastest "
                                       "on this machine (kept in atlas.json, so a resumed build renders the same)",
                        low=0, high=MAX_BATCH)
    seed: int = option(0, "random seed; the same seed gives the same pixels", low=0, high=2**63 - 1)

    def __post_init__(self):
        check_fields(self)
        if not self.layers:
            raise ReverieError("an atlas needs at least one layer (--layers blocks.6,blocks.9)")
        if self.diversity == 1:
            raise ReverieError("a diversity batch needs at least 2 images (--diversity 4), or 0 for none")


@dataclass(frozen=True)
class Output:
    """One image of one unit: where it goes and the key that names it."""

    layer: str
    unit: int
    variant: str   # one of VARIANTS
    key: str       # hex; the same settings on the same model and weights give the same key
    recipe: VisualizeRecipe  # replays exactly this image (the batch it was rendered in, keeping its item)

    @property
    def recipe_hash(self) -> str:
        return recipe_hash(self.recipe)

    @property
    def file(self) -> str:
        """Its path inside the atlas folder."""
        suffix = "" if self.variant == "unit" else f"-{self.variant}"
        return f"units/{file_part(self.layer)}/{self.unit}{suffix}.{self.key}.png"


@dataclass(frozen=True)
class Batch:
    """Units rendered together: one visualize recipe, one output per unit."""

    index: int
    recipe: VisualizeRecipe      # the whole batch (no item chosen)
    outputs: tuple[Output, ...]

    @property
    def layer(self) -> str:
        return self.outputs[0].layer

    @property
    def variant(self) -> str:
        return self.outputs[0].variant

    @property
    def work(self) -> int:
        """Its cost in image-steps, for progress: every item of the batch for every step."""
        return self.recipe.batch * self.recipe.settings.steps


@dataclass(frozen=True)
class Plan:
    """The full list of an atlas's batches, in render order, and the channels of each layer."""

    model_hash: str
    layers: dict[str, tuple[int, ...]]   # layer -> its units, in order
    widths: dict[str, int]               # layer -> its channel count
    batches: tuple[Batch, ...]

    @property
    def outputs(self) -> list[Output]:
        return [output for batch in self.batches for output in batch.outputs]


def file_part(layer: str) -> str:
    """A layer name as a file or folder name: dotted paths stay readable, anything odd is replaced."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", layer).lstrip(".") or "_"


def model_hash(spec: ModelSpec, model: nn.Module) -> str:
    """sha256 of what the model computes with: its name, input normalization, and every parameter and
    buffer (names, dtypes, shapes and bytes), so retrained weights give another atlas."""
    digest = hashlib.sha256(json.dumps([spec.name, spec.normalize]).encode())
    for name, tensor in sorted(model.state_dict().items()):
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def recipe_hash(recipe: VisualizeRecipe) -> str:
    return hashlib.sha256(recipe.to_json().encode()).hexdigest()


def output_key(model_digest: str, layer: str, unit: int, variant: str, recipe: VisualizeRecipe) -> str:
    """The deterministic key of one image: model and weights, layer, unit, variant and recipe hashed."""
    text = json.dumps([model_digest, layer, unit, variant, recipe_hash(recipe)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def check_layers(model: nn.Module, settings: AtlasSettings) -> dict[str, int]:
    """Every layer's channel count; a one-line error naming the nearest layer or the valid channel range."""
    names = module_names(model)
    for layer in settings.layers:
        if layer not in names:
            raise ReverieError(unknown_name_message("layer", layer, names))
    widths = {}
    for layer, shape in layer_shapes(model, settings.layers).items():
        if layer.startswith("@"):
            continue
        if len(shape) != 4:
            raise ReverieError(f"layer {layer} gives {list(shape)}, not an image-shaped [B, C, H, W] output; "
                               "an atlas maps convolutional layers")
        widths[layer] = shape[1]
        beyond = [c for c in settings.channels if c >= shape[1]]
        if beyond:
            raise ReverieError(f"layer {layer} has {shape[1]} channels (0-{shape[1] - 1}); "
                               f"--channels asks for {beyond[0]}")
    return widths


def plan(spec: ModelSpec, model: nn.Module, settings: AtlasSettings, digest: str | None = None) -> Plan:
    """Every batch of the atlas, in a fixed order: layer by layer, the units, then their negatives, then
    their diversity batches. The same settings always give the same batches, which is what makes a
    resumed build's pixels equal an uninterrupted one's."""
    widths = check_layers(model, settings)
    digest = digest or model_hash(spec, model)
    base = VisualizeRecipe(model=spec, size=(settings.size, settings.size), seed=settings.seed,
                           settings=RenderSettings(steps=settings.steps))
    layers = {layer: settings.channels or tuple(range(widths[layer])) for layer in settings.layers}
    batches: list[Batch] = []

    def add(layer: str, variant: str, units: tuple[int, ...], recipe: VisualizeRecipe, per_unit_item: bool):
        outputs = []
        for item, unit in enumerate(units):
            unit_recipe = replace(recipe, item=item) if per_unit_item else recipe
            outputs.append(Output(layer, unit, variant, output_key(digest, layer, unit, variant, unit_recipe),
                                  unit_recipe))
        batches.append(Batch(len(batches), recipe, tuple(outputs)))

    for layer, units in layers.items():
        name = quote_name(layer)
        chunks = [units[i:i + settings.batch] for i in range(0, len(units), settings.batch)]
        for chunk in chunks:
            text = " + ".join(f"channel({name}, {unit}, batch={item})" for item, unit in enumerate(chunk))
            add(layer, "unit", chunk, replace(base, objective=text, batch=len(chunk)), True)
        if settings.negative:
            for chunk in chunks:
                text = " - ".join(f"channel({name}, {unit}, batch={item})" for item, unit in enumerate(chunk))
                add(layer, "negative", chunk, replace(base, objective="-" + text, batch=len(chunk)), True)
        if settings.diversity:
            weight = format_number(DIVERSITY_WEIGHT)
            for unit in units:
                text = f"channel({name}, {unit}) + {weight}*diversity({name})"
                add(layer, "diversity", (unit,), replace(base, objective=text, batch=settings.diversity), False)
    return Plan(digest, layers, widths, tuple(batches))
