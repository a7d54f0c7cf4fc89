"""Models from the zoos users have installed: ``torchvision:NAME`` and ``timm:NAME``, with the weights
already on disk (their cache, or ``--weights``), the input normalization they were trained with, and
layer aliases in the names the articles use (InceptionV1's ``mixed4c``, Keras InceptionV3's ``mixed5``).

Reverie downloads nothing: the architecture is built with ``weights=None`` / ``pretrained=False`` and the
state dict is loaded from a file, with ``torch.load(weights_only=True)`` or safetensors. Building one
runs only the installed package's own code for a name it registers, so a recipe may name one.
"""
from __future__ import annotations

import importlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from reverie.errors import ReverieError, unknown_name_message

PREFIXES = ("torchvision:", "timm:")
IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))

# InceptionV1 as Lucid and the DeepDream articles name it -> torchvision's googlenet. The blocks sit at
# the same places (same branch order in each concatenation), but torchvision's weights are its own
# training with batch norm: channel numbers from the articles name different features.
INCEPTION_V1 = {
    "conv2d0": "conv1", "maxpool0": "maxpool1", "conv2d1": "conv2", "conv2d2": "conv3", "maxpool1": "maxpool2",
    "mixed3a": "inception3a", "mixed3b": "inception3b", "maxpool4": "maxpool3",
    "mixed4a": "inception4a", "mixed4b": "inception4b", "mixed4c": "inception4c", "mixed4d": "inception4d",
    "mixed4e": "inception4e", "maxpool10": "maxpool4", "mixed5a": "inception5a", "mixed5b": "inception5b",
}
# Keras InceptionV3 (keras.applications) -> torchvision's inception_v3, block by block in forward order:
# mixed0-2 are the 35x35 InceptionA blocks (Mixed_5b-d), mixed3 the reduction to 17x17 (Mixed_6a),
# mixed4-7 the 17x17 InceptionC blocks (Mixed_6b-e), mixed8 the reduction to 8x8 (Mixed_7a), mixed9-10
# the InceptionE blocks (Mixed_7b-c). Both concatenate their branches in the same order.
KERAS_INCEPTION_V3 = {
    f"mixed{index}": module for index, module in enumerate(
        ["Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e",
         "Mixed_7a", "Mixed_7b", "Mixed_7c"])
}


# What a dream targets when no layer is named: the layers the DeepDream articles made famous.
DEFAULT_LAYERS = {"torchvision:googlenet": ("mixed4c",), "torchvision:inception_v3": ("mixed5",)}


def _drop_googlenet_aux(model: nn.Module) -> None:
    # What torchvision's googlenet(weights=...) does after loading: the auxiliary heads were never trained.
    model.aux_logits, model.aux1, model.aux2 = False, None, None


def _drop_inception_aux(model: nn.Module) -> None:
    model.aux_logits, model.AuxLogits = False, None


@dataclass(frozen=True)
class _Recipe:
    """How torchvision builds a pretrained architecture, redone without its download."""

    arguments: dict = field(default_factory=dict)  # the constructor arguments its weights need
    finish: Callable[[nn.Module], None] | None = None  # after loading the weights
    aliases: dict = field(default_factory=dict)


# googlenet and inception_v3 weights expect transform_input=True (they were ported from TensorFlow and
# take [-1, 1] input, which the model computes from ImageNet-normalized input) and carry auxiliary heads.
TORCHVISION = {
    "googlenet": _Recipe({"aux_logits": True, "transform_input": True, "init_weights": False}, _drop_googlenet_aux,
                         INCEPTION_V1),
    "inception_v3": _Recipe({"aux_logits": True, "transform_input": True, "init_weights": False},
                            _drop_inception_aux, KERAS_INCEPTION_V3),
}


