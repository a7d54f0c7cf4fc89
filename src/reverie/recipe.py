"""Recipes: frozen, replayable settings (text and numbers only) that every output carries.

A recipe is composed of parts defined once: the model (:class:`ModelSpec`), the seed, where a stopped
run stopped (:class:`StopPoint`) and, per task, settings dataclasses (``DreamSettings``,
``RenderSettings``). Each task's recipe class lives beside its task in ``pipelines/`` and registers
its ``KIND`` here by subclassing :class:`Recipe`. This module also holds the strict JSON reader
(recipes arrive in image files strangers share) and the JSON Schema writer the studio builds its
forms from.

The trust rule lives in the reader: a model read from a file is marked untrusted, and
:func:`reverie.models.load_model` refuses to build an untrusted model that could run code (an import
or a pickled file) unless the caller names that model again.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import types
import typing
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from reverie.errors import ReverieError, unknown_name_message
from reverie.fields import Origin, check_fields, escaped, file_values, option
from reverie.masks import RAMPS
from reverie.models import ModelSpec
from reverie.version import __version__

KINDS: dict[str, type[Recipe]] = {}  # kind -> recipe class, filled as task modules define them
MAX_RECIPE_BYTES = 1 << 20           # far above any real recipe; a bigger one is refused unread
MAX_NESTING = 16                     # recipes are at most three levels deep


@dataclass(frozen=True)
class StopPoint:
    """Where a stopped run stopped: ``after`` steps (frames, for frame tasks), in ``stage``.

    A replay of a recipe that carries one stops at the same point and gives the same pixels.
    """

    after: int = option(0, "steps (or frames) finished before the stop", low=0, high=10**9)
    unit: str = option("step", "what ``after`` counts", choices=("step", "frame"))
    stage: str = option("", "where the run was, in words (e.g. octave 2/4)", max_length=200)

    def __post_init__(self):
        check_fields(self)


@dataclass(frozen=True)
class Recipe:
    """The parts every task's recipe shares; subclasses add their own fields and set ``KIND``.

    ``to_json()`` writes the recipe; :func:`from_json` (any kind) and ``SubClass.from_json`` read it.
    """

    KIND: ClassVar[str] = ""
    model: ModelSpec = option(default_factory=ModelSpec, help="the network", flag=False)
    seed: int = option(0, "random seed; the same seed gives the same pixels", low=0, high=2**63 - 1)
    stopped_at: StopPoint | None = option(None, "where a stopped run stopped; a replay stops there too", flag=False)
    # Recorded on every run (see reverie.machine): matrix products split their sums by thread count.
    threads: int | None = option(None, "CPU threads the model runs with; empty: this machine's count, recorded so "
                                       "a replay on any machine gives the same pixels", low=1, high=4096)
    made_with: str | None = option(None, "the PyTorch version and device type that made it", flag=False,
                                   max_length=200, compare=False)
    version: str = option(__version__, "the Reverie version that made it", flag=False, max_length=64)
    # Set by the reader: the recipe file's folder, which its file fields are confined to (see Origin).
    origin: Origin | None = option(None, "where a recipe read from a file came from", stored=False, flag=False,
                                   compare=False)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.KIND:
            KINDS[cls.KIND] = cls

    def __post_init__(self):
        if isinstance(self.model, str):  # Recipe(model="efficientnet-lite0"): a name is a spec
            object.__setattr__(self, "model", ModelSpec(self.model))
        check_fields(self)

    @property
    def kind(self) -> str:
        return self.KIND

    def to_json(self) -> str:
        return json.dumps(to_data(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes, folder: str | os.PathLike | None = None) -> Recipe:
        """Read a recipe of this kind; ``folder``: the recipe file's folder, which confines the files
        it names (recipe text without a file may name none: see :class:`reverie.fields.Origin`)."""
        data = load_json(text)
        kind = data.pop("kind", cls.KIND)
        if kind != cls.KIND:
            raise ReverieError(f"recipe is for '{escaped(str(kind), 40)}', not '{cls.KIND}'")
        return confined(build(cls, upgrade(data), "recipe"), folder)

    def files(self) -> list[tuple[str, str]]:
        """(field, value) of every field naming a file, the model's weights as ``model.weights``."""
        return file_values(self) + [(f"model.{name}", value) for name, value in file_values(self.model)]


def confined(recipe: Recipe, folder: str | os.PathLike | None) -> Recipe:
    """``recipe`` (just read) with its file fields, and its model's, confined to ``folder``."""
    where = None if folder is None else str(folder)
    model = dataclasses.replace(recipe.model, origin=Origin(where, tuple(file_values(recipe.model))))
    return dataclasses.replace(recipe, model=model, origin=Origin(where, tuple(file_values(recipe))))


