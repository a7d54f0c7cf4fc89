"""Recipes: frozen, replayable settings (strings and numbers only) that every output image carries."""
from __future__ import annotations

import dataclasses
import json
import math
import typing
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

from reverie.engine.deepdream import DreamSettings
from reverie.engine.optimize import RenderSettings
from reverie.errors import ReverieError
from reverie.version import __version__


class _Recipe:
    """JSON round trip with strict validation: recipes arrive in image files strangers share."""

    KIND: ClassVar[str] = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str):
        data = _load_json(text)
        kind = data.get("kind", cls.KIND)
        if kind != cls.KIND:
            raise ReverieError(f"recipe is for '{kind}', not '{cls.KIND}'")
        return _build(cls, data, "recipe")


@dataclass(frozen=True)
class DreamRecipe(_Recipe):
    """Everything needed to replay a dream, and nothing that could run code when read back."""

    KIND: ClassVar[str] = "dream"
    source: str = "sample:chelsea"   # "sample:NAME", "noise", or an image file path
    source_sha256: str | None = None  # of the input file's bytes, to notice a changed input on replay
    size: tuple[int, int] | None = None  # (width, height) the input is resized to; None keeps it
    model: str = "efficientnet-lite0"
    weights: str | None = None
    normalize: str = "none"
    objective: str = ""               # expression text, e.g. "layer(blocks.6) + layer(blocks.9)"
    settings: DreamSettings = field(default_factory=DreamSettings)
    seed: int = 0
    text: str = ""                    # CLIP prompt to steer toward; "" for none
    text_weight: float = 1.0          # weight of the CLIP term when added to the objective
    clip_model: str = "ViT-B-32"      # open_clip architecture name
    clip_weights: str | None = None   # open_clip checkpoint file, or a pretrained tag in the HF cache
    cutouts: int = 32                 # CLIP cutouts per step
    mask: str | None = None           # image file confining the dream (alpha, else luminance); path as given
    mask_sha256: str | None = None    # of the mask file's bytes, to notice a changed mask on replay
    blend: str = ""                   # "a | b | c": objectives dreamed side by side along blend_ramp
    blend_ramp: str = "horizontal"    # horizontal | vertical | radial
    kind: str = "dream"
    version: str = __version__

    def __post_init__(self):
        _check_dream_size(self.size)
        _check_text(self)
        _check_blend(self)


@dataclass(frozen=True)
class VisualizeRecipe(_Recipe):
    """Everything needed to replay a feature visualization (one image, a batch, or a sheet)."""

    KIND: ClassVar[str] = "visualize"
    model: str = "efficientnet-lite0"
    weights: str | None = None
    normalize: str = "none"
    objective: str = ""               # for the whole batch; per-item targets use batch=i
    layer: str = ""                   # with channels: one image per channel of this layer (a sheet)
    channels: tuple[int, ...] = ()
    param: str = "fft"                # fft | pixel | cppn
    decay_power: float = 1.0          # fft only: how fast the spectrum's scale falls with frequency
    decorrelate: bool = True          # optimise in ImageNet's decorrelated colour space
    alpha: bool = False               # RGBA output, optimised over random backgrounds
    size: tuple[int, int] = (224, 224)  # (width, height)
    batch: int = 1
    transforms: str = "standard"      # standard | none
    settings: RenderSettings = field(default_factory=RenderSettings)
    seed: int = 0
    text: str = ""                    # CLIP prompt to steer toward; "" for none
    text_weight: float = 1.0          # weight of the CLIP term when added to the objective
    clip_model: str = "ViT-B-32"      # open_clip architecture name
    clip_weights: str | None = None   # open_clip checkpoint file, or a pretrained tag in the HF cache
    cutouts: int = 32                 # CLIP cutouts per step
    blend: str = ""                   # "a | b | c": objectives painted side by side along blend_ramp
    blend_ramp: str = "horizontal"    # horizontal | vertical | radial
    kind: str = "visualize"
    version: str = __version__

    def __post_init__(self):
        # Fields from a stranger's recipe must not exhaust memory or run for days: every image is
        # optimised, so its size is capped well below a dream's.
        _check_optimised_size(self.size, "visualize")
        _check_count(self.batch, "batch", 1, MAX_BATCH)
        if len(self.channels) > MAX_CHANNELS or any(channel < 0 for channel in self.channels):
            raise ReverieError(f"visualize channels must be at most {MAX_CHANNELS} indices of 0 or more, "
                               f"got {len(self.channels)} starting {list(self.channels[:3])}")
        _check_text(self)
        _check_blend(self)