@dataclass
class ZooModel:
    """A zoo architecture (random weights until loaded) and what Reverie needs to finish it."""

    model: nn.Module
    normalization: tuple[tuple[float, ...], tuple[float, ...]]
    aliases: dict
    cached_weights: Callable[[], Path]  # the weights file in the package's cache, or a ReverieError
    finish: Callable[[nn.Module], None] | None = None


def is_zoo_name(name: str) -> bool:
    return name.startswith(PREFIXES)


def _package(name: str, purpose: str):
    """Import an installed package lazily; one line saying how to install it when it is missing."""
    try:
        return importlib.import_module(name)
    except ImportError:
        raise ReverieError(f"{purpose} needs {name}, which is not installed (pip install {name})") from None
    except Exception as error:  # noqa: BLE001 - an installed package that fails to load (a torch mismatch)
        raise ReverieError(f"{name} is installed but fails to import beside this PyTorch: "
                           f"{type(error).__name__}: {str(error).splitlines()[0][:160] if str(error) else ''}") from None


def build_zoo(spec: str) -> ZooModel:
    """The architecture ``spec`` names (``torchvision:googlenet``, ``timm:vit_small_patch16_224``), unloaded."""
    zoo, _, name = spec.partition(":")
    if not re.fullmatch(r"[A-Za-z0-9_.\-]{1,100}", name):
        raise ReverieError(f"model '{spec[:120]}': write {zoo}:NAME with an architecture name such as "
                           f"{'googlenet' if zoo == 'torchvision' else 'vit_small_patch16_224'}")
    if zoo == "torchvision":
        return _torchvision(name, spec)
    return _timm(name, spec)


def _torchvision(name: str, spec: str) -> ZooModel:
    torchvision = _package("torchvision", f"model '{spec}'")
    models = torchvision.models
    available = models.list_models(module=models)
    if name not in available:
        raise ReverieError(unknown_name_message("torchvision model", name, available))
    recipe = TORCHVISION.get(name, _Recipe())
    try:
        model = models.get_model(name, weights=None, **recipe.arguments)
    except Exception as error:  # noqa: BLE001 - the package's own failure, as one line
        raise ReverieError(f"torchvision could not build '{name}': {str(error).splitlines()[0][:160]}") from None

    def cached() -> Path:
        url = models.get_model_weights(name).DEFAULT.url
        path = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)
        if not path.is_file():
            raise ReverieError(f"no weights for {spec} in torch's cache ({path} is missing); Reverie downloads "
                               f"nothing: fetch them once with torchvision (models.get_model('{name}', "
                               f"weights='DEFAULT')) or give a state-dict file with --weights")
        return path
    return ZooModel(model, IMAGENET, dict(recipe.aliases), cached, recipe.finish)


def _timm(name: str, spec: str) -> ZooModel:
    timm = _package("timm", f"model '{spec}'")
    if not timm.is_model(name):
        raise ReverieError(unknown_name_message("timm model", name, timm.list_models()))
    try:
        model = timm.create_model(name, pretrained=False)
    except Exception as error:  # noqa: BLE001
        raise ReverieError(f"timm could not build '{name}': {str(error).splitlines()[0][:160]}") from None
    config = dict(getattr(model, "pretrained_cfg", None) or {})
    normalization = (tuple(config.get("mean", IMAGENET[0])), tuple(config.get("std", IMAGENET[1])))

    def cached() -> Path:
        repository = config.get("hf_hub_id")
        hub = _package("huggingface_hub", f"finding the cached weights of {spec}") if repository else None
        for filename in ("model.safetensors", "pytorch_model.bin"):
            found = hub.try_to_load_from_cache(repository, filename) if hub else None
            if isinstance(found, str) and os.path.isfile(found):
                return Path(found)
        raise ReverieError(f"no weights for {spec} in the Hugging Face cache; Reverie downloads nothing: fetch "
                           f"them once with timm (timm.create_model('{name}', pretrained=True)) or give a "
                           "state-dict file with --weights")
    return ZooModel(model, normalization, {}, cached)
