"""Recipes: frozen, replayable settings (strings and numbers only) that every output image carries."""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from reverie.engine.deepdream import DreamSettings
from reverie.errors import ReverieError
from reverie.version import __version__


@dataclass(frozen=True)
class DreamRecipe:
    """Everything needed to replay a dream, and nothing that could run code when read back."""

    source: str = "sample:chelsea"   # "sample:NAME", "noise", or an image file path
    source_sha256: str | None = None  # of the input file's bytes, to notice a changed input on replay
    size: tuple[int, int] | None = None  # (width, height) the input is resized to; None keeps it
    model: str = "efficientnet-lite0"
    weights: str | None = None
    normalize: str = "none"
    objective: str = ""               # expression text, e.g. "layer(blocks.6) + layer(blocks.9)"
    settings: DreamSettings = field(default_factory=DreamSettings)
    seed: int = 0
    kind: str = "dream"
    version: str = __version__

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "DreamRecipe":
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, TypeError) as error:
            raise ReverieError(f"recipe is not valid JSON: {error}") from None
        if not isinstance(data, dict):
            raise ReverieError("recipe must be a JSON object")
        if data.get("kind", "dream") != "dream":
            raise ReverieError(f"recipe is for '{data.get('kind')}', not a dream")
        return _from_dict(cls, data)


def _check(name: str, value: Any, expected: type | tuple[type, ...]) -> Any:
    if isinstance(value, bool) and expected is not bool:
        raise ReverieError(f"recipe field '{name}' must be {getattr(expected, '__name__', expected)}, got {value!r}")
    if expected is float and isinstance(value, int):
        value = float(value)
    if not isinstance(value, expected) or (isinstance(value, float) and not math.isfinite(value)):
        raise ReverieError(f"recipe field '{name}' has the wrong type: {value!r}")
    return value


def _from_dict(cls, data: dict) -> DreamRecipe:
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ReverieError(f"recipe has unknown field(s) {', '.join(unknown)} (valid: {', '.join(sorted(known))})")
    settings_data = data.get("settings", {})
    if not isinstance(settings_data, dict):
        raise ReverieError("recipe field 'settings' must be an object")
    setting_types = {f.name: f.type for f in fields(DreamSettings)}
    bad = sorted(set(settings_data) - set(setting_types))
    if bad:
        raise ReverieError(f"recipe has unknown setting(s) {', '.join(bad)}")
    settings = DreamSettings(**{
        name: _check(name, value, float if setting_types[name] in (float, "float") else int)
        for name, value in settings_data.items()
    })
    values: dict[str, Any] = {"settings": settings}
    for name in ("source", "model", "normalize", "objective", "kind", "version"):
        if name in data:
            values[name] = _check(name, data[name], str)
    for name in ("source_sha256", "weights"):
        if data.get(name) is not None:
            values[name] = _check(name, data[name], str)
    if "seed" in data:
        values["seed"] = _check("seed", data["seed"], int)
    if data.get("size") is not None:
        size = data["size"]
        if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size)):
            raise ReverieError(f"recipe field 'size' must be [width, height], got {size!r}")
        values["size"] = tuple(size)
    return cls(**values)
