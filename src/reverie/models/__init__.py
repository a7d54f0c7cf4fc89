"""Models: the embedded EfficientNet-Lite, any user nn.Module, and how a model is named on the command line."""
from __future__ import annotations

from reverie.models.loading import (
    MODELS,
    ModelSpec,
    check_trusted,
    default_layers,
    load_model,
    model_on_device,
    prepare_model,
    resolve_device,
    with_input_normalization,
)
from reverie.models.inspect import LayerInfo, dreamable_layers, layer_shapes, min_input_side

__all__ = [
    "MODELS", "ModelSpec", "check_trusted", "LayerInfo", "load_model", "model_on_device", "prepare_model", "resolve_device",
    "with_input_normalization", "default_layers", "dreamable_layers", "layer_shapes", "min_input_side",
]