def to_data(part: Any) -> Any:
    """A recipe or part as JSON data: stored fields only, tuples as lists, the kind named."""
    if dataclasses.is_dataclass(part):
        data = {item.name: to_data(getattr(part, item.name)) for item in fields(part)
                if item.metadata.get("stored", True)}
        if isinstance(part, Recipe):
            data["kind"] = part.KIND
        return data
    if isinstance(part, tuple):
        return [to_data(item) for item in part]
    return part


def from_json(text: str | bytes, folder: str | os.PathLike | None = None) -> Recipe:
    """Any recipe, by its ``kind`` (task modules must have been imported: see :mod:`reverie.tasks`).
    ``folder``: the recipe file's folder, to which the files it names are confined."""
    data = load_json(text)
    kind = data.get("kind", "dream")
    if not isinstance(kind, str) or kind not in KINDS:
        raise ReverieError(unknown_name_message("recipe kind", escaped(str(kind), 40), KINDS))
    return KINDS[kind].from_json(text, folder)


def load_json(text: str | bytes) -> dict:
    """Parse recipe JSON, refusing what is not a bounded JSON object."""
    if len(text) > MAX_RECIPE_BYTES:
        raise ReverieError(f"recipe is {len(text)} bytes; a recipe is at most {MAX_RECIPE_BYTES}")
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError, TypeError, RecursionError) as error:
        reason = "nested too deeply" if isinstance(error, RecursionError) else str(error)
        raise ReverieError(f"recipe is not valid JSON: {reason}") from None
    if not isinstance(data, dict):
        raise ReverieError("recipe must be a JSON object")
    if _depth(data) > MAX_NESTING:
        raise ReverieError(f"recipe is nested more than {MAX_NESTING} levels deep")
    return data


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(item) for item in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(item) for item in value), default=0)
    return 0


def upgrade(data: dict) -> dict:
    """Recipe data as Reverie writes it now: older files kept the model's fields flat
    (``"model": "name", "weights": ..., "normalize": ...``) where it is one part today."""
    if isinstance(data.get("model"), str) or "weights" in data or "normalize" in data:
        data = dict(data)
        data["model"] = {"name": data.get("model", ModelSpec.name), "weights": data.pop("weights", None),
                         "normalize": data.pop("normalize", "none")}
    return data


def build(cls: type, data: Any, where: str) -> Any:
    """Instantiate dataclass ``cls`` from JSON data, checking every field's type.

    A model read here is marked untrusted (see the module docstring).
    """
    if not isinstance(data, dict):
        raise ReverieError(f"{where} must be a JSON object")
    hints = typing.get_type_hints(cls)
    known = [item.name for item in fields(cls) if item.metadata.get("stored", True)]
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ReverieError(f"{where} has unknown field(s) {', '.join(map(str, unknown))[:200]} "
                           f"(valid: {', '.join(known)})")
    values = {name: _convert(value, hints[name], f"{where} field '{name}'") for name, value in data.items()}
    # A field the file lacks was added after the file was written: it means the behaviour of then.
    values.update({item.name: item.metadata["absent"] for item in fields(cls)
                   if item.name not in data and item.metadata.get("absent", dataclasses.MISSING)
                   is not dataclasses.MISSING})
    if cls is ModelSpec:
        values["trusted"] = False
    return cls(**values)


