"""The animation loop: frame k+1 = dream(transform(frame k)), one frame at a time, resumable exactly."""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

import torch
from torch import nn

from reverie.engine.deepdream import DreamSettings, deep_dream
from reverie.engine.progress import Progress, ProgressCallback, StopSignal, stop_requested
from reverie.errors import ReverieError
from reverie.frame_transforms import FrameContext, apply_frame_transforms
from reverie.imaging import check_image
from reverie.objectives import Objective
from reverie.randomness import generator, randint

FramePlan = Callable[[int], tuple[Objective, DreamSettings]]
"""frame_index -> the objective and dream settings of that frame (keyframes may change them)."""


@dataclass(frozen=True)
class Frame:
    """One finished frame, as a frame loop yields it."""

    frame_index: int
    image: torch.Tensor   # [1, 3, H, W] in [0, 1], on 8-bit levels (see quantize)
    score: float          # the objective's value at the frame's last dream step


AnimationFrame = Frame  # earlier name


class FrameSteps:
    """The step events of one frame's dream, reported as progress over a whole run of frames.

    ``first`` .. ``count - 1`` are this run's frames; an event of frame k's dream carries
    ``frame_index`` k and the fraction (frames finished + this frame's fraction) / frames to make.
    Keeps the frame's latest score for the frame it yields.
    """

    def __init__(self, progress: ProgressCallback | None, first: int, count: int):
        self.progress, self.first, self.count = progress, first, count
        self.frame_index = first
        self.score = float("nan")

    def start(self, frame_index: int) -> None:
        self.frame_index, self.score = frame_index, float("nan")

    def __call__(self, event: Progress) -> None:
        self.score = event.score
        if self.progress is not None:
            done = self.frame_index - self.first + event.fraction
            self.progress(replace(event, stage=f"frame {self.frame_index + 1}/{self.count} {event.stage}",
                                  work_done=done, work_total=float(self.count - self.first),
                                  frame_index=self.frame_index))


def quantize(image: torch.Tensor) -> torch.Tensor:
    """``image`` on the 256 levels an 8-bit PNG stores: exactly what reading the saved frame back gives.

    >>> quantize(torch.tensor([0.0, 0.3, 1.0]))
    tensor([0.0000, 0.2980, 1.0000])
    """
    # The same arithmetic as reverie.imaging.to_pil (clamp, *255, round) then from_pil (/255 in float32).
    return image.clamp(0, 1).mul(255).round().div(255)


def dream_frames(model: nn.Module, start: torch.Tensor, plan: FramePlan, transforms: Sequence,
                 frame_count: int, seed: int = 0, first_index: int = 0,
                 source: torch.Tensor | None = None, progress: ProgressCallback | None = None,
                 stop: StopSignal | None = None) -> Iterator[Frame]:
    """Dream frames ``first_index`` .. ``frame_count - 1``, yielding each as soon as it is done.

    ``start``: [1, 3, H, W] in [0, 1]; the source image when ``first_index`` is 0 (frame 0 is its
    dream, untransformed), else the finished frame ``first_index - 1`` (read back from its file).
    ``plan(k)`` gives frame k's objective and settings; ``transforms`` are frame transforms
    ``(frame, FrameContext) -> frame`` applied in order before each dream after the first.
    All of frame k's randomness comes from ``generator(seed, "frame", k)``, and the only state
    carried from frame to frame is the previous frame's image, so resuming at any frame from its
    predecessor's file gives exactly the frames an uninterrupted run gives. Nothing accumulates
    across frames: memory stays flat however long the animation.
    ``progress`` gets every dream step (see :class:`FrameSteps`); once ``stop`` is set the frame in
    progress is dropped (it would not match an uninterrupted run's) and the loop ends.
    """
    check_image(start, "start frame")
    if start.shape[0] != 1:
        raise ReverieError(f"an animation starts from one image, got a batch of {start.shape[0]}")
    if not 0 <= first_index <= frame_count:
        raise ReverieError(f"first frame {first_index} is outside the animation's {frame_count} frames")
    frame = start.detach()
    steps = FrameSteps(progress, first_index, frame_count)
    for frame_index in range(first_index, frame_count):
        if stop_requested(stop):
            return
        steps.start(frame_index)
        frame_generator = generator(seed, "frame", frame_index)
        dream_seed = randint(frame_generator, 0, 2**62)  # drawn first, so transforms cannot shift it
        if frame_index > 0:
            context = FrameContext(frame_index, frame_count, frame_generator, source)
            with torch.no_grad():  # frame transforms need no gradient (and may not have one)
                frame = apply_frame_transforms(transforms, frame, context).clamp(0, 1)
        objective, settings = plan(frame_index)
        frame = deep_dream(model, objective, frame, settings, dream_seed, progress=steps, stop=stop)
        if stop_requested(stop):
            return
        # Continue from the frame as its 8-bit PNG stores it, not the float result: a resumed run can
        # only read the PNG back, so an uninterrupted run must carry the same quantized image for the
        # two to produce identical frames (the difference is at most half a level per frame anyway).
        frame = quantize(frame.detach())
        yield Frame(frame_index, frame, steps.score)
