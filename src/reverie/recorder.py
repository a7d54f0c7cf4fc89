"""ActivationRecorder: captures named layers' outputs and stops the forward pass after the deepest one."""
from __future__ import annotations

import contextlib

from collections.abc import Iterable

import torch
from torch import nn

from reverie.errors import ReverieError, unknown_name_message


# Reserved activation keys: the image the network was given, and the model's own return value
# (e.g. class logits). "@" cannot appear in a module path, so they never collide with a layer.
INPUT = "@input"
OUTPUT = "@output"
IMAGE = "@image"  # in feature visualization: the parameterization's raw output, before robustness transforms


class _StopForward(Exception):
    """Raised from a hook once every wanted layer has fired, so no compute is spent past them."""


def module_names(model: nn.Module) -> list[str]:
    """Every addressable layer name of ``model``: the non-empty paths of ``named_modules()``."""
    return [name for name, _ in model.named_modules() if name]


def resolve_layer(model: nn.Module, layer: str) -> nn.Module:
    """The submodule at dotted path ``layer``, or a ReverieError naming the nearest valid names."""
    modules = dict(model.named_modules())
    if layer not in modules or not layer:
        raise ReverieError(unknown_name_message("layer", layer, module_names(model)))
    refuse_torchscript(modules[layer], f"layer {layer}")
    return modules[layer]


def refuse_torchscript(module: nn.Module, what: str) -> None:
    """PyTorch runs no forward hooks on TorchScript modules, so their outputs cannot be recorded."""
    if isinstance(module, torch.jit.ScriptModule):
        raise ReverieError(
            f"{what} is TorchScript, whose layer outputs cannot be recorded (PyTorch runs no hooks "
            "in TorchScript); use the Python module, or a .pt2 file from torch.export.save "
            "(with --model module:callable --weights FILE or --model FILE.pt2 on the command line)"
        )


_AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def autocast_for(model: nn.Module, device: torch.device):
    """The autocast context ``model``'s precision asks for on ``device`` (set by
    :func:`reverie.models.loading.set_precision`; fp32, the default, is no context at all)."""
    dtype = _AUTOCAST_DTYPES.get(getattr(model, "reverie_precision", "fp32"))
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


class ActivationRecorder:
    """Records the outputs of ``layers`` during ``model(image)`` and cuts the forward short.

    Use as a context manager; hooks are removed on exit::

        with ActivationRecorder(model, ["blocks.5"]) as recorder:
            activations = recorder(image)      # {"blocks.5": tensor [B, C, H, W]}

    The forward stops as soon as all wanted layers have produced output, which works for any
    module whose forward calls its children in order (the hooks do not need to know the graph).
    ``activations`` hold the graph, so gradients flow back to ``image``. They always include
    ``"@input"`` (the image itself); asking for ``"@output"`` runs the whole model and records
    its return value (class logits for a classifier).
    """

    def __init__(self, model: nn.Module, layers: Iterable[str]):
        self.model = model
        wanted = list(dict.fromkeys(layers))  # unique, in the given order
        self.full_forward = OUTPUT in wanted
        self.layers = [name for name in wanted if name not in (INPUT, OUTPUT)]
        self._modules = {name: resolve_layer(model, name) for name in self.layers}
        self._handles: list[torch.utils.hooks.RemovableHandle] = []
        self._activations: dict[str, torch.Tensor] = {}
        self._active = False

    def __enter__(self) -> "ActivationRecorder":
        self._active = True
        for name, module in self._modules.items():
            self._handles.append(module.register_forward_hook(self._hook_for(name)))
        return self

    def __exit__(self, *exc_info) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self._activations = {}
        self._active = False

    def _hook_for(self, name: str):
        def hook(module, inputs, output):
            if isinstance(output, (tuple, list)):  # e.g. an LSTM-like or multi-output block
                output = output[0]
            self._activations[name] = output
            if len(self._activations) == len(self.layers) and not self.full_forward:
                raise _StopForward
        return hook

    def __call__(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """Run the model on ``image`` [B, 3, H, W] and return {layer: activation}."""
        if not self._active:
            raise RuntimeError("ActivationRecorder must be used inside a 'with' block")
        self._activations = {}
        if self.layers or self.full_forward:
            try:
                with autocast_for(self.model, image.device):
                    output = self.model(image)
                if self.full_forward:
                    self._activations[OUTPUT] = output[0] if isinstance(output, (tuple, list)) else output
            except _StopForward:
                pass
        missing = [name for name in self.layers if name not in self._activations]
        if missing:
            raise ReverieError(
                f"layer {', '.join(missing)} produced no output during the forward pass "
                "(is it used by the model's forward?)"
            )
        activations, self._activations = self._activations, {}
        if getattr(self.model, "reverie_precision", "fp32") != "fp32":  # objectives score in fp32
            activations = {name: value.float() if value.is_floating_point() else value
                           for name, value in activations.items()}
        activations[INPUT] = image
        return activations
