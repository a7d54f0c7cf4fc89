"""Robustness transforms for feature visualization: random pad, jitter, scale and rotation of a batch.

A transform is a callable ``(image [B, C, H, W], generator) -> image``: differentiable with respect
to the image, batched, and C may be 3 (RGB) or 4 (RGBA). Every batch item gets its own random draw.

Each transform keeps *sampling* apart from *applying*: ``params = t.sample(batch, generator)`` draws
the random values (always on the CPU generator, so the same seed gives the same pixels on any
device), and ``t.apply(image, params)`` is a plain function of the image and those values, so an
effect can be replayed exactly. ``t(image, generator)`` does both.

>>> import torch
>>> from reverie.randomness import generator
>>> image = torch.full((2, 3, 64, 64), 0.5)
>>> out = compose(STANDARD)(image, generator(0, "transforms"))
>>> tuple(out.shape)
(2, 3, 76, 76)
>>> describe(STANDARD)
'pad(12, value=0.5) -> jitter(8) -> random_scale(0.9..1.1, 11 choices) -> random_rotate(-10..10 degrees, 26 choices) -> jitter(4)'
"""
from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from reverie.errors import ReverieError, unknown_name_message

Transform = Callable[[torch.Tensor, torch.Generator], torch.Tensor]

PAD_MODES = ("constant", "reflect", "replicate", "circular")
# How a warp fills the pixels it pulls in from outside the image: "border" repeats the edge (after a
# grey pad that edge is grey, and without one it avoids hard black corners), "reflection" mirrors,
# and a number fills with that constant.
WARP_FILLS = ("border", "reflection")


