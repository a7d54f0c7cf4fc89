"""DeepDream: normalized gradient ascent on pixels over octaves, with jitter and tiled gradients."""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from reverie.allocator import memory_kept
from reverie.engine.budget import IMAGE_BYTES, NETWORK_BYTES, Cost, check_cost
from reverie.engine.progress import Progress, ProgressCallback, StopSignal, stop_requested
from reverie.errors import ReverieError
from reverie.fields import check_fields, option
from reverie.imaging import check_image, resize
from reverie.layouts import FIXED_SIDE
from reverie.masks import check_mask, fit_mask
from reverie.objectives import Objective
from reverie.randomness import generator as make_generator
from reverie.randomness import randint
from reverie.recorder import ActivationRecorder, model_failure


@dataclass(frozen=True)
class DreamSettings:
    """How a dream is computed. Defaults are tuned on the embedded EfficientNet-Lite0 at ~500 px."""

    octaves: int = option(4, "number of octaves (image scales), smallest first", low=1, high=64)
    octave_scale: float = option(1.4, "size ratio between neighbouring octaves", low=1.0, high=16.0)
    # 10 steps in the original notebook; 20 at this step size gives a fully formed dream on EfficientNet-Lite0
    steps: int = option(20, "gradient steps per octave", low=1, high=100_000)
    step_size: float = option(0.01, "pixel change per step (0-1 scale), after gradient normalization",
                              low=1e-9, high=10.0)
    jitter: int = option(32, "max random shift per step in px; hides the network's stride grid", low=0, high=4096)
    tile: int = option(512, "max tile side in px; larger images are processed tile by tile", low=32, high=16384)
    min_octave_size: int = option(64, "the smallest octave's short side never falls below this (px)",
                                  low=1, high=4096)

    def __post_init__(self):
        check_fields(self)


def octave_shapes(height: int, width: int, settings: DreamSettings) -> list[tuple[int, int]]:
    """The shape (height, width) of each octave, smallest first, ending at the image's own shape.

    Octaves whose short side would fall below ``min_octave_size`` are dropped, so tiny images
    get fewer octaves rather than octaves the network cannot see anything in.

    >>> octave_shapes(500, 700, DreamSettings(octaves=3, octave_scale=2.0))
    [(125, 175), (250, 350), (500, 700)]
    >>> octave_shapes(100, 100, DreamSettings(octaves=4, octave_scale=2.0))
    [(100, 100)]
    """
    shapes = []
    for k in reversed(range(settings.octaves)):
        factor = settings.octave_scale ** k
        shape = (max(1, round(height / factor)), max(1, round(width / factor)))
        if min(shape) >= settings.min_octave_size or k == 0:
            shapes.append(shape)
    return shapes


octave_sizes = octave_shapes  # earlier name


def dream_cost(shape: tuple[int, int], settings: DreamSettings) -> Cost:
    """What dreaming an image of ``shape`` (H, W) costs (see :mod:`reverie.engine.budget`), from the
    shapes alone: an image smaller than the smallest octave is dreamed larger, which counts.

    >>> dream_cost((1, 1_000_000), DreamSettings()).pixels  # 64 x 64,000,000 once upscaled
    4096000000
    """
    upscale = max(1.0, settings.min_octave_size / min(shape))
    height, width = round(shape[0] * upscale), round(shape[1] * upscale)
    pixels = height * width
    if pixels > 1 << 40:  # beyond any machine: not worth listing its octaves
        return Cost(math.inf, math.inf, pixels)
    work = float(sum(h * w for h, w in octave_shapes(height, width, settings)) * settings.steps)
    tile = min(settings.tile, height) * min(settings.tile, width)
    return Cost(work, float(pixels * IMAGE_BYTES + tile * NETWORK_BYTES), pixels)


def _tile_bounds(length: int, tile: int) -> list[tuple[int, int]]:
    """Split ``length`` into near-equal spans of at most ``tile`` (no sliver tiles at the edge)."""
    count = math.ceil(length / tile)
    edges = [round(i * length / count) for i in range(count + 1)]
    return list(zip(edges[:-1], edges[1:]))


def _overlapping_spans(length: int, side: int) -> list[tuple[int, int]]:
    """Spans of exactly ``side`` (or all of ``length`` when shorter) covering ``length``, overlapping by at
    least a quarter of ``side`` so that blended seams do not show."""
    if length <= side:
        return [(0, length)]
    stride = side - side // 4
    count = math.ceil((length - side) / stride) + 1
    starts = [round(i * (length - side) / (count - 1)) for i in range(count)]
    return [(start, start + side) for start in starts]


def _ramp(length: int, like: torch.Tensor) -> torch.Tensor:
    """A tent [length], highest in the middle and above 0 at both ends: a tile's blending weight."""
    positions = torch.arange(length, dtype=like.dtype, device=like.device)
    return torch.minimum(positions + 1, length - positions) / math.ceil(length / 2)


