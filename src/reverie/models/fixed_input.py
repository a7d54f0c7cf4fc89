"""Models that take one input size only (position embeddings, a fixed flatten): finding it, and fitting to it."""
from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn
from torch.nn import functional as F

from reverie.errors import ReverieError
from reverie.layouts import FIXED_SIDE
from reverie.recorder import OUTPUT, ActivationRecorder

_FIT_HOOK = "_reverie_fit_input"


def probe_input(model: nn.Module, size: int) -> torch.Tensor:
    """A grey ``size`` x ``size`` image on the model's device, for probing shapes."""
    parameter = next(iter(model.parameters()), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    return torch.full((1, 3, size, size), 0.5, device=device)


def fixed_input_side(model: nn.Module, layers: Iterable[str]) -> int | None:
    """The one square input side the model runs on up to ``layers`` (the whole model when empty), or
    None when it takes more than one (or none of the sizes tried).

    Position embeddings and a fixed flatten before a linear layer tie a network to one input size. The
    sizes tried are the model's own hints (``image_size``, ``img_size``, timm's ``default_cfg``) and the
    common ones; a side that works is fixed when a quarter larger one fails.
    """
    layers = tuple(layers) or (OUTPUT,)
    hinted = [side for side in (_hinted_side(model),) if side]
    for side in dict.fromkeys(hinted + list(COMMON_SIDES)):
        if _runs(model, layers, side):
            return None if _runs(model, layers, side + max(8, side // 4)) else side
    return None


# The input sides vision models are trained at, most common first (ImageNet, CIFAR/MNIST, timm's sizes).
COMMON_SIDES = (224, 32, 28, 256, 299, 384, 64, 96, 128, 160, 192, 240, 288, 320, 448, 512, 518)


def _hinted_side(model: nn.Module) -> int | None:
    """An input side the model names itself (attributes only: nothing of the model runs)."""
    candidates = [getattr(model, "image_size", None), getattr(model, "img_size", None),
                  getattr(getattr(model, "patch_embed", None), "img_size", None),
                  getattr(getattr(model, "config", None), "image_size", None),
                  (getattr(model, "default_cfg", None) or {}).get("input_size", (None,))[-1]
                  if isinstance(getattr(model, "default_cfg", None), dict) else None]
    for value in candidates:
        if isinstance(value, (tuple, list)) and value:
            value = value[-1]
        if isinstance(value, int) and not isinstance(value, bool) and 8 <= value <= 4096:
            return value
    return None


def _runs(model: nn.Module, layers: tuple[str, ...], side: int) -> bool:
    try:
        with torch.no_grad(), ActivationRecorder(model, layers) as recorder:
            activations = recorder(probe_input(model, side))
    except ReverieError:
        return False
    return all(all(size > 0 for size in value.shape) for value in activations.values() if torch.is_tensor(value))


def with_fixed_input(model: nn.Module, side: int) -> nn.Module:
    """Make ``model`` take any input size by resizing its input to ``side`` x ``side`` in a forward
    pre-hook (bilinear, antialiased when shrinking; differentiable, so gradients reach the image).

    A hook rather than a wrapper keeps the layer names; applying it again replaces the earlier one.
    """
    def fit(module, inputs):
        image, *rest = inputs
        if not torch.is_tensor(image) or image.ndim != 4 or tuple(image.shape[-2:]) == (side, side):
            return None
        shrinking = min(image.shape[-2:]) > side
        return (F.interpolate(image, size=(side, side), mode="bilinear", align_corners=False,
                              antialias=shrinking), *rest)

    handle = getattr(model, _FIT_HOOK, None)
    if handle is not None:
        handle.remove()
    # prepend: the resize comes before any other pre-hook (the input normalization commutes with it)
    setattr(model, _FIT_HOOK, model.register_forward_pre_hook(fit, prepend=True))
    setattr(model, FIXED_SIDE, side)
    return model


def fixed_side(model: nn.Module) -> int | None:
    """The side a fitted model takes (see :func:`with_fixed_input`), else None."""
    return getattr(model, FIXED_SIDE, None)