@dataclass(frozen=True)
class InterpolateRecipe(_Recipe):
    """Frames that morph from one objective to another, with aligned (shared) parameters."""

    KIND: ClassVar[str] = "interpolate"
    model: str = "efficientnet-lite0"
    weights: str | None = None
    normalize: str = "none"
    start: str = ""                   # objective expression of the first frame
    end: str = ""                     # objective expression of the last frame
    frames: int = 12
    alignment: float = 1.0            # weight of the alignment term between neighbouring frames
    decay_power: float = 1.0
    size: tuple[int, int] = (128, 128)  # (width, height)
    transforms: str = "standard"
    settings: RenderSettings = field(default_factory=RenderSettings)
    seed: int = 0
    kind: str = "interpolate"
    version: str = __version__

    def __post_init__(self):
        _check_optimised_size(self.size, "interpolate")
        _check_count(self.frames, "frames", 2, MAX_FRAMES)


# Each frame starts from an already dreamed image, so a frame needs far less dreaming than a still
# (4 x 20 steps): with 2 octaves x 6 steps the photo is fully dreamed by about frame 5, and over 100
# frames of zoom(0.02) the dream keeps recognisable structure instead of boiling into noise or
# saturating (looked at on EfficientNet-Lite0 at 256 px). The rest are the still dream's settings.
ANIMATION_SETTINGS = DreamSettings(octaves=2, steps=6)


@dataclass(frozen=True)
class AnimateRecipe(_Recipe):
    """Everything needed to replay a dream animation: frame k+1 = dream(transform(frame k))."""

    KIND: ClassVar[str] = "animate"
    source: str = "sample:chelsea"   # "sample:NAME", "noise", or an image file path
    source_sha256: str | None = None  # of the input file's bytes, to notice a changed input on resume
    size: tuple[int, int] | None = None  # (width, height) of every frame; None keeps the input's
    model: str = "efficientnet-lite0"
    weights: str | None = None
    normalize: str = "none"
    objective: str = ""               # expression text; "" targets the model's default layers
    settings: DreamSettings = field(default_factory=lambda: ANIMATION_SETTINGS)
    transforms: tuple[str, ...] = ("zoom(0.02)",)  # frame transform expressions, applied in order
    keyframes: tuple[str, ...] = ()   # dream options over time: "200: layer=blocks.12, steps=8"
    frames: int = 100
    seed: int = 0
    fps: float = 12.0                 # for the GIF/MP4; the frames themselves do not depend on it
    frame_index: int | None = None    # set in a frame file's copy: which frame it is
    kind: str = "animate"
    version: str = __version__

    def __post_init__(self):
        _check_dream_size(self.size)
        _check_count(self.frames, "frames", 1, MAX_ANIMATION_FRAMES)
        if not 0 < self.fps <= 240:
            raise ReverieError(f"fps must be a number above 0 and at most 240, got {self.fps!r}")
        for what, texts in (("transforms", self.transforms), ("keyframes", self.keyframes)):
            if len(texts) > 256 or any(len(text) > 10_000 for text in texts):
                raise ReverieError(f"recipe field '{what}' must be at most 256 texts of at most 10000 characters")
        if self.frame_index is not None:
            _check_count(self.frame_index, "frame_index", 0, self.frames - 1)


MAX_ANIMATION_FRAMES = 100_000  # frame file names have five digits: frame-00000.png ... frame-99999.png
MAX_OPTIMISED_SIDE = 4096  # visualize/interpolate images: at most 4096x4096 pixels (a dream: 16384x16384)
MAX_BATCH = 64
MAX_FRAMES = 256
MAX_CHANNELS = 4096       # as many as --channels accepts


def _check_dream_size(size: tuple[int, int] | None) -> None:
    """A size from a stranger's recipe must neither crash the resize nor exhaust memory."""
    if size is not None and not (len(size) == 2 and all(side > 0 for side in size)
                                 and size[0] * size[1] <= 16384 * 16384):
        raise ReverieError(f"recipe field 'size' must be a positive [width, height] of at most "
                           f"16384x16384 pixels, got {list(size)}")


