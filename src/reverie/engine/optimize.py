"""The feature-visualization loop: optimise an image parameterization to maximise an objective."""
from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from reverie.allocator import memory_kept
from reverie.engine.budget import check_cost, render_cost
from reverie.engine.progress import Progress, ProgressCallback, StopSignal, stop_requested
from reverie.errors import ReverieError
from reverie.fields import check_fields, option
from reverie.objectives import Objective
from reverie.optim import OPTIMIZERS, make_optimizer
from reverie.params.alpha import composite, random_background
from reverie.randomness import generator as make_generator
from reverie.recorder import IMAGE, ActivationRecorder
from reverie.redirect import redirected_relus
from reverie.robustness import CanvasView, Transform, compose, crop_back


@dataclass(frozen=True)
class RenderSettings:
    """How a visualization is optimised. Defaults follow Lucid's (Adam, lr 0.05, 512 steps)."""

    steps: int = option(512, "optimization steps", low=1, high=100_000)
    lr: float = option(0.05, "learning rate", low=1e-9, high=100.0)
    optimizer: str = option("adam", "the optimizer", choices=tuple(OPTIMIZERS))
    thresholds: tuple[int, ...] = option((), "steps at which to keep intermediate images (the last is always kept)",
                                         low=1, high=100_000, max_items=1000, flag=False)
    redirect_steps: int = option(16, "early steps whose dead ReLUs pass a redirected gradient", low=0,
                                 high=100_000)
    # Added after recipes existed: a file without it was rendered on the whole transformed image.
    crop: bool = option(True, "the network sees the transformed image's centre at the size asked for "
                              "(off: all of the padded image)", absent=False)
    # Added after crop: recipes from before it cropped back step by step (pad, crops, a resample of the
    # padded size). One resample gives the same views to float rounding, but over hundreds of steps the
    # rounding grows into visible differences, so those recipes replay step by step.
    resample_once: bool = option(True, "with crop on, pad, jitter, scale, rotation and the crop back run as one "
                                       "resample (off: step by step)", flag=False, absent=False)

    def __post_init__(self):
        check_fields(self)
        bad = [t for t in self.thresholds if t > self.steps]
        if bad:
            raise ReverieError(f"thresholds must be steps between 1 and {self.steps}, got {bad[:5]}")


@dataclass
class Rendering:
    """What ``render`` returns: images kept at each threshold, and the objective's history."""

    images: dict[int, torch.Tensor]             # step -> image [B, C, H, W] in [0, 1] (C = 4 with alpha)
    history: list[float] = field(default_factory=list)  # objective value after each step
    stopped: bool = False                       # a stop signal ended the loop before its last step

    @property
    def image(self) -> torch.Tensor:
        """The final image."""
        return self.images[max(self.images)]


def render(model: nn.Module, objective: Objective, param: nn.Module, transforms: Sequence[Transform] = (),
           settings: RenderSettings = RenderSettings(), seed: int = 0,
           progress: ProgressCallback | None = None, stop: StopSignal | None = None) -> Rendering:
    """Optimise ``param`` (an ImageParam) so that ``model`` on its image maximises ``objective``.

    Each step: image = param(); RGBA images are composited over a fresh random background (so
    alpha means "this part does not matter"); the robustness ``transforms`` perturb it and the
    centre of the result, at the image's own size, is what the model sees (``settings.crop``; not
    through canvas views); the recorder runs the model only up to the deepest layer the objective reads; the optimizer
    takes a step on ``-score``. During the first ``redirect_steps`` dead ReLUs pass a redirected
    gradient, so deep units do not leave the image grey. ``stop`` is checked after every step; once
    it is set the loop ends and the image of that step is kept (``rendering.stopped``).
    """

    shape = [getattr(param, name, None) for name in ("batch", "height", "width")]
    if all(isinstance(side, int) for side in shape):  # an ImageParam; a mesh's texture has its own sizes
        check_cost(render_cost(*shape, settings.steps), "this rendering", "the size, batch or steps",
                   next(param.parameters(), torch.empty(0)).device)
    # Seen through canvas views, the model gets the padded, jittered view uncropped: cropped back to
    # the view's size, a large canvas lost most of its large-scale structure (low-frequency power over
    # the whole canvas's: 3.6x uncropped, 1.3x cropped; tests/pipelines/test_visualize.py's measure).
    crop = settings.crop and not any(isinstance(item, CanvasView) for item in transforms)
    # compose merges scale + rotate into one resample; crop_back makes pad, jitters, warp and the crop
    # back one resample of the asked-for size (same draws; the pixels agree to float rounding), or runs
    # them step by step for recipes from before it.
    transform = crop_back(transforms, settings.resample_once) if crop else compose(transforms)
    transform_generator = make_generator(seed, "transforms")
    background_generator = make_generator(seed, "background")
    optimizer = make_optimizer(settings.optimizer, param.parameters(), settings.lr, make_generator(seed, "optimizer"))
    keep = set(settings.thresholds) | {settings.steps}
    rendering = Rendering(images={})
    scores: list[torch.Tensor] = []  # the score of every step, on the device

    with contextlib.ExitStack() as redirect, memory_kept(), ActivationRecorder(model, objective.layers) as recorder:
        if settings.redirect_steps > 0:
            redirect.enter_context(redirected_relus(model))
        for step in range(1, settings.steps + 1):
            if step == settings.redirect_steps + 1:
                redirect.close()  # from here on, ordinary gradients
            optimizer.zero_grad(set_to_none=True)
            image = param()  # [B, C, H, W], C = 3 or 4
            rgb = image
            if image.shape[1] == 4:
                background = random_background(image.shape[0], image.shape[2], image.shape[3],
                                               background_generator).to(image)
                rgb = composite(image, background)
            # The transforms pad, shift and warp (the standard set turns 224 px into 236 px); the centre
            # crop hands the model the size that was asked for, as Lucid's published figures were made,
            # so a step costs no more network than the image it renders (11 % fewer pixels at 224 px).
            seen = transform(rgb, transform_generator)
            activations = recorder(seen)
            activations[IMAGE] = image
            score = objective(activations)
            if not score.requires_grad:
                raise ReverieError("the objective does not depend on the image (it compares a batch's images, and "
                                   "there is one): use --batch 2 or more")
            (-score).backward()
            optimizer.step()
            # The score stays where it was computed: reading it (a float) waits for the device, so it is
            # read only where someone asks for it (a progress event), else once at the end.
            scores.append(score.detach())
            if step in keep:
                with torch.no_grad():
                    rendering.images[step] = param().detach()
            if progress is not None:
                _check_finite(scores, len(scores) - 1)
                progress(Progress("optimizing", step, settings.steps, step, settings.steps,
                                  float(scores[-1]), lambda: _image_now(param).cpu()))
            if step < settings.steps and stop_requested(stop):
                rendering.images[step] = _image_now(param)
                rendering.stopped = True
                break
    _check_finite(scores, 0)
    rendering.history = torch.stack(scores).float().tolist() if scores else []
    return rendering


def _check_finite(scores: list[torch.Tensor], start: int) -> None:
    """A ReverieError naming the first step from ``start`` whose score is NaN or infinite."""
    values = torch.stack(scores[start:])
    if not bool(torch.isfinite(values).all()):
        index = start + int((~torch.isfinite(values)).nonzero()[0, 0])
        raise ReverieError(f"the objective became {float(scores[index])} at step {index + 1}; try a smaller --lr")


def _image_now(param: nn.Module) -> torch.Tensor:
    with torch.no_grad():
        return param().detach()
