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
from reverie.pipelines.dream import Dream, dream
from reverie.recipe import DreamRecipe
from reverie.recorder import ActivationRecorder
from reverie.version import __version__

__all__ = [
    "__version__", "dream", "Dream", "DreamRecipe", "DreamSettings", "deep_dream", "octave_sizes",
    "Progress", "ReverieError", "load_model", "ModelSpec", "dreamable_layers", "with_input_normalization",
    "Objective", "layer", "channel", "parse_objective", "ActivationRecorder",
    "sample", "read_image", "save_image", "from_pil", "to_pil",
]
