"""ActivationRecorder: captures named layers' outputs and stops the forward pass after the deepest one."""
from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping

import torch
from torch import nn

from reverie.errors import ReverieError, unknown_name_message
from reverie.layouts import FIXED_SIDE, LAYOUT_ATTRIBUTE, feature_map


# Reserved activation keys: the image the network was given, and the model's own return value
# (e.g. class logits). "@" cannot appear in a module path, so they never collide with a layer.
INPUT = "@input"
OUTPUT = "@output"
IMAGE = "@image"  # in feature visualization: the parameterization's raw output, before robustness transforms


# Keys under which a model that returns a dict (Hugging Face style) keeps its class scores, by preference.
SCORE_KEYS = ("logits", "logit", "scores", "output", "out", "pred", "prediction")
MAX_DETAIL = 200  # characters of a model's own error message that a one-line error repeats


class _StopForward(Exception):
    """Raised from a hook once every wanted layer has fired, so no compute is spent past them."""


def model_failure(error: BaseException, image: torch.Tensor | None = None) -> ReverieError:
    """A user model's own exception as one line: its type, the first line of its message, shortened."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    detail = lines[0] if lines else ""
    if len(detail) > MAX_DETAIL:
        detail = detail[:MAX_DETAIL - 3] + "..."
    where = f" on a {image.shape[-1]}x{image.shape[-2]} input" if torch.is_tensor(image) and image.ndim == 4 else ""
    return ReverieError(f"the model failed{where}: {type(error).__name__}: {detail}".rstrip(": "))


def as_tensor(output: object, what: str) -> torch.Tensor:
    """The tensor in a module's or model's output: itself, the first item of a tuple or list, or from a
    dict (a Hugging Face style output) the value under ``logits`` (see SCORE_KEYS) or its only tensor.

    Anything else is a one-line ReverieError naming what was found and how to pick a part of it.
    """
    if isinstance(output, (tuple, list)) and output:
        output = output[0]  # e.g. (logits, aux_logits), or an LSTM-like (output, state)
    if isinstance(output, Mapping):
        tensors = {str(key): value for key, value in output.items() if torch.is_tensor(value)}
        chosen = next((tensors[key] for key in SCORE_KEYS if key in tensors), None)
        if chosen is None and len(tensors) == 1:
            chosen = next(iter(tensors.values()))
        if chosen is None:
            keys = ", ".join(list(tensors)[:8]) or "none holding a tensor"
            raise ReverieError(f"{what} returns a dict with keys {keys}; Reverie reads its 'logits' or its only "
                               f"tensor: wrap the model so it returns one tensor (e.g. "
                               f"return model(x)['{next(iter(tensors), 'KEY')}'])")
        output = chosen
    if not torch.is_tensor(output):
        raise ReverieError(f"{what} returns a {type(output).__name__}, not a tensor; wrap the model so it "
                           "returns a tensor")
    return output


# Set on a model (see reverie.models.zoo) to {alias: module path}: the layer names users know from the
# articles (InceptionV1's ``mixed4c`` for torchvision's ``inception4c``).
LAYER_ALIASES = "_reverie_layer_aliases"


def module_names(model: nn.Module) -> list[str]:
    """Every addressable layer name of ``model``: the non-empty paths of ``named_modules()``, then aliases."""
    return [name for name, _ in model.named_modules() if name] + list(getattr(model, LAYER_ALIASES, None) or {})


def resolve_layer(model: nn.Module, layer: str) -> nn.Module:
    """The submodule at dotted path (or alias) ``layer``, or a ReverieError naming the nearest valid names."""
    modules = dict(model.named_modules())
    layer = (getattr(model, LAYER_ALIASES, None) or {}).get(layer, layer)
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
    ``activations`` hold the graph, so gradients flow back to ``image``. A transformer's token output
    [B, tokens, D] or a channels-last [B, h, w, C] one is given as a feature map [B, D, h, w] (see
    :mod:`reverie.layouts`), so channels index features and positions the patch grid. They always include
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
            self._activations[name] = as_tensor(output, f"layer {name}")
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
                    self._activations[OUTPUT] = as_tensor(output, "the model")
            except _StopForward:
                pass
            except ReverieError:  # already one line (a hook's, or a .pt2's own size check)
                raise
            except Exception as error:  # noqa: BLE001 - the user's model: its failure is one line
                raise model_failure(error, image) from None
        missing = [name for name in self.layers if name not in self._activations]
        if missing:
            raise ReverieError(
                f"layer {', '.join(missing)} produced no output during the forward pass "
                "(is it used by the model's forward?)"
            )
        activations, self._activations = self._activations, {}
        # Token [B, N, D] and channels-last [B, h, w, C] outputs as feature maps [B, C, h, w] (see layouts)
        stated = getattr(self.model, LAYOUT_ATTRIBUTE, "auto")
        side = getattr(self.model, FIXED_SIDE, None)  # a fitted model sees its input resized to side x side
        height, width = (side, side) if side else image.shape[-2:]
        for name in self.layers:
            activations[name] = feature_map(activations[name], height, width, stated, name)
        if getattr(self.model, "reverie_precision", "fp32") != "fp32":  # objectives score in fp32
            activations = {name: value.float() if value.is_floating_point() else value
                           for name, value in activations.items()}
        activations[INPUT] = image
        return activations
