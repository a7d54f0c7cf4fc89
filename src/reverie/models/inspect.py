"""What a model offers to dream on: its layers' output shapes and the smallest input it accepts."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from reverie.errors import ReverieError, note
from reverie.layouts import LAYOUT_ATTRIBUTE, detect_layout
from reverie.models.fixed_input import FIXED_SIDE, fixed_input_side, probe_input, with_fixed_input
from reverie.recorder import LAYER_ALIASES, ActivationRecorder, refuse_torchscript

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
    channels: int    # channels, or a transformer's features
    height: int      # of the map, or of a transformer's patch grid
    width: int
    layout: str = "nchw"  # "nchw", "nhwc" (Swin-style) or "tokens+K" (ViT-style, K extra tokens)
    alias: str = ""       # the name the articles use (mixed4c), where the model has one


def _repeated_blocks(model: nn.Module) -> set[str]:
    """Names of the members of a container holding two or more modules of one class: a network's
    blocks at any depth (``encoder.layers.encoder_layer_3``, ``vit.encoder.layer.3``, ``features.1.0``)."""
    found = set()
    for name, module in model.named_modules():
        if not isinstance(module, (nn.ModuleList, nn.Sequential)):
            continue
        children = list(module.named_children())
        classes = [type(child) for _, child in children if next(child.children(), None) is not None]
        for child_name, child in children:
            if classes.count(type(child)) >= 2:
                found.add(f"{name}.{child_name}" if name else child_name)
    return found


def dreamable_layers(model: nn.Module, size: int = REFERENCE_SIZE, everything: bool = False) -> list[LayerInfo]:
    """Layers with a feature map at a ``size`` x ``size`` input, in forward order: image-shaped outputs
    [1, C, H, W], channels-last [1, H, W, C] and transformer tokens [1, tokens, D] on a patch grid.

    By default only layers at most two levels deep (``blocks.5``, ``layer3.1``, ``features.7``), and
    transformer blocks at any depth, are listed: the blocks people dream on. ``everything`` lists every
    such module. A model that takes one input size only is probed at that size.
    """
    refuse_torchscript(model, "the model")
    outputs: dict[str, torch.Tensor] = {}
    kinds: dict[str, str] = {}
    blocks = _repeated_blocks(model)
    handles = []
    for name, module in model.named_modules():
        kind, passes_through = _kind(module)
        if not name or passes_through or isinstance(module, torch.jit.ScriptModule):
            continue
        if not everything and name.count(".") > 1 and name not in blocks:
            continue
        kinds[name] = kind

        def hook(module, inputs, output, name=name):
            if isinstance(output, (tuple, list)) and output:
                output = output[0]
            if torch.is_tensor(output) and output.ndim in (3, 4):
                outputs[name] = output
        handles.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            try:
                model(probe_input(model, size))
            except ReverieError:  # already says what is wrong (e.g. a .pt2 exported for one input size)
                raise
            except Exception as error:  # noqa: BLE001 - a model that cannot take the probe input
                side = fixed_input_side(model, ())
                if side is None:
                    raise ReverieError(f"the model failed on a {size}x{size} input: "
                                       f"{str(error).splitlines()[0][:200]}") from None
                outputs.clear()
                size = side
                with_fixed_input(model, side)
                note(f"the model takes {side}x{side} inputs only (position embeddings or a fixed flatten): "
                     f"layers listed at {side}x{side}")
                model(probe_input(model, size))
    finally:
        for handle in handles:
            handle.remove()
    stated = getattr(model, LAYOUT_ATTRIBUTE, "auto")
    aliases = {module: alias for alias, module in (getattr(model, LAYER_ALIASES, None) or {}).items()}
    found = []
    for name, output in outputs.items():
        layout = detect_layout(output.shape, size, size, stated)
        if layout is None or layout.kind == "sequence" or (output.ndim == 3 and not everything and name not in blocks
                                                            and name.count(".") > 0):
            continue
        channels = output.shape[1] if layout.kind == "nchw" else output.shape[-1]
        if layout.kind == "nchw" and output.ndim != 4:
            continue
        found.append(LayerInfo(name, kinds[name], channels, layout.height, layout.width, layout.describe(),
                               aliases.get(name, "")))
    return found


def layer_shapes(model: nn.Module, layers: Iterable[str], size: int = 64) -> dict[str, torch.Size]:
    """Output shapes of ``layers`` for a ``size`` x ``size`` input (forward stops at the deepest), as the
    objectives see them (token outputs as feature maps, see :mod:`reverie.layouts`).

    A model that fails at ``size`` but runs at exactly one other side (position embeddings, a fixed
    flatten) gets its input resized to that side from now on (:func:`with_fixed_input`, said in a note).
    """
    layers = list(layers)
    try:
        return _shapes(model, layers, size)
    except ReverieError as error:
        if not str(error).startswith("the model failed") or getattr(model, FIXED_SIDE, None):
            raise
        side = fixed_input_side(model, layers)
        if side is None:
            raise
        with_fixed_input(model, side)
        note(f"the model takes {side}x{side} inputs only (position embeddings or a fixed flatten): what it sees "
             f"is resized to {side}x{side}, and dreams are tiled at {side} px")
        return _shapes(model, layers, size)


def _shapes(model: nn.Module, layers: list[str], size: int) -> dict[str, torch.Size]:
    with torch.no_grad(), ActivationRecorder(model, layers) as recorder:
        activations = recorder(probe_input(model, size))
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
