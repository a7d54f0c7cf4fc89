"""Reverie: neural dreaming (DeepDream) for any PyTorch image model.

>>> import reverie
>>> reverie.channel("blocks.9", 7) - 0.5 * reverie.layer("blocks.6")
<Objective channel(blocks.9, 7) - 0.5*layer(blocks.6)>
"""
from reverie.engine.deepdream import DreamSettings, deep_dream, octave_sizes
from reverie.engine.progress import Progress
from reverie.errors import ReverieError
from reverie.imaging import from_pil, sample, to_pil
from reverie.io.images import read_image, save_image
from reverie.models import ModelSpec, dreamable_layers, load_model, with_input_normalization
from reverie.objectives import Objective, channel, layer, parse_objective
from reverie.engine.optimize import Rendering, RenderSettings, render
from reverie.pipelines.animate import Animation, animate
from reverie.pipelines.caricature import caricature
from reverie.pipelines.dream import Dream, dream
from reverie.pipelines.style import style_transfer
from reverie.pipelines.texture import texture
from reverie.pipelines.video import dream_video
from reverie.pipelines.visualize import Visualization, interpolate, visualize
from reverie.recipe import (AnimateRecipe, CaricatureRecipe, DreamRecipe, InterpolateRecipe, StyleRecipe, TextureRecipe,
                            VideoRecipe, VisualizeRecipe, recipe_from_json)
from reverie.recorder import ActivationRecorder
from reverie.version import __version__

__all__ = [
    "__version__", "dream", "Dream", "DreamRecipe", "visualize", "interpolate", "Visualization", "VisualizeRecipe",
    "InterpolateRecipe", "render", "Rendering", "RenderSettings", "animate", "Animation", "AnimateRecipe",
    "dream_video", "VideoRecipe", "caricature", "CaricatureRecipe", "style_transfer", "StyleRecipe", "texture",
    "TextureRecipe", "recipe_from_json", "DreamSettings", "deep_dream", "octave_sizes",
    "Progress", "ReverieError", "load_model", "ModelSpec", "dreamable_layers", "with_input_normalization",
    "Objective", "layer", "channel", "parse_objective", "ActivationRecorder",
    "sample", "read_image", "save_image", "from_pil", "to_pil",
]