def check_image(image: torch.Tensor, what: str) -> None:
    """Raise a ReverieError unless ``image`` is a floating [B, C, H, W] tensor."""
    if not isinstance(image, torch.Tensor) or image.ndim != 4 or not image.is_floating_point():
        got = list(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise ReverieError(f"{what}: expected a float image [B, C, H, W], got {got}")


def _choose(values: tuple[float, ...], batch: int, generator: torch.Generator) -> torch.Tensor:
    """One of ``values`` per batch item, drawn from ``generator``: float64 [B] on the CPU."""
    index = torch.randint(len(values), (batch,), generator=generator)
    return torch.tensor(values, dtype=torch.float64)[index]


def _summary(values: tuple[float, ...], unit: str = "") -> str:
    """``0.9..1.1, 11 choices`` for long lists, the values themselves for short ones."""
    text = lambda v: f"{v:g}"  # noqa: E731 - a one-line formatter
    if len(values) <= 3:
        return "(" + ", ".join(map(text, values)) + ")" + unit
    return f"{text(min(values))}..{text(max(values))}{unit}, {len(values)} choices"


# --- the plain functions: image + sampled values -> image ---------------------------------------

def apply_pad(image: torch.Tensor, width: int, mode: str = "constant", value: float = 0.5) -> torch.Tensor:
    """Pad all four sides by ``width`` pixels: [B, C, H, W] -> [B, C, H + 2w, W + 2w]."""
    if width == 0:
        return image
    if mode == "constant":
        return F.pad(image, (width,) * 4, mode="constant", value=value)
    return F.pad(image, (width,) * 4, mode=mode)


def apply_crop(image: torch.Tensor, offsets: torch.Tensor, shrink: int) -> torch.Tensor:
    """Crop each item at its own (top, left) offset, removing ``shrink`` rows and columns.

    ``image`` [B, C, H, W], ``offsets`` integer [B, 2] with values in [0, shrink]
    -> [B, C, H - shrink, W - shrink].
    """
    height, width = image.shape[-2] - shrink, image.shape[-1] - shrink
    if height < 1 or width < 1:
        raise ReverieError(
            f"jitter({shrink}) needs an image larger than {shrink} px, got {image.shape[-2]}x{image.shape[-1]}"
        )
    # Per-item offsets give differently placed windows of one size; a loop of slices is exact,
    # differentiable and cheap at the batch sizes used here.
    crops = [
        item[:, top:top + height, left:left + width]
        for item, (top, left) in zip(image, offsets.tolist())
    ]
    return torch.stack(crops)


def crop_center(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The centred ``height`` x ``width`` window of ``image`` [B, C, H, W], where it is larger.

    An axis already at or below the wanted size is left as it is, so this never pads:
    [B, C, H, W] -> [B, C, min(H, height), min(W, width)]. A slice (a view), so it is exact and
    its backward costs nothing beyond the zero-filled gradient of the margin.
    """
    top = max(image.shape[-2] - height, 0) // 2
    left = max(image.shape[-1] - width, 0) // 2
    return image[..., top:top + min(height, image.shape[-2]), left:left + min(width, image.shape[-1])]


def affine_matrices(scales: torch.Tensor, angles: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``affine_grid`` matrices [B, 2, 3] that zoom by ``scales`` [B] and rotate by ``angles`` [B].

    Angles are degrees, positive counter-clockwise as displayed (the direction of
    ``torch.rot90(image, 1, (-2, -1))``); both happen about the image centre. A scale above 1
    enlarges the content (zooms in). Matrices are float64 on the CPU.
    """
    radians = angles.double() * (math.pi / 180)
    cos, sin = torch.cos(radians), torch.sin(radians)
    inverse_scale = 1.0 / scales.double()
    # affine_grid maps each output position to where it samples the input, in coordinates that run
    # from -1 to 1 across each axis. In centred pixel units (y pointing down) that map is the inverse
    # of the forward zoom-and-rotate: p_in = (1/s) [[cos, -sin], [sin, cos]] p_out. Converting pixels to
    # normalised units divides x by W/2 and y by H/2, which keeps rotations round on non-square images.
    aspect = height / width
    theta = torch.zeros(len(scales), 2, 3, dtype=torch.float64)
    theta[:, 0, 0] = inverse_scale * cos
    theta[:, 0, 1] = -inverse_scale * sin * aspect
    theta[:, 1, 0] = inverse_scale * sin / aspect
    theta[:, 1, 1] = inverse_scale * cos
    return theta


def affine_grid(theta: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``F.affine_grid(theta, [B, C, height, width], align_corners=False)`` by broadcasting: [B, H, W, 2].

    The same sums without the batched matrix product over every pixel (a few ms per step on a CPU).
    """
    xs = (torch.arange(width, device=theta.device, dtype=theta.dtype) * 2 + 1) / width - 1   # [W], pixel centres
    ys = (torch.arange(height, device=theta.device, dtype=theta.dtype) * 2 + 1) / height - 1  # [H]
    # [B, 1, 1, 2] columns of theta times [1, 1, W, 1] x and [1, H, 1, 1] y
    return (theta[:, None, None, :, 0] * xs[None, None, :, None] + theta[:, None, None, :, 1] * ys[None, :, None, None]
            + theta[:, None, None, :, 2])


def grid_sample(image: torch.Tensor, grid: torch.Tensor, padding: str) -> torch.Tensor:
    """``F.grid_sample(image, grid)``, bilinear, ``align_corners=False``: [B, C, H, W] -> [B, C, h, w].

    On a CPU, PyTorch's kernel shares out batch items among threads, never the pixels of one, so a
    batch of one image resampled on one core while the others waited (the backward is most of a
    render step's cost outside the model). With fewer items than threads, each channel is resampled
    as its own item: the same arithmetic per channel, so the same bits, on more cores (forward and
    backward of a 224 px view at 2 threads: 4.8 -> 3.0 ms, bench/crop_back.py).
    """
    batch, channels = image.shape[:2]
    if image.device.type != "cpu" or channels == 1 or batch >= torch.get_num_threads():
        return F.grid_sample(image, grid, mode="bilinear", padding_mode=padding, align_corners=False)
    height, width = grid.shape[1:3]
    items = image.reshape(batch * channels, 1, *image.shape[2:])
    grids = grid[:, None].expand(batch, channels, height, width, 2).reshape(batch * channels, height, width, 2)
    out = F.grid_sample(items, grids, mode="bilinear", padding_mode=padding, align_corners=False)
    return out.reshape(batch, channels, height, width)


def apply_affine(image: torch.Tensor, theta: torch.Tensor, fill: str | float = "border") -> torch.Tensor:
    """Resample ``image`` [B, C, H, W] bilinearly through per-item ``theta`` [B, 2, 3]; same shape out.

    ``fill`` says what appears where the warp looks outside the image: ``"border"``, ``"reflection"``
    or a constant value.
    """
    theta = theta.to(device=image.device, dtype=image.dtype)
    grid = F.affine_grid(theta, list(image.shape), align_corners=False)  # [B, H, W, 2]
    if isinstance(fill, str):
        return grid_sample(image, grid, fill)
    # grid_sample fills with zeros; shifting by the fill value first makes that zero mean ``fill``.
    shifted = grid_sample(image - fill, grid, "zeros")
    return shifted + fill


# --- the transforms: sample + apply -------------------------------------------------------------

@dataclass(frozen=True)
class Pad:
    """Pad every side by ``width`` pixels; no randomness. [B, C, H, W] -> [B, C, H + 2w, W + 2w]."""

    width: int
    mode: str = "constant"  # one of PAD_MODES
    value: float = 0.5      # the constant for mode "constant"; 0.5 is a neutral grey

    def __post_init__(self):
        if self.width < 0:
            raise ReverieError(f"pad width must be 0 or more, got {self.width}")
        if self.mode not in PAD_MODES:
            raise ReverieError(unknown_name_message("pad mode", self.mode, PAD_MODES))

    def sample(self, batch: int, generator: torch.Generator) -> None:
        return None  # nothing random: draws nothing, so it never shifts the draws after it

    def apply(self, image: torch.Tensor, params: None = None) -> torch.Tensor:
        check_image(image, "pad")
        return apply_pad(image, self.width, self.mode, self.value)

    def __call__(self, image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return self.apply(image, self.sample(image.shape[0], generator))

    def __str__(self) -> str:
        extra = f", value={self.value:g}" if self.mode == "constant" else f", mode={self.mode!r}"
        return f"pad({self.width}{extra})"


@dataclass(frozen=True)
class Jitter:
    """Crop ``shrink`` pixels off each axis at a random offset per item, as Lucid's jitter does.

    The offset is uniform in [0, shrink] on each axis, so the content moves by up to ``shrink``
    pixels and the image gets smaller: [B, C, H, W] -> [B, C, H - shrink, W - shrink].
    """

    shrink: int

    def __post_init__(self):
        if self.shrink < 0:
            raise ReverieError(f"jitter must be 0 or more pixels, got {self.shrink}")

    def sample(self, batch: int, generator: torch.Generator) -> torch.Tensor:
        """Offsets (top, left) per item: int64 [B, 2] in [0, shrink]."""
        return torch.randint(self.shrink + 1, (batch, 2), generator=generator)

    def apply(self, image: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        check_image(image, "jitter")
        return apply_crop(image, params, self.shrink)

    def __call__(self, image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return self.apply(image, self.sample(image.shape[0], generator))

    def __str__(self) -> str:
        return f"jitter({self.shrink})"


@dataclass(frozen=True)
class RandomScale:
    """Zoom each item about its centre by a factor chosen from ``scales``; the size is kept.

    Lucid resizes the whole image instead; keeping the size lets every item of a batch take its own
    scale. A factor above 1 zooms in (edges leave the frame); below 1 zooms out and ``fill`` covers
    the margin. [B, C, H, W] -> [B, C, H, W], bilinear.
    """

    scales: tuple[float, ...]
    fill: str | float = "border"

    def __post_init__(self):
        object.__setattr__(self, "scales", tuple(float(s) for s in self.scales))
        if not self.scales or min(self.scales) <= 0:
            raise ReverieError(f"random_scale needs one or more positive scales, got {list(self.scales)}")
        _check_fill(self.fill)

    def sample(self, batch: int, generator: torch.Generator) -> torch.Tensor:
        """One scale per item: float64 [B]."""
        return _choose(self.scales, batch, generator)

    def apply(self, image: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        check_image(image, "random_scale")
        theta = affine_matrices(params, torch.zeros_like(params), *image.shape[-2:])
        return apply_affine(image, theta, self.fill)

    def __call__(self, image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return self.apply(image, self.sample(image.shape[0], generator))

    def __str__(self) -> str:
        return f"random_scale({_summary(self.scales)})"


@dataclass(frozen=True)
class RandomRotate:
    """Rotate each item about its centre by an angle (degrees) chosen from ``angles``; the size is kept.

    Positive angles turn counter-clockwise as displayed. Repeating a value in ``angles`` makes it
    more likely. [B, C, H, W] -> [B, C, H, W], bilinear, corners covered by ``fill``.
    """

    angles: tuple[float, ...]
    fill: str | float = "border"

    def __post_init__(self):
        object.__setattr__(self, "angles", tuple(float(a) for a in self.angles))
        if not self.angles:
            raise ReverieError("random_rotate needs one or more angles")
        _check_fill(self.fill)

    def sample(self, batch: int, generator: torch.Generator) -> torch.Tensor:
        """One angle per item, in degrees: float64 [B]."""
        return _choose(self.angles, batch, generator)

    def apply(self, image: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        check_image(image, "random_rotate")
        theta = affine_matrices(torch.ones_like(params), params, *image.shape[-2:])
        return apply_affine(image, theta, self.fill)

    def __call__(self, image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return self.apply(image, self.sample(image.shape[0], generator))

    def __str__(self) -> str:
        return f"random_rotate({_summary(self.angles, ' degrees')})"


@dataclass(frozen=True)
class ScaleRotate:
    """A RandomScale followed by a RandomRotate, done as one resample (same draws, one matrix).

    ``Compose`` builds it from such a pair: it saves a grid_sample forward and backward per step
    and blurs less than two bilinear resamples in a row.
    """

    scale: RandomScale
    rotate: RandomRotate

    def sample(self, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Scales then angles, drawn in the order the separate transforms would draw them."""
        return self.scale.sample(batch, generator), self.rotate.sample(batch, generator)

    def apply(self, image: torch.Tensor, params: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        check_image(image, "random_scale")
        scales, angles = params
        return apply_affine(image, affine_matrices(scales, angles, *image.shape[-2:]), self.scale.fill)

    def __call__(self, image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return self.apply(image, self.sample(image.shape[0], generator))

    def __str__(self) -> str:
        return f"{self.scale} -> {self.rotate}"


@dataclass(frozen=True)
class CanvasView:
    """The network's view of a large canvas: each step, one window of it, resized to one view size.

    A network trained at ~224 px that sees a 1024 px canvas whole paints its favourite motif over and
    over at its own scale (wallpaper). Seen through views, it judges the whole canvas shrunk to
    ``side`` px (the composition) on some steps and crops at finer zooms down to native resolution
    (the detail) on others, so the canvas gets structure at every scale. Zooms are log-spaced,
    about an octave apart, from the whole canvas (1) to ``side / long side``; each item draws its
    own zoom and place. Every view keeps the canvas's aspect and is [B, C, vh, vw] with
    max(vh, vw) = ``side``; shrinking is antialiased so every canvas pixel gets gradient. It also
    bounds memory: the network never runs on more than a view.
    """

    canvas: tuple[int, int]  # (height, width) of the canvas the views are taken from
    side: int                # the view's long side, px

    def __post_init__(self):
        if self.side < 8 or max(self.canvas) <= self.side:
            raise ReverieError(f"a canvas view needs a canvas longer than its side ({self.side} px, at least 8), "
                               f"got {self.canvas[1]}x{self.canvas[0]}")

    @property
    def zooms(self) -> tuple[float, ...]:
        """Fractions of the canvas a view covers, whole canvas first."""
        finest = self.side / max(self.canvas)
        count = max(2, math.ceil(math.log2(1 / finest)) + 1)
        return tuple(finest ** (i / (count - 1)) for i in range(count))

    def view_shape(self) -> tuple[int, int]:
        height, width = self.canvas
        scale = self.side / max(height, width)
        return max(1, round(height * scale)), max(1, round(width * scale))

    def sample(self, batch: int, generator: torch.Generator) -> torch.Tensor:
        """Per item: zoom, then top and left as fractions of the room left, float64 [B, 3]."""
        zooms = _choose(self.zooms, batch, generator)
        places = torch.rand(batch, 2, generator=generator, dtype=torch.float64)
        return torch.cat([zooms[:, None], places], dim=1)

    def apply(self, image: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        check_image(image, "canvas view")
        height, width = image.shape[-2:]
        shape = self.view_shape()
        views = []
        for item, (zoom, top, left) in zip(image.split(1), params.tolist()):
            crop_h, crop_w = max(1, round(height * zoom)), max(1, round(width * zoom))
            y, x = round(top * (height - crop_h)), round(left * (width - crop_w))
            window = item[..., y:y + crop_h, x:x + crop_w]
            shrinking = crop_h > shape[0] or crop_w > shape[1]
            views.append(F.interpolate(window, size=shape, mode="bilinear", align_corners=False,
                                       antialias=shrinking))
        return torch.cat(views)  # [B, C, vh, vw]

    def __call__(self, image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return self.apply(image, self.sample(image.shape[0], generator))

    def __str__(self) -> str:
        return f"canvas_view({self.side} px, zooms {_summary(tuple(round(z, 3) for z in self.zooms))})"


def canvas_views(height: int, width: int, side: int) -> list[Transform]:
    """``[CanvasView]`` when the canvas is longer than ``side`` (and ``side`` is not 0), else ``[]``:
    small canvases, and recipes that ask for none, run exactly as before (no random draws added)."""
    if side <= 0 or max(height, width) <= side:
        return []
    return [CanvasView((int(height), int(width)), int(side))]


@dataclass(frozen=True)
class Compose:
    """Apply ``transforms`` in order; sampling draws each one's values in the same order.

    A random_scale directly followed by a random_rotate (same fill) runs as one ScaleRotate.
    """

    transforms: tuple[Any, ...]

    def _steps(self) -> list[Any]:
        steps: list[Any] = []
        for transform in self.transforms:
            if (steps and isinstance(transform, RandomRotate) and isinstance(steps[-1], RandomScale)
                    and steps[-1].fill == transform.fill):
                steps[-1] = ScaleRotate(steps[-1], transform)
            else:
                steps.append(transform)
        return steps

    def sample(self, batch: int, generator: torch.Generator) -> list[Any]:
        """Each step's sampled values, in order (None for a step that draws nothing)."""
        return [_sample(t, batch, generator) for t in self._steps()]

    def apply(self, image: torch.Tensor, params: Sequence[Any]) -> torch.Tensor:
        for transform, values in zip(self._steps(), params, strict=True):
            image = transform.apply(image, values)
        return image

    def __call__(self, image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        # Sample-then-apply per step, so plain callables without ``sample`` also work here.
        for transform in self._steps():
            image = transform(image, generator)
        return image

    def __str__(self) -> str:
        return describe(self.transforms)


@dataclass(frozen=True)
class CropBack:
    """``transforms`` followed by a centre crop back to the input's own size (``crop_center``).

    When the steps are a constant pad, jitters, one warp (scale, rotate or both) and jitters (the
    standard set), the whole chain is ONE bilinear resample: every output pixel of the cropped
    window maps to one point of the unpadded input through a translation, the warp's matrix and
    another translation, so a single ``grid_sample`` of the requested size replaces the pad's
    zero-fill and copy, the crops' copies and a resample of the padded size (forward and backward).
    The draws are the same values from the same generator in the same order, so the views are
    distributed as before; the pixels agree with the step-by-step chain to float rounding
    (the grid's coordinates are computed in one go). The pad's constant is the fill: a warp that
    fills with ``"border"`` repeats the padded image's edge, which is all pad as long as the
    jitters before the warp remove less than the pad adds. Other chains run step by step.
    [B, C, H, W] -> [B, C, min(H, seen H), min(W, seen W)].
    """

    transforms: tuple[Any, ...]
    fused: bool = True  # False: always step by step (as render did before; recipes from then replay so)

    @property
    def steps(self) -> list[Any]:
        return Compose(self.transforms)._steps()

    def _plan(self, height: int, width: int) -> tuple[Pad, int, int] | None:
        """(pad, index of the warp, pre-warp shrink) when the chain is one resample for this size, else None."""
        if not self.fused:
            return None
        steps = self.steps
        kinds = [type(step) for step in steps]
        warps = [i for i, kind in enumerate(kinds) if kind in (RandomScale, RandomRotate, ScaleRotate)]
        if (len(warps) != 1 or not steps or kinds[0] is not Pad or steps[0].mode != "constant"
                or any(kind is not Jitter for kind in kinds[1:warps[0]] + kinds[warps[0] + 1:])):
            return None
        pad_, warp = steps[0], steps[warps[0]]
        fill = warp.scale.fill if isinstance(warp, ScaleRotate) else warp.fill
        before = sum(step.shrink for step in steps[1:warps[0]])
        if before >= pad_.width or not (fill == "border" or (not isinstance(fill, str) and fill == pad_.value)):
            return None
        # Each jitter needs an image larger than its shrink (else the step-by-step chain says so).
        side = min(height, width) + 2 * pad_.width
        for step in steps[1:]:
            if isinstance(step, Jitter):
                if side - step.shrink < 1:
                    return None
                side -= step.shrink
        return pad_, warps[0], before

    def sample(self, batch: int, generator: torch.Generator) -> list[Any]:
        """Each step's values, drawn as ``Compose.sample`` draws them."""
        return Compose(self.transforms).sample(batch, generator)

    def apply(self, image: torch.Tensor, params: Sequence[Any]) -> torch.Tensor:
        check_image(image, "crop back")
        height, width = image.shape[-2:]
        plan = self._plan(height, width)
        if plan is None:
            return crop_center(Compose(self.transforms).apply(image, params), height, width)
        pad_, warp_index, before = plan
        theta, out_height, out_width = self._matrices(params, height, width, pad_.width, warp_index)
        grid = affine_grid(theta.to(device=image.device, dtype=image.dtype), out_height, out_width)
        # grid_sample fills with zeros; shifting by the pad's constant first makes that zero the pad.
        shifted = grid_sample(image - pad_.value, grid, "zeros")
        return shifted + pad_.value

    def _matrices(self, params: Sequence[Any], height: int, width: int, pad_width: int,
                  warp_index: int) -> tuple[torch.Tensor, int, int]:
        """Matrices [B, 2, 3] from the output window's normalised coordinates to the input's (as for
        ``affine_grid``), float64, and the window's size."""
        steps = self.steps
        warp, values = steps[warp_index], params[warp_index]
        if isinstance(warp, ScaleRotate):
            scales, angles = values
        elif isinstance(warp, RandomScale):
            scales, angles = values, torch.zeros_like(values)
        else:
            scales, angles = torch.ones_like(values), values
        # In pixel units (x right, y down, a pixel's centre at index + 0.5), a point of the warp's output
        # at offset v from its centre samples the warp's input at M v from its centre (affine_matrices'
        # map without its normalisation); crops and the pad only translate.
        radians = angles.double() * (math.pi / 180)
        cos, sin = torch.cos(radians) / scales.double(), torch.sin(radians) / scales.double()  # [B]
        before = sum(v.double() for v in params[1:warp_index]) + torch.zeros(2, dtype=torch.float64)  # [B, 2] (y, x)
        after = sum(v.double() for v in params[warp_index + 1:]) + torch.zeros(2, dtype=torch.float64)
        warp_height = height + 2 * pad_width - sum(step.shrink for step in steps[1:warp_index])
        warp_width = width + 2 * pad_width - sum(step.shrink for step in steps[1:warp_index])
        seen_height = warp_height - sum(step.shrink for step in steps[warp_index + 1:])
        seen_width = warp_width - sum(step.shrink for step in steps[warp_index + 1:])
        out_height, out_width = min(seen_height, height), min(seen_width, width)
        # Output pixel (X, Y) -> offset from the warp output's centre: (X + ax, Y + ay).
        ax = after[..., 1] + max(seen_width - width, 0) // 2 - warp_width / 2
        ay = after[..., 0] + max(seen_height - height, 0) // 2 - warp_height / 2
        # Warp input's centre -> input pixels: + half the warp's size + the earlier crops - the pad.
        bx = warp_width / 2 + before[..., 1] - pad_width
        by = warp_height / 2 + before[..., 0] - pad_width
        # X = (nx + 1) W'/2 on the output; nx = 2 X / W - 1 on the input.
        theta = torch.empty(len(cos), 2, 3, dtype=torch.float64)
        for row, (m0, m1, b, size) in enumerate(((cos, -sin, bx, width), (sin, cos, by, height))):
            theta[:, row, 0] = 2 / size * m0 * (out_width / 2)
            theta[:, row, 1] = 2 / size * m1 * (out_height / 2)
            theta[:, row, 2] = 2 / size * (m0 * (out_width / 2 + ax) + m1 * (out_height / 2 + ay) + b) - 1
        return theta, out_height, out_width

    def __call__(self, image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if self._plan(*image.shape[-2:]) is None:  # plain callables too, step by step
            return crop_center(Compose(self.transforms)(image, generator), *image.shape[-2:])
        return self.apply(image, self.sample(image.shape[0], generator))

    def __str__(self) -> str:
        return f"{describe(self.transforms)} -> crop back{'' if self.fused else ' (step by step)'}"


def crop_back(transforms: Sequence[Transform], fused: bool = True) -> CropBack:
    """``transforms`` then the centre at the input's own size, as one resample where the chain allows
    (``fused``; else step by step)."""
    return CropBack(tuple(transforms), fused)


def _sample(transform: Any, batch: int, generator: torch.Generator) -> Any:
    if not hasattr(transform, "sample"):
        raise ReverieError(f"transform {transform!r} cannot be replayed: it has no sample()/apply()")
    return transform.sample(batch, generator)


def _check_fill(fill: str | float) -> None:
    if isinstance(fill, str) and fill not in WARP_FILLS:
        raise ReverieError(unknown_name_message("fill", fill, WARP_FILLS) + "; or give a number")


# --- constructors, in the vocabulary the recipe and docs use ------------------------------------

def pad(width: int, mode: str = "constant", value: float = 0.5) -> Pad:
    """Pad ``width`` pixels on every side (``mode`` in PAD_MODES; ``value`` for "constant")."""
    return Pad(width, mode, value)


def jitter(max_shift: int) -> Jitter:
    """Random crop that removes ``max_shift`` pixels per axis at an offset in [0, max_shift]."""
    return Jitter(max_shift)


def random_scale(scales: Sequence[float], fill: str | float = "border") -> RandomScale:
    """Zoom about the centre by a per-item choice from ``scales`` (size kept)."""
    return RandomScale(tuple(scales), fill)


def random_rotate(angles_degrees: Sequence[float], fill: str | float = "border") -> RandomRotate:
    """Rotate about the centre by a per-item choice from ``angles_degrees`` (size kept)."""
    return RandomRotate(tuple(angles_degrees), fill)


def compose(transforms: Sequence[Transform]) -> Compose:
    """One transform that applies ``transforms`` in order."""
    return Compose(tuple(transforms))


def standard_transforms() -> list[Transform]:
    """Lucid's standard robustness set (see STANDARD), as a fresh list."""
    return [
        pad(12, mode="constant", value=0.5),
        jitter(8),
        random_scale([1 + (i - 5) / 50 for i in range(11)]),  # 0.90, 0.92, ..., 1.10
        # -10..10 degrees, with five extra zeros so about a quarter of the draws leave the angle alone.
        random_rotate(list(range(-10, 11)) + [0] * 5),
        jitter(4),
    ]


# The standard set grows a 64 px image to 76 px (+24 pad, -8, -4 jitter).
STANDARD: tuple[Transform, ...] = tuple(standard_transforms())

# Names a recipe can store for a transform set (strings only, so recipes stay plain data).
TRANSFORM_SETS: dict[str, tuple[Transform, ...]] = {
    "standard": STANDARD,
    "none": (),
}


def transforms_by_name(name: str) -> list[Transform]:
    """The transform set called ``name`` (a key of TRANSFORM_SETS), as a fresh list.

    >>> transforms_by_name("none")
    []
    """
    if name not in TRANSFORM_SETS:
        raise ReverieError(unknown_name_message("transform set", name, TRANSFORM_SETS))
    return list(TRANSFORM_SETS[name])


def name_of(transforms: Sequence[Transform]) -> str | None:
    """The TRANSFORM_SETS name of ``transforms``, or None when it is not a named set.

    >>> name_of(standard_transforms())
    'standard'
    """
    wanted = tuple(transforms)
    for name, members in TRANSFORM_SETS.items():
        if members == wanted:
            return name
    return None


def describe(transforms: Sequence[Transform]) -> str:
    """One line that says what ``transforms`` do, in order (``"none"`` when empty)."""
    if not transforms:
        return "none"
    # Plain functions used as transforms print as their name rather than "<function ...>".
    return " -> ".join(t.__name__ if inspect.isfunction(t) else str(t) for t in transforms)


__all__ = [
    "Transform", "Pad", "Jitter", "RandomScale", "RandomRotate", "Compose", "CropBack", "CanvasView", "canvas_views",
    "pad", "jitter", "random_scale", "random_rotate", "compose", "crop_back",
    "apply_pad", "apply_crop", "crop_center", "affine_matrices", "affine_grid", "apply_affine", "check_image",
    "STANDARD", "standard_transforms", "TRANSFORM_SETS", "transforms_by_name", "name_of", "describe",
    "PAD_MODES", "WARP_FILLS",
]
