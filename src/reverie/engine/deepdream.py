"""DeepDream: normalized gradient ascent on pixels over octaves, with jitter and tiled gradients."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from reverie.engine.progress import Progress, ProgressCallback
from reverie.errors import ReverieError
from reverie.imaging import check_image, resize
from reverie.objectives import Objective
from reverie.randomness import generator as make_generator
from reverie.randomness import randint
from reverie.recorder import ActivationRecorder


@dataclass(frozen=True)
class DreamSettings:
    """How a dream is computed. Defaults are tuned on the embedded EfficientNet-Lite0 at ~500 px."""

    octaves: int = 4             # image scales, smallest first; detail is carried upward
    octave_scale: float = 1.4    # size ratio between neighbouring octaves
    steps: int = 20              # gradient steps per octave (10 in the original notebook; 20 at this
                                 # step size gives a fully formed dream on EfficientNet-Lite0)
    step_size: float = 0.01      # pixel change per step, in [0, 1] units, after gradient normalization
    jitter: int = 32             # max random shift (px) each step; hides the network's stride grid
    tile: int = 512              # max tile side (px); larger images are processed tile by tile
    min_octave_size: int = 64    # the smallest octave's short side never falls below this

    def __post_init__(self):
        for name in ("octaves", "steps", "tile", "min_octave_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ReverieError(f"{name.replace('_', '-')} must be a positive whole number, got {value!r}")
        if not self.octave_scale >= 1.0:
            raise ReverieError(f"octave-scale must be at least 1.0, got {self.octave_scale!r}")
        if not self.step_size > 0 or not math.isfinite(self.step_size):
            raise ReverieError(f"step-size must be a positive number, got {self.step_size!r}")
        if isinstance(self.jitter, bool) or not isinstance(self.jitter, int) or self.jitter < 0:
            raise ReverieError(f"jitter must be zero or a positive whole number of pixels, got {self.jitter!r}")
        if self.tile < 32:
            raise ReverieError(f"tile must be at least 32 px, got {self.tile}")


def octave_sizes(height: int, width: int, settings: DreamSettings) -> list[tuple[int, int]]:
    """(height, width) of each octave, smallest first, ending at the image's own size.

    Octaves whose short side would fall below ``min_octave_size`` are dropped, so tiny images
    get fewer octaves rather than octaves the network cannot see anything in.

    >>> octave_sizes(500, 700, DreamSettings(octaves=3, octave_scale=2.0))
    [(125, 175), (250, 350), (500, 700)]
    >>> octave_sizes(100, 100, DreamSettings(octaves=4, octave_scale=2.0))
    [(100, 100)]
    """
    sizes = []
    for k in reversed(range(settings.octaves)):
        factor = settings.octave_scale ** k
        size = (max(1, round(height / factor)), max(1, round(width / factor)))
        if min(size) >= settings.min_octave_size or k == 0:
            sizes.append(size)
    return sizes


def _tile_bounds(length: int, tile: int) -> list[tuple[int, int]]:
    """Split ``length`` into near-equal spans of at most ``tile`` (no sliver tiles at the edge)."""
    count = math.ceil(length / tile)
    edges = [round(i * length / count) for i in range(count + 1)]
    return list(zip(edges[:-1], edges[1:]))


class DreamGradient:
    """The gradient of an objective w.r.t. an image, computed tile by tile on a randomly shifted copy.

    The random shift (jitter, plus a random tile offset when the image spans several tiles) moves
    tile seams and the network's stride grid every step, so neither shows in the result.
    """

    def __init__(self, recorder: ActivationRecorder, objective: Objective, settings: DreamSettings,
                 generator: torch.Generator):
        self.recorder = recorder
        self.objective = objective
        self.settings = settings
        self.generator = generator

    def __call__(self, image: torch.Tensor) -> tuple[torch.Tensor, float]:
        """Returns (gradient like ``image``, score averaged over the image)."""
        height, width = image.shape[-2:]
        rows, cols = _tile_bounds(height, self.settings.tile), _tile_bounds(width, self.settings.tile)
        jitter = self.settings.jitter
        shift_y, shift_x = randint(self.generator, -jitter, jitter), randint(self.generator, -jitter, jitter)
        if len(rows) > 1:
            shift_y += randint(self.generator, 0, self.settings.tile - 1)
        if len(cols) > 1:
            shift_x += randint(self.generator, 0, self.settings.tile - 1)
        shifted = torch.roll(image, shifts=(shift_y, shift_x), dims=(2, 3))
        if len(rows) == 1 and len(cols) == 1:
            gradient, score = self._tile_gradient(shifted, 1.0)
        else:
            gradient = torch.empty_like(shifted)
            score = 0.0
            for top, bottom in rows:
                for left, right in cols:
                    # Weight by area so the tiles together score the image-wide mean.
                    weight = (bottom - top) * (right - left) / (height * width)
                    tile_gradient, tile_score = self._tile_gradient(shifted[..., top:bottom, left:right], weight)
                    gradient[..., top:bottom, left:right] = tile_gradient
                    score += tile_score
        del shifted  # one full-size image less at the peak while the gradient is rolled back
        return torch.roll(gradient, shifts=(-shift_y, -shift_x), dims=(2, 3)), score

    def _tile_gradient(self, tile: torch.Tensor, weight: float) -> tuple[torch.Tensor, float]:
        tile = tile.detach().requires_grad_(True)
        score = self.objective(self.recorder(tile)) * weight
        (gradient,) = torch.autograd.grad(score, tile)
        return gradient, float(score.detach())


def deep_dream(model: nn.Module, objective: Objective, image: torch.Tensor,
               settings: DreamSettings = DreamSettings(), seed: int = 0,
               progress: ProgressCallback | None = None) -> torch.Tensor:
    """Dream ``image`` [1, 3, H, W] in [0, 1] toward ``objective``; returns the dreamed image.

    Each octave starts from the image at that scale plus the detail dreamed so far (upscaled), and
    takes ``steps`` ascent steps of size ``step_size / mean|gradient|``. Pixels stay in [0, 1].
    """
    check_image(image)
    if image.shape[0] != 1:
        raise ReverieError(f"deep_dream takes one image at a time, got a batch of {image.shape[0]}")
    jitter_generator = make_generator(seed, "jitter")
    height, width = image.shape[-2:]
    # An image smaller than the network can usefully see is dreamed larger, then scaled back.
    upscale = max(1.0, settings.min_octave_size / min(height, width))
    work_height, work_width = round(height * upscale), round(width * upscale)
    source = resize(image.detach(), (work_height, work_width))
    sizes = octave_sizes(work_height, work_width, settings)

    work_total = float(sum(h * w for h, w in sizes) * settings.steps)
    work_done = 0.0
    detail = None  # dreamed minus photo, carried from octave to octave
    dreamed = source
    with ActivationRecorder(model, objective.layers) as recorder:
        gradient_of = DreamGradient(recorder, objective, settings, jitter_generator)
        for octave, size in enumerate(sizes):
            octave_base = resize(source, size)
            dreamed = octave_base.clone() if detail is None else (octave_base + resize(detail, size)).clamp_(0, 1)
            detail = None
            for step in range(settings.steps):
                gradient, score = gradient_of(dreamed)
                # Normalizing by the mean magnitude makes step_size mean "pixels per step" on any
                # layer of any network, whose raw gradient scales differ by orders of magnitude.
                # In place: at 4096 px every full-size temporary costs 200 MB.
                scale = settings.step_size / gradient.abs().mean().clamp_min(1e-12)
                dreamed.add_(gradient.mul_(scale)).clamp_(0, 1)
                del gradient
                work_done += size[0] * size[1]
                if progress is not None:
                    # The preview is a copy made when asked, valid during the callback.
                    progress(Progress(f"octave {octave + 1}/{len(sizes)}", step + 1, settings.steps,
                                      work_done, work_total, score, dreamed.clone))
            detail = dreamed - octave_base
            del octave_base
    return resize(dreamed, (height, width)) if upscale > 1 else dreamed
