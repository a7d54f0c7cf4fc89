"""What a model offers to dream on: its layers' output shapes and the smallest input it accepts."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from reverie.errors import ReverieError
from reverie.recorder import ActivationRecorder, refuse_torchscript

# Outputs of these only rescale or drop what the layer before produced: nothing new to dream on.
_PASS_THROUGH = (nn.modules.batchnorm._NormBase, nn.Dropout, nn.Dropout2d, nn.Identity, nn.GroupNorm, nn.LayerNorm)
REFERENCE_SIZE = 224
# Set on the submodules of a loaded .pt2 program (all torch.export InterpreterModules) to the
# qualified name of the class each was exported from, e.g. "torch.nn.modules.conv.Conv2d".
EXPORTED_CLASS = "_reverie_exported_class"


def _kind(module: nn.Module) -> tuple[str, bool]:
    """The module's class name, and whether its output only passes on its input (see _PASS_THROUGH)."""
    exported = getattr(module, EXPORTED_CLASS, None)
    if not isinstance(exported, str):
        return type(module).__name__, isinstance(module, _PASS_THROUGH)
    name = exported.rsplit(".", 1)[-1]
    # Only torch.nn's own classes are looked up (a name lookup: nothing is imported or run).
    cls = getattr(nn, name, None) if exported.startswith("torch.nn.") else None
    return name, isinstance(cls, type) and issubclass(cls, _PASS_THROUGH)


@dataclass(frozen=True)
class LayerInfo:
    """One layer worth dreaming on, with its output at the reference input size."""

    name: str
    kind: str        # the module's class name
    channels: int
    height: int
    width: int


def _reference_input(model: nn.Module, size: int) -> torch.Tensor:
    parameter = next(iter(model.parameters()), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    return torch.full((1, 3, size, size), 0.5, device=device)


def dreamable_layers(model: nn.Module, size: int = REFERENCE_SIZE, everything: bool = False) -> list[LayerInfo]:
    """Layers with image-shaped output [1, C, H, W] at a ``size`` x ``size`` input, in forward order.

    By default only layers at most two levels deep (``blocks.5``, ``layer3.1``, ``features.7``) are
    listed, which are the blocks people dream on; ``everything`` lists every such module.
    """
    refuse_torchscript(model, "the model")
    outputs: dict[str, torch.Tensor] = {}
    kinds: dict[str, str] = {}
    handles = []
    for name, module in model.named_modules():
        kind, passes_through = _kind(module)
        if not name or passes_through or isinstance(module, torch.jit.ScriptModule):
            continue
        if not everything and name.count(".") > 1:
            continue
        kinds[name] = kind

        def hook(module, inputs, output, name=name):
            if torch.is_tensor(output) and output.ndim == 4:
                outputs[name] = output
        handles.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(_reference_input(model, size))
    except ReverieError:  # already says what is wrong (e.g. a .pt2 exported for one input size)
        raise
    except Exception as error:  # noqa: BLE001 - a model that cannot take the probe input
        raise ReverieError(f"the model failed on a {size}x{size} input: {str(error).splitlines()[0]}") from None
    finally:
        for handle in handles:
            handle.remove()
    return [LayerInfo(name, kinds[name], *output.shape[1:]) for name, output in outputs.items()]


def layer_shapes(model: nn.Module, layers: Iterable[str], size: int = 64) -> dict[str, torch.Size]:
    """Output shapes of ``layers`` for a ``size`` x ``size`` input (forward stops at the deepest)."""
    with torch.no_grad(), ActivationRecorder(model, layers) as recorder:
        try:
            activations = recorder(_reference_input(model, size))
        except ReverieError:
            raise
        except Exception as error:  # noqa: BLE001
            raise ReverieError(f"the model failed on a {size}x{size} input: {str(error).splitlines()[0]}") from None
    return {name: activation.shape for name, activation in activations.items()}


def min_input_side(model: nn.Module, layers: Iterable[str], floor: int = 16, ceiling: int = 1024) -> int:
    """The smallest square input side (a power of two from ``floor``) the model runs on up to ``layers``.

    Networks with pooling or unpadded convolutions fail on small inputs; DeepDream octaves are kept
    above this size.
    """
    layers = list(layers)
    ActivationRecorder(model, layers)  # unknown layer names fail here, with the nearest names
    side = floor
    while side <= ceiling:
        try:
            shapes = layer_shapes(model, layers, side)
        except ReverieError:
            side *= 2
            continue
        if all(all(d > 0 for d in shape) for shape in shapes.values()):
            return side
        side *= 2
    raise ReverieError(f"the model fails on every input size up to {ceiling} px at layers {', '.join(layers)}")