def _convert(value: Any, hint: Any, where: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return build(hint, value, where)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [arg for arg in args if arg is not type(None)]
        return _convert(value, inner, where)
    if origin is tuple:
        if not isinstance(value, list):
            raise ReverieError(f"{where} must be a list, got {_short(value)}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(item, args[0], where) for item in value)
        if len(value) != len(args):
            raise ReverieError(f"{where} must have {len(args)} items, got {_short(value)}")
        return tuple(_convert(item, arg, where) for item, arg in zip(value, args))
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        if abs(value) > 1e300:
            raise ReverieError(f"{where} must be a finite number, got {_short(value)}")
        value = float(value)
    if not isinstance(value, hint) or (hint is not bool and isinstance(value, bool)):
        raise ReverieError(f"{where} must be {hint.__name__}, got {_short(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ReverieError(f"{where} must be finite, got {value!r}")
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def schema(cls: type) -> dict:
    """The JSON Schema of a recipe (or part) class: types, defaults, help, bounds and choices of every
    stored field; ``x-flag`` names the command-line flag where there is one."""
    hints = typing.get_type_hints(cls)
    properties = {}
    for item in fields(cls):
        if not item.metadata.get("stored", True):
            continue
        entry = _type_schema(hints[item.name], item.metadata)
        if item.metadata.get("help"):
            entry["description"] = item.metadata["help"]
        default = item.default if item.default is not dataclasses.MISSING else (
            item.default_factory() if item.default_factory is not dataclasses.MISSING else dataclasses.MISSING)
        if default is not dataclasses.MISSING:
            entry["default"] = to_data(default)
        flag = item.metadata.get("flag")
        if flag is not False:
            entry["x-flag"] = flag or "--" + item.name.replace("_", "-")
        properties[item.name] = entry
    result = {"type": "object", "title": getattr(cls, "KIND", "") or cls.__name__,
              "description": (cls.__doc__ or "").strip().split("\n")[0],
              "properties": properties, "additionalProperties": False}
    if issubclass(cls, Recipe):
        result["properties"]["kind"] = {"const": cls.KIND}
    return result


def _type_schema(hint: Any, metadata: typing.Mapping[str, Any]) -> dict:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [arg for arg in args if arg is not type(None)]
        return {"anyOf": [_type_schema(inner[0], metadata), {"type": "null"}]}
    if dataclasses.is_dataclass(hint):
        return schema(hint)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            entry = {"type": "array", "items": _type_schema(args[0], metadata)}
            if metadata.get("max_items") is not None:
                entry["maxItems"] = metadata["max_items"]
            return entry
        return {"type": "array", "prefixItems": [_type_schema(arg, metadata) for arg in args],
                "minItems": len(args), "maxItems": len(args)}
    entry: dict[str, Any] = {bool: {"type": "boolean"}, int: {"type": "integer"}, float: {"type": "number"},
                             str: {"type": "string"}}[hint].copy()
    if hint in (int, float):
        if metadata.get("low") is not None:
            entry["minimum"] = metadata["low"]
        if metadata.get("high") is not None:
            entry["maximum"] = metadata["high"]
    if hint is str:
        if metadata.get("choices"):
            entry["enum"] = list(metadata["choices"])
        if metadata.get("max_length") is not None:
            entry["maxLength"] = metadata["max_length"]
    return entry


@dataclass(frozen=True)
class Prompted:
    """The fields of a task a CLIP text prompt can steer (dream, visualize)."""

    text: str = option("", "CLIP prompt to steer toward; empty for none", max_length=1000)
    text_weight: float = option(1.0, "weight of the CLIP term when added to the objective", low=-1e6, high=1e6)
    clip_model: str = option("ViT-B-32", "open_clip architecture name", max_length=200)
    clip_weights: str | None = option(None, "open_clip checkpoint file, or a pretrained tag in the HF cache",
                                      max_length=4096, file="--clip-weights", tags=True)
    cutouts: int = option(32, "CLIP cutouts per step", low=1, high=256)


@dataclass(frozen=True)
class Blended:
    """The fields of a task that can paint several objectives side by side (dream, visualize)."""

    blend: str = option("", 'objectives side by side, e.g. "channel(blocks.9, 3) | channel(blocks.9, 9)"',
                        max_length=10_000)
    blend_ramp: str = option("horizontal", "how the blend's objectives are laid out", choices=RAMPS)


# --- shared checks of recipe fields ---------------------------------------------------------------

MAX_DREAM_SIDE = 16384    # a dream is tiled, so only the image itself must fit in memory
MAX_OPTIMISED_SIDE = 4096  # an optimised image (visualize, caricature, style, texture) holds its graph
MAX_BATCH = 64
MAX_FRAMES = 100_000      # frame file names have five digits: frame-00000.png ... frame-99999.png


def check_size(size: tuple[int, int] | None, what: str, limit: int) -> None:
    """A (width, height) from a stranger's recipe must neither crash the resize nor exhaust memory.

    Recipes call it before their other checks, so a bad size gets this message whatever else is wrong.
    """
    if size is None:
        return
    whole = isinstance(size, tuple) and len(size) == 2 and all(
        isinstance(side, int) and not isinstance(side, bool) for side in size)
    if not whole or min(size) < 1 or size[0] * size[1] > limit * limit:
        shown = list(size) if isinstance(size, tuple) else size
        raise ReverieError(f"{what} size must be a positive [width, height] of at most {limit}x{limit} pixels, "
                           f"got {str(shown)[:60]}")


def check_exclusive(recipe: Any, *names: str) -> None:
    """At most one of the text fields ``names`` is non-empty (e.g. an objective or a blend)."""
    given = [name for name in names if str(getattr(recipe, name) or "").strip()]
    if len(given) > 1:
        raise ReverieError(f"a recipe has {' or '.join(given)}, not both")


# Where each task's recipe class lives now; they were defined in this module before the task API, and
# scripts (and benchmarks) that import them from here keep working. Imported on first use: the task
# modules import this one.
MOVED = {"DreamRecipe": "dream", "VisualizeRecipe": "visualize", "InterpolateRecipe": "interpolate",
         "AnimateRecipe": "animate", "VideoRecipe": "video", "CaricatureRecipe": "caricature",
         "StyleRecipe": "style", "TextureRecipe": "texture"}


def __getattr__(name: str) -> Any:
    if name in MOVED:
        import importlib
        return getattr(importlib.import_module(f"reverie.pipelines.{MOVED[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Recipe", "StopPoint", "ModelSpec", "KINDS", "from_json", "load_json", "build", "schema", "to_data",
           "check_size", "check_exclusive", "option", "Prompted", "Blended", "MAX_BATCH", "MAX_FRAMES"]
