"""The dream-video loop: each frame starts from its source plus the previous frame's dream detail, moved
along the optical flow, so the dream stays on the objects it grew on instead of boiling anew every frame."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace

import torch
from torch import nn

from reverie.engine.animate import Frame, FrameSteps, quantize
from reverie.engine.deepdream import DreamSettings, deep_dream
from reverie.engine.flow import consistency_mask, optical_flow, warp
from reverie.engine.progress import ProgressCallback, StopSignal, stop_requested
from reverie.errors import ReverieError
from reverie.imaging import check_image
from reverie.objectives import Objective
from reverie.randomness import generator, randint

# A video frame starts from its source frame plus most of the previous frame's dream detail, moved
# along the optical flow, so like an animation frame it needs far less dreaming than a still: the
# detail settles at the strength of about steps / (1 - blend) / 2 steps from scratch (here 10), and
# the first frame takes that many at once. Measured on EfficientNet-Lite0 at 320x240 (a panned photo, 12 fps): 2
# octaves x 4 steps at blend 0.8 gave the least flicker of 2x4/2x6 at blends 0.5-0.85, as strong a
# dream as 2x6 at 0.7, in two thirds of the time; lower blends flicker more, higher ones smear.
VIDEO_SETTINGS = DreamSettings(octaves=2, octave_scale=1.4, steps=4, step_size=0.01, jitter=16)
VIDEO_BLEND = 0.8


def dream_video_frames(model: nn.Module, objective: Objective, settings: DreamSettings,
                       sources: Iterable[torch.Tensor], *, blend: float = VIDEO_BLEND, flow: bool = True,
                       occlusion: bool = False, seed: int = 0, first_index: int = 0,
                       carried: tuple[torch.Tensor, torch.Tensor] | None = None, count: int | None = None,
                       progress: ProgressCallback | None = None, stop: StopSignal | None = None) -> Iterator[Frame]:
    """Dream each of ``sources`` (source frames ``first_index``, ``first_index + 1`` ..., each
    [1, 3, H, W] in [0, 1]), yielding each dreamed frame as soon as it is done.

    Frame k starts from ``source[k] + blend * warp(dreamed[k-1] - source[k-1], flow)``, the flow
    running from source frame k-1 to k (:func:`reverie.engine.flow.optical_flow`); with
    ``flow=False`` the detail is carried in place, unmoved, and ``blend=0`` dreams every frame
    afresh. With ``occlusion`` (and ``flow``), detail is carried only where the forward and backward
    flows agree (:func:`reverie.engine.flow.consistency_mask`): pixels the previous frame did not show,
    or whose motion is unsure, start from the source and are dreamed anew. The first frame, with nothing carried, takes ``steps / (1 - blend) / 2`` steps
    per octave (at least ``steps``).
    ``carried``: (source, dreamed) of frame ``first_index - 1`` when resuming, else None.
    Frame k's randomness comes from ``generator(seed, "frame", k)`` alone, and the dreamed frame is
    carried as its PNG stores it, so resuming from the files gives the frames an uninterrupted run gives.
    ``count``: the video's frame count, for progress; ``progress`` and ``stop`` work as in
    :func:`reverie.engine.animate.dream_frames` (a frame cut short by ``stop`` is dropped).
    """
    # Carried detail settles where each frame adds what it loses. Were dreaming linear that would be
    # new / (1 - blend), steps / (1 - blend) steps' worth; measured, it is about half of that (warping
    # blurs the detail, and a formed pattern gains less per step): with the defaults (4 steps, blend
    # 0.8) frames settle at the strength of 10 steps from scratch. The first frame has nothing to
    # carry, so it takes those steps at once and the dream does not fade in over the first second.
    first = replace(settings, steps=max(settings.steps, round(settings.steps / max(1 - blend, 0.05) / 2)))
    previous = carried
    steps = FrameSteps(progress, first_index, count if count is not None else first_index + 1)
    for frame_index, source in enumerate(sources, start=first_index):
        if stop_requested(stop):
            return
        steps.start(frame_index)
        check_image(source, f"source frame {frame_index}")
        start = source
        if previous is not None and blend > 0:
            previous_source, previous_dreamed = previous
            if previous_source.shape != source.shape or previous_dreamed.shape != source.shape:
                raise ReverieError(f"frame {frame_index} is {source.shape[-1]}x{source.shape[-2]}, not the "
                                   f"{previous_dreamed.shape[-1]}x{previous_dreamed.shape[-2]} of the frame before")
            with torch.no_grad():
                detail = previous_dreamed - previous_source  # [1, 3, H, W], signed: what the dream added
                if flow:
                    # Detail moved in from outside the frame is 0: nothing dreamed there yet.
                    forward = optical_flow(previous_source, source)
                    detail = warp(detail, forward, padding="zeros")
                    if occlusion:  # nor where the content was hidden, or the motion is unsure
                        detail = detail * consistency_mask(forward, optical_flow(source, previous_source)).to(detail)
                start = (source + blend * detail).clamp(0, 1)
        dream_seed = randint(generator(seed, "frame", frame_index), 0, 2**62)
        dreamed = deep_dream(model, objective, start, settings if previous is not None else first, dream_seed,
                             progress=steps, stop=stop)
        if stop_requested(stop):
            return
        # Carry the frame as its 8-bit PNG stores it: a resumed run can only read the PNG back.
        dreamed = quantize(dreamed.detach())
        yield Frame(frame_index, dreamed, steps.score)
        previous = (source, dreamed)
