"""Reverie: neural dreaming (DeepDream) for any PyTorch image model.

>>> import reverie
>>> reverie.channel("blocks.9", 7) - 0.5 * reverie.layer("blocks.6")
<Objective channel(blocks.9, 7) - 0.5*layer(blocks.6)>
"""
from reverie.engine.deepdream import DreamSettings, deep_dream, octave_sizes
from reverie.engine.optimize import Rendering, RenderSettings, render
from reverie.engine.progress import Progress, StopSignal, every
from reverie.errors import ReverieError
from reverie.imaging import from_pil, sample, to_pil
from reverie.io.images import read_image, save_image
from reverie.models import ModelSpec, dreamable_layers, load_model, with_input_normalization
from reverie.objectives import Objective, channel, layer, parse_objective
from reverie.pipelines.animate import Animation, AnimateRecipe, AnimateResult, animate
from reverie.pipelines.caricature import Caricature, CaricatureRecipe, CaricatureResult, caricature
from reverie.pipelines.dream import Dream, DreamRecipe, DreamResult, dream
from reverie.pipelines.result import FramesResult, ImageResult, Result, TextureResult
from reverie.pipelines.style import StyleRecipe, StyleResult, Stylized, style, style_transfer
from reverie.pipelines.texture import TextureRecipe, Texturing, texture
from reverie.pipelines.video import DreamedVideo, VideoRecipe, VideoResult, dream_video
from reverie.pipelines.visualize import (InterpolateRecipe, InterpolateResult, Visualization, VisualizeRecipe,
                                         VisualizeResult, interpolate, visualize)
from reverie.recipe import Recipe, StopPoint
from reverie.recorder import ActivationRecorder
from reverie.tasks import TASKS, read_recipe, recipe_schema, run
from reverie.version import __version__

recipe_from_json = read_recipe  # earlier name

__all__ = [
    "__version__",
    # the task API
    "run", "TASKS", "read_recipe", "recipe_schema", "Recipe", "StopPoint", "Progress", "StopSignal", "every",
    "Result", "ImageResult", "FramesResult", "TextureResult",
    # tasks: keyword function, recipe, result
    "dream", "DreamRecipe", "DreamResult", "visualize", "VisualizeRecipe", "VisualizeResult",
    "interpolate", "InterpolateRecipe", "InterpolateResult", "animate", "AnimateRecipe", "AnimateResult",
    "dream_video", "VideoRecipe", "VideoResult", "caricature", "CaricatureRecipe", "CaricatureResult",
    "style", "StyleRecipe", "StyleResult", "texture", "TextureRecipe",
    # earlier names, kept working
    "Dream", "Visualization", "Animation", "DreamedVideo", "Caricature", "Stylized", "Texturing", "style_transfer",
    "recipe_from_json",
    # the pieces
    "DreamSettings", "deep_dream", "octave_sizes", "render", "Rendering", "RenderSettings",
    "ReverieError", "load_model", "ModelSpec", "dreamable_layers", "with_input_normalization",
    "Objective", "layer", "channel", "parse_objective", "ActivationRecorder",
    "sample", "read_image", "save_image", "from_pil", "to_pil",
]
