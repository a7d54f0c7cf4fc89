"""Reverie: neural dreaming (DeepDream) for any PyTorch image model.

>>> import reverie
>>> reverie.channel("blocks.9", 7) - 0.5 * reverie.layer("blocks.6")
<Objective channel(blocks.9, 7) - 0.5*layer(blocks.6)>

The public names below are imported on first use (PEP 562), so ``reverie --help`` answers without
waiting for torch; ``from reverie import dream`` works as with any module.
"""
from __future__ import annotations

import importlib

_PUBLIC = {  # module -> the names it gives the package face
    "reverie.tasks": ["run", "TASKS", "read_recipe", "recipe_schema"],
    "reverie.recipe": ["Recipe", "StopPoint"],
    "reverie.engine.progress": ["Progress", "StopSignal", "every"],
    "reverie.pipelines.result": ["Result", "ImageResult", "FramesResult", "TextureResult"],
    # each task: its keyword function, recipe and result (and the names they had before)
    "reverie.pipelines.dream": ["dream", "DreamRecipe", "DreamResult", "Dream"],
    "reverie.pipelines.visualize": ["visualize", "VisualizeRecipe", "VisualizeResult", "Visualization"],
    "reverie.pipelines.interpolate": ["interpolate", "InterpolateRecipe", "InterpolateResult"],
    "reverie.pipelines.animate": ["animate", "AnimateRecipe", "AnimateResult", "Animation"],
    "reverie.pipelines.video": ["dream_video", "VideoRecipe", "VideoResult", "DreamedVideo"],
    "reverie.pipelines.caricature": ["caricature", "CaricatureRecipe", "CaricatureResult", "Caricature"],
    "reverie.pipelines.style": ["style", "StyleRecipe", "StyleResult", "Stylized", "style_transfer"],
    "reverie.pipelines.texture": ["texture", "TextureRecipe", "Texturing"],
    # the pieces
    "reverie.engine.deepdream": ["DreamSettings", "deep_dream", "octave_shapes", "octave_sizes"],
    "reverie.engine.optimize": ["render", "Rendering", "RenderSettings"],
    "reverie.errors": ["ReverieError"],
    "reverie.models": ["load_model", "ModelSpec", "dreamable_layers", "with_input_normalization"],
    "reverie.objectives": ["Objective", "layer", "channel", "parse_objective"],
    "reverie.recorder": ["ActivationRecorder"],
    "reverie.imaging": ["Size", "sample", "from_pil", "to_pil"],
    "reverie.io.images": ["read_image", "save_image"],
    "reverie.version": ["__version__"],
}
_ALIASES = {"recipe_from_json": "read_recipe"}  # earlier names of the same thing
# Run from the package face, these show a live preview in a Jupyter kernel and stop on its interrupt
# keeping the work; elsewhere they are the task's own functions (see reverie.notebook.live for why).
_SHOWN = {"run", "dream", "visualize", "interpolate", "animate", "dream_video", "caricature", "style", "texture",
          "style_transfer"}
_HOME = {name: module for module, names in _PUBLIC.items() for name in names}

__all__ = [*_HOME, *_ALIASES]


def __getattr__(name: str):
    target = _ALIASES.get(name, name)
    if target in _HOME:
        value = getattr(importlib.import_module(_HOME[target]), target)
        if target in _SHOWN:
            value = importlib.import_module("reverie.notebook.live").shown(value)
    else:
        try:  # a subpackage, e.g. reverie.models after a bare ``import reverie``
            value = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError:
            raise AttributeError(f"module 'reverie' has no attribute {name!r}") from None
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