def _check_optimised_size(size: tuple[int, int], what: str) -> None:
    limit = MAX_OPTIMISED_SIDE
    if not (len(size) == 2 and all(side > 0 for side in size) and size[0] * size[1] <= limit * limit):
        raise ReverieError(f"{what} size must be a positive [width, height] of at most {limit}x{limit} pixels, "
                           f"got {list(size)}")


def _check_text(recipe) -> None:
    """The CLIP fields of a dream or visualize recipe (which may come from a stranger's image)."""
    if len(recipe.text) > 1000:
        raise ReverieError(f"text must be at most 1000 characters, got {len(recipe.text)}")
    _check_count(recipe.cutouts, "cutouts", 1, 256)
    if not math.isfinite(recipe.text_weight):
        raise ReverieError(f"text-weight must be a finite number, got {recipe.text_weight!r}")


def _check_blend(recipe) -> None:
    """The blend fields of a dream or visualize recipe: known ramp, bounded text."""
    from reverie.masks import RAMPS

    if len(recipe.blend) > 10_000:
        raise ReverieError(f"blend must be at most 10000 characters, got {len(recipe.blend)}")
    if recipe.blend_ramp not in RAMPS:
        raise ReverieError(f"blend ramp must be one of {', '.join(RAMPS)}, got {recipe.blend_ramp!r}")
    if recipe.blend.strip() and recipe.objective.strip():
        raise ReverieError("a recipe has an objective or a blend, not both")