class DreamGradient:
    """The gradient of an objective w.r.t. an image, computed tile by tile on a randomly shifted copy.

    The random shift (jitter, plus a random tile offset when the image spans several tiles) moves
    tile seams and the network's stride grid every step, so neither shows in the result.
    """

    def __init__(self, recorder: ActivationRecorder, objective: Objective, settings: DreamSettings,
                 generator: torch.Generator, input_side: int | None = None):
        self.recorder = recorder
        self.objective = objective
        self.settings = settings
        self.generator = generator
        self.input_side = input_side  # a model that takes one input size: overlapping tiles of that size

    def __call__(self, image: torch.Tensor) -> tuple[torch.Tensor, float]:
        """Returns (gradient like ``image``, score averaged over the image)."""
        if self.input_side is not None:
            return self._blended(image, self.input_side)
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

    def _blended(self, image: torch.Tensor, side: int) -> tuple[torch.Tensor, float]:
        """The gradient from tiles of exactly ``side`` that overlap, each weighted by a tent so that their
        seams blend; a randomly shifted copy moves the seams every step. (A side shorter than ``side`` is
        resized to it by the model's input hook: see reverie.models.fixed_input.)"""
        height, width = image.shape[-2:]
        rows, cols = _overlapping_spans(height, side), _overlapping_spans(width, side)
        jitter = self.settings.jitter
        shift_y, shift_x = randint(self.generator, -jitter, jitter), randint(self.generator, -jitter, jitter)
        if len(rows) > 1:  # seams move by up to half a tile too
            shift_y += randint(self.generator, 0, side // 2)
        if len(cols) > 1:
            shift_x += randint(self.generator, 0, side // 2)
        shifted = torch.roll(image, shifts=(shift_y, shift_x), dims=(2, 3))
        tiles = [(span_y, span_x) for span_y in rows for span_x in cols]
        gradient = torch.zeros_like(shifted)
        weights = torch.zeros_like(shifted[:, :1])  # [1, 1, H, W]
        score = 0.0
        for (top, bottom), (left, right) in tiles:
            tile_gradient, tile_score = self._tile_gradient(shifted[..., top:bottom, left:right], 1 / len(tiles))
            # [h] x [w] -> [1, 1, h, w] tent: a tile counts most at its centre
            window = (_ramp(bottom - top, image)[:, None] * _ramp(right - left, image)[None, :])[None, None]
            gradient[..., top:bottom, left:right] += tile_gradient * window
            weights[..., top:bottom, left:right] += window
            score += tile_score
        del shifted
        return torch.roll(gradient / weights, shifts=(-shift_y, -shift_x), dims=(2, 3)), score

    def _tile_gradient(self, tile: torch.Tensor, weight: float) -> tuple[torch.Tensor, float]:
        tile = tile.detach().requires_grad_(True)
        score = self.objective(self.recorder(tile)) * weight
        if not score.requires_grad:
            raise ReverieError(f"{_described(self.objective)} does not depend on the pixels of one image (it compares "
                               "a batch's images): a dream has one image; use it in visualize with --batch 2 or more")
        try:
            (gradient,) = torch.autograd.grad(score, tile)
        except RuntimeError as error:  # the model's backward (an op without one): one line
            raise model_failure(error, tile) from None
        value = float(score.detach())
        if not math.isfinite(value) or not bool(torch.isfinite(gradient).all()):  # else a black, unreplayable image
            raise ReverieError(f"{_described(self.objective)} became {value:g} or its gradient non-finite on this "
                               "image; lower its weights")
        return gradient, value


def _described(objective: Objective) -> str:
    """``the objective diversity(blocks.6)``, or ``the objective`` when it has no text form."""
    try:
        return f"the objective {objective.expression()[:80]}"
    except (NotImplementedError, ReverieError):
        return "the objective"


def _masked_step(gradients_of: list[DreamGradient], masks: torch.Tensor, image: torch.Tensor,
                 step_size: float) -> tuple[torch.Tensor, float]:
    """One step's update when objective i dreams only where mask i is on (``masks`` [N, 1, H, W]).

    update = step_size * sum_i mask_i * gradient_i / (mean |gradient_i| inside mask_i): each
    objective moves its own region by ``step_size`` per step on average, whatever its gradient's
    scale, and a pixel where every mask is 0 gets an update of exactly 0.
    """
    update = torch.zeros_like(image)
    total = 0.0
    for gradient_of, mask in zip(gradients_of, masks):
        mask = mask[None]  # [1, H, W] -> [1, 1, H, W], broadcast over the channels
        gradient, score = gradient_of(image)
        total += score
        area = float(mask.sum()) * image.shape[1]
        if area == 0:
            continue
        magnitude = (gradient.abs() * mask).sum() / area
        update.add_(gradient.mul_(mask).mul_(step_size / magnitude.clamp_min(1e-12)))
    return update, total


def _full_size(dreamed: torch.Tensor, source: torch.Tensor, detail: torch.Tensor) -> torch.Tensor:
    """``dreamed`` at the size of ``source``: itself when it is, else the photo plus the upscaled ``detail``
    (dreamed minus its octave's photo), which is where the next octave would start."""
    if dreamed.shape[-2:] == source.shape[-2:]:
        return dreamed
    return (source + resize(detail, tuple(source.shape[-2:]))).clamp_(0, 1)


def deep_dream(model: nn.Module, objective: Objective | Sequence[Objective], image: torch.Tensor,
               settings: DreamSettings = DreamSettings(), seed: int = 0,
               progress: ProgressCallback | None = None, mask: torch.Tensor | None = None,
               stop: StopSignal | None = None) -> torch.Tensor:
    """Dream ``image`` [1, 3, H, W] in [0, 1] toward ``objective``; returns the dreamed image.

    Each octave starts from the image at that scale plus the detail dreamed so far (upscaled), and
    takes ``steps`` ascent steps of size ``step_size / mean|gradient|``. Pixels stay in [0, 1].

    ``mask`` [1, 1, H, W] in [0, 1] (resampled to the image if its size differs) confines the dream:
    the update is multiplied by it, and every pixel where it is 0 is returned exactly as it came in.
    With a sequence of N objectives, ``mask`` holds one mask per objective, [N, 1, H, W] (for a
    blend, :func:`reverie.masks.ramp_masks`), and each objective dreams inside its own mask.

    ``stop`` is checked after every step; once set, the dream ends there and the image so far is
    returned at full size (the photo plus the detail dreamed so far, as the next octave would start).
    """
    check_image(image)
    if image.shape[0] != 1:
        raise ReverieError(f"deep_dream takes one image at a time, got a batch of {image.shape[0]}")
    objectives = [objective] if isinstance(objective, Objective) else list(objective)
    if not objectives or not all(isinstance(item, Objective) for item in objectives):
        raise ReverieError("deep_dream needs an objective or a sequence of objectives")
    if mask is not None:
        mask = check_mask(mask).to(image)  # the device and dtype of the image
        if mask.shape[0] != len(objectives):
            raise ReverieError(f"deep_dream got {len(objectives)} objective(s) but {mask.shape[0]} mask(s); "
                               "give one mask per objective, [N, 1, H, W]")
    elif len(objectives) > 1:
        raise ReverieError("several objectives need one mask each, [N, 1, H, W] (see reverie.masks.ramp_masks)")
    jitter_generator = make_generator(seed, "jitter")
    height, width = image.shape[-2:]
    check_cost(dream_cost((height, width), settings), "this dream",
               "the size, octaves, steps or min-octave-size", image.device)
    # An image smaller than the network can usefully see is dreamed larger, then scaled back.
    upscale = max(1.0, settings.min_octave_size / min(height, width))
    work_height, work_width = round(height * upscale), round(width * upscale)
    source = resize(image.detach(), (work_height, work_width))
    shapes = octave_shapes(work_height, work_width, settings)

    work_total = float(sum(h * w for h, w in shapes) * settings.steps)
    work_done = 0.0
    detail = None  # dreamed minus photo, carried from octave to octave
    dreamed = source
    layers = tuple(dict.fromkeys(name for item in objectives for name in item.layers))
    with memory_kept(), ActivationRecorder(model, layers) as recorder:
        input_side = getattr(model, FIXED_SIDE, None)  # see reverie.models.fixed_input
        gradients_of = [DreamGradient(recorder, item, settings, jitter_generator, input_side) for item in objectives]
        gradient_of = gradients_of[0]
        for octave, shape in enumerate(shapes):
            octave_base = resize(source, shape)
            dreamed = octave_base.clone() if detail is None else (octave_base + resize(detail, shape)).clamp_(0, 1)
            detail = None
            octave_mask = None if mask is None else fit_mask(mask, shape)  # [N, 1, h, w]
            for step in range(settings.steps):
                if octave_mask is None:
                    gradient, score = gradient_of(dreamed)
                    # Normalizing by the mean magnitude makes step_size mean "pixels per step" on any
                    # layer of any network, whose raw gradient scales differ by orders of magnitude.
                    # In place: at 4096 px every full-size temporary costs 200 MB.
                    scale = settings.step_size / gradient.abs().mean().clamp_min(1e-12)
                    gradient.mul_(scale)
                else:
                    gradient, score = _masked_step(gradients_of, octave_mask, dreamed, settings.step_size)
                dreamed.add_(gradient).clamp_(0, 1)
                del gradient
                work_done += shape[0] * shape[1]
                if progress is not None:
                    # The preview is a copy made when asked, valid during the callback.
                    progress(Progress(f"octave {octave + 1}/{len(shapes)}", step + 1, settings.steps,
                                      work_done, work_total, score, lambda image=dreamed: image.detach().cpu().clone()))
                if stop_requested(stop):
                    break
            detail = dreamed - octave_base
            del octave_base
            if stop_requested(stop):
                break
    dreamed = _full_size(dreamed, source, detail)
    dreamed = resize(dreamed, (height, width)) if upscale > 1 else dreamed
    if mask is not None:
        # Octave resizing blurs a little detail across the mask's edge; outside the mask the input
        # comes back bit for bit.
        outside = fit_mask(mask.sum(dim=0, keepdim=True).clamp_(max=1), (height, width)) == 0  # [1, 1, H, W]
        dreamed = torch.where(outside, image.detach(), dreamed)
    return dreamed