def _check_count(value: int, name: str, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ReverieError(f"{name} must be a whole number from {low} to {high}, got {value!r}")


RECIPES: dict[str, type[_Recipe]] = {"dream": DreamRecipe, "visualize": VisualizeRecipe, "interpolate": InterpolateRecipe,
                                     "animate": AnimateRecipe}


def recipe_from_json(text: str) -> _Recipe:
    """Any recipe, by its ``kind``."""
    kind = _load_json(text).get("kind", "dream")
    if kind not in RECIPES:
        raise ReverieError(f"unknown recipe kind '{kind}' (valid: {', '.join(RECIPES)})")
    return RECIPES[kind].from_json(text)


def _load_json(text: str) -> dict:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, TypeError) as error:
        raise ReverieError(f"recipe is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise ReverieError("recipe must be a JSON object")
    return data


def _build(cls, data: dict, where: str):
    """Instantiate dataclass ``cls`` from JSON data, checking every field's type."""
    if not isinstance(data, dict):
        raise ReverieError(f"{where} must be a JSON object")
    hints = typing.get_type_hints(cls)
    known = [f.name for f in fields(cls)]
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ReverieError(f"{where} has unknown field(s) {', '.join(unknown)} (valid: {', '.join(known)})")
    return cls(**{name: _convert(value, hints[name], f"{where} field '{name}'") for name, value in data.items()})


def _convert(value: Any, hint: Any, where: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, where)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        if value is None and type(None) in args:
            return None
        (inner,) = [arg for arg in args if arg is not type(None)]
        return _convert(value, inner, where)
    if origin is tuple:
        if not isinstance(value, list):
            raise ReverieError(f"{where} must be a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(item, args[0], where) for item in value)
        if len(value) != len(args):
            raise ReverieError(f"{where} must have {len(args)} items, got {value!r}")
        return tuple(_convert(item, arg, where) for item, arg in zip(value, args))
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, hint) or (hint is not bool and isinstance(value, bool)):
        raise ReverieError(f"{where} must be {hint.__name__}, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ReverieError(f"{where} must be finite, got {value!r}")
    return value


# A video frame starts from its source frame plus most of the previous frame's dream detail, moved
# along the optical flow, so like an animation frame it needs far less dreaming than a still: the
# detail settles at the strength of about steps / (1 - blend) / 2 steps from scratch (here 10), and
# the first frame takes that many at once. Measured on EfficientNet-Lite0 at 320x240 (a panned photo, 12 fps): 2
# octaves x 4 steps at blend 0.8 gave the least flicker of 2x4/2x6 at blends 0.5-0.85, as strong a
# dream as 2x6 at 0.7, in two thirds of the time; lower blends flicker more, higher ones smear.
VIDEO_SETTINGS = DreamSettings(octaves=2, octave_scale=1.4, steps=4, step_size=0.01, jitter=16)
VIDEO_BLEND = 0.8


@dataclass(frozen=True)
class VideoRecipe(_Recipe):
    """Everything needed to replay a dreamed video: frame k is dreamed from source frame k plus
    ``blend`` times frame k-1's dream detail (dreamed minus source), moved along the optical flow."""

    KIND: ClassVar[str] = "video"
    source: str = ""                  # the input video file path, as given
    source_sha256: str | None = None  # of the input file's bytes, to notice a changed input on resume
    size: tuple[int, int] | None = None  # (width, height) every frame is resized to; None keeps it
    model: str = "efficientnet-lite0"
    weights: str | None = None
    normalize: str = "none"
    objective: str = ""               # expression text; "" targets the model's default layers
    settings: DreamSettings = field(default_factory=lambda: VIDEO_SETTINGS)
    blend: float = VIDEO_BLEND        # share of the previous frame's dream detail a frame starts with
    flow: bool = True                 # move that detail along the optical flow; False: leave it in place
    seed: int = 0
    fps: float | None = None          # the source's frame rate, kept by the output (not in any pixel)
    frames: int | None = None         # the source's frame count
    frame_index: int | None = None    # set in a frame file's copy: which frame it is
    kind: str = "video"
    version: str = __version__

    def __post_init__(self):
        _check_dream_size(self.size)
        if not 0 <= self.blend <= 1:
            raise ReverieError(f"blend must be a number from 0 (each frame dreamed afresh) to 1, got {self.blend!r}")
        if self.fps is not None and not 0 < self.fps <= 1000:
            raise ReverieError(f"fps must be above 0 and at most 1000, got {self.fps!r}")
        if self.frames is not None:
            _check_count(self.frames, "frames", 1, MAX_ANIMATION_FRAMES)
            if self.frame_index is not None:
                _check_count(self.frame_index, "frame_index", 0, self.frames - 1)


RECIPES["video"] = VideoRecipe


# Caricature and style transfer render a whole image per output, like a visualization, so their
# sizes share visualize's cap. Their images are named by source text as a dream's is.
CARICATURE_SETTINGS = RenderSettings(steps=256)
STYLE_SETTINGS = RenderSettings(steps=150, redirect_steps=0)  # starts from the photo: no dead ReLUs to revive
MAX_RECIPE_LAYERS = 64


def _check_layers(layers: tuple[str, ...], what: str, low: int = 1) -> None:
    if not low <= len(layers) <= MAX_RECIPE_LAYERS or not all(isinstance(name, str) and name for name in layers):
        raise ReverieError(f"{what} must be {low} to {MAX_RECIPE_LAYERS} layer names, got {list(layers)[:4]}")


@dataclass(frozen=True)
class CaricatureRecipe(_Recipe):
    """A feature-inversion caricature of a photo at one or more layers (one image per layer)."""

    KIND: ClassVar[str] = "caricature"
    source: str = "sample:chelsea"    # "sample:NAME" or an image file path
    source_sha256: str | None = None  # of the input file's bytes, to notice a changed input on replay
    model: str = "efficientnet-lite0"
    weights: str | None = None
    normalize: str = "none"
    layers: tuple[str, ...] = ("blocks.8",)  # one image per layer, early to late
    power: float = 1.0                # exponent of the cosine-similarity weight
    size: tuple[int, int] | None = None  # (width, height); None: the photo's aspect, long side 224
    decay_power: float = 1.0
    transforms: str = "standard"
    settings: RenderSettings = field(default_factory=lambda: CARICATURE_SETTINGS)
    seed: int = 0
    kind: str = "caricature"
    version: str = __version__

    def __post_init__(self):
        if self.size is not None:
            _check_optimised_size(self.size, "caricature")
        _check_layers(self.layers, "caricature layers")
        if not 0 <= self.power <= 8:
            raise ReverieError(f"caricature power must be a number from 0 to 8, got {self.power!r}")
        if not 0 <= self.decay_power <= 8:
            raise ReverieError(f"decay-power must be a number from 0 to 8, got {self.decay_power!r}")


@dataclass(frozen=True)
class StyleRecipe(_Recipe):
    """Style transfer: the style image's Gram matrices at ``style_layers`` plus the content photo's
    activations at ``content_layers``, optimised in the decorrelated Fourier parameterization."""

    KIND: ClassVar[str] = "style"
    content: str = "sample:chelsea"   # "sample:NAME" or an image file path
    content_sha256: str | None = None
    style: str = "sample:coffee"      # "sample:NAME" or an image file path
    style_sha256: str | None = None
    model: str = "efficientnet-lite0"
    weights: str | None = None
    normalize: str = "none"
    content_layers: tuple[str, ...] = ("blocks.9",)
    style_layers: tuple[str, ...] = ("stem", "blocks.1", "blocks.3", "blocks.5", "blocks.8")
    style_weight: float = 10.0        # EfficientNet-Lite0, chelsea + coffee: 10 paints the cat's fur with
    content_weight: float = 1.0       # the coffee's swirls and keeps the face; 100 looks much the same
    init: str = "content"             # content | noise: where the image starts
    size: tuple[int, int] | None = None  # (width, height); None: the content's aspect, long side 256
    style_scale: float = 1.0          # the style image's long side, relative to the output's
    decay_power: float = 1.0
    transforms: str = "none"
    settings: RenderSettings = field(default_factory=lambda: STYLE_SETTINGS)
    seed: int = 0
    kind: str = "style"
    version: str = __version__

    def __post_init__(self):
        if self.size is not None:
            _check_optimised_size(self.size, "style")
        _check_layers(self.content_layers, "content layers", low=0)
        _check_layers(self.style_layers, "style layers")
        for name in ("style_weight", "content_weight"):
            if not 0 <= getattr(self, name) <= 1e6:
                raise ReverieError(f"{name.replace('_', '-')} must be a number from 0 to 1e6, got {getattr(self, name)!r}")
        if self.init not in ("content", "noise"):
            raise ReverieError(f"init must be 'content' or 'noise', got {self.init!r}")
        if not 0.1 <= self.style_scale <= 4:
            raise ReverieError(f"style-scale must be a number from 0.1 to 4, got {self.style_scale!r}")
        if not 0 <= self.decay_power <= 8:
            raise ReverieError(f"decay-power must be a number from 0 to 8, got {self.decay_power!r}")


RECIPES["caricature"] = CaricatureRecipe
RECIPES["style"] = StyleRecipe


@dataclass(frozen=True)
class TextureRecipe(_Recipe):
    """Everything needed to replay a mesh texture: a UV texture optimised so that renders of the
    textured mesh from random viewpoints maximise an objective."""

    KIND: ClassVar[str] = "texture"
    mesh: str = ""                    # the mesh file path (OBJ or anything trimesh reads), with UVs
    mesh_sha256: str | None = None    # of the mesh file's bytes, to notice a changed mesh on replay
    model: str = "efficientnet-lite0"
    weights: str | None = None
    normalize: str = "none"
    objective: str = "channel(blocks.6, 12)"  # bold, large-scale stripes on EfficientNet-Lite0 (chosen by looking)
    style: str | None = None          # a style image ("sample:NAME" or a path): match its Gram matrices
    style_sha256: str | None = None
    style_layers: tuple[str, ...] = ("stem", "blocks.1", "blocks.3", "blocks.5", "blocks.8")
    style_weight: float = 1.0         # weight of the style term (a score in [-1, 0]) against the objective
    size: tuple[int, int] = (256, 256)  # (width, height) of the texture
    render_size: int = 160            # side in px of each rendered view the model sees
    views: int = 2                    # random viewpoints rendered (as one batch) per step
    decay_power: float = 1.0          # the texture's FFT spectrum decay
    transforms: str = "standard"      # robustness transforms on each view: standard | none
    settings: RenderSettings = field(default_factory=lambda: RenderSettings(steps=256))
    seed: int = 0
    kind: str = "texture"
    version: str = __version__

    def __post_init__(self):
        _check_optimised_size(self.size, "texture")
        _check_count(self.render_size, "render_size", 16, 1024)
        _check_count(self.views, "views", 1, MAX_BATCH)
        if not self.style_weight >= 0 or len(self.style_layers) > 64:
            raise ReverieError(f"style_weight must be zero or positive and style_layers at most 64 names, got "
                               f"{self.style_weight!r} and {len(self.style_layers)} layers")
        if not self.decay_power >= 0:
            raise ReverieError(f"decay_power must be zero or positive, got {self.decay_power!r}")


RECIPES["texture"] = TextureRecipe
