"""Seconds per DeepDream step vs. one bare truncated forward+backward of the same model.

What is compared (CPU, the embedded EfficientNet-Lite0, its default objective layers):

* **bare**: the least work a gradient step can cost. Inside an ``ActivationRecorder`` on the
  objective's layers (so the forward stops after the deepest one), exactly::

      image.requires_grad_(True)
      activations = recorder(image)
      score = objective(activations)
      torch.autograd.grad(score, image)

* **dream**: ``reverie.deep_dream`` itself with ``octaves=1, steps=N`` (all other settings
  default, tile widened to the image size if --size exceeds it so one tile covers the image),
  wall time of the whole call divided by N, nothing subtracted. That includes everything
  deep_dream does per step (DreamGradient: jitter draw, roll, detach, forward, objective,
  backward, roll back, float(score); then gradient normalization, update and clamp) plus its
  per-call setup (recorder hooks, resize no-ops, zeros_like) amortised over N.

Repetitions of both are interleaved (order alternating each repetition) to cancel drift and
background load; medians are reported. A third interleaved block replays deep_dream's step
loop with the real DreamGradient but with timers around each part, for the breakdown.

Target: dream / bare <= 1.15.

    .venv/bin/python bench/dream_step.py [--size 512] [--repeats 9] [--steps 3] [--threads N] [--layers blocks.6 blocks.9]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import defaultdict

import torch

import reverie
from reverie.allocator import memory_kept
from reverie.engine.deepdream import DreamGradient, DreamSettings, deep_dream
from reverie.models.loading import MODELS
from reverie.randomness import generator as make_generator
from reverie.recorder import ActivationRecorder

MODEL = "efficientnet-lite0"
TARGET = 1.15


def default_objective(layers=None):
    """layer(L1) + layer(L2) + ... over ``layers``, by default the registry's default layers
    (MODELS[MODEL].default_layers: what a dream with no objective targets)."""
    layers = layers or MODELS[MODEL].default_layers
    objective = reverie.layer(layers[0])
    for name in layers[1:]:
        objective = objective + reverie.layer(name)
    return objective


def start_image(size: int) -> torch.Tensor:
    try:
        image = reverie.sample("chelsea")
    except Exception:  # noqa: BLE001 - scikit-image missing: any image times the same
        return torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    return torch.nn.functional.interpolate(image, size=(size, size), mode="bilinear",
                                           align_corners=False, antialias=True).contiguous()


def bare_block(model, objective, image: torch.Tensor, n: int) -> list[float]:
    """n bare forward+backward passes; seconds of each."""
    image = image.clone()
    times = []
    with memory_kept(), ActivationRecorder(model, objective.layers) as recorder:
        for _ in range(n):
            t0 = time.perf_counter()
            image.requires_grad_(True)
            activations = recorder(image)
            score = objective(activations)
            torch.autograd.grad(score, image)
            times.append(time.perf_counter() - t0)
    return times


def dream_block(model, objective, image: torch.Tensor, settings: DreamSettings,
                seed: int) -> tuple[float, list[float], float, float]:
    """One deep_dream call: (seconds per step = whole call / steps, the intervals between its
    progress callbacks (single steps, without the call's setup), seconds from the call to its
    first callback (setup + first step), seconds from the last callback to the return)."""
    marks: list[float] = []
    t0 = time.perf_counter()
    deep_dream(model, objective, image, settings, seed=seed, progress=lambda _: marks.append(time.perf_counter()))
    t1 = time.perf_counter()
    return (t1 - t0) / settings.steps, [b - a for a, b in zip(marks, marks[1:])], marks[0] - t0, t1 - marks[-1]


class _Timed:
    """Wraps a callable, adding its wall time to ``totals[key]``."""

    def __init__(self, function, totals, key):
        self.function, self.totals, self.key = function, totals, key

    def __call__(self, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return self.function(*args, **kwargs)
        finally:
            self.totals[self.key] += time.perf_counter() - t0


def breakdown_block(model, objective, image: torch.Tensor, settings: DreamSettings, seed: int) -> dict[str, float]:
    """deep_dream's inner step loop (one octave at the image's size), timed part by part.

    Uses the real DreamGradient; its recorder, objective and torch.autograd.grad are wrapped in
    timers. Returns mean seconds per step of each part.
    """
    totals: dict[str, float] = defaultdict(float)
    real_grad = torch.autograd.grad
    torch.autograd.grad = _Timed(real_grad, totals, "backward (autograd.grad)")
    try:
        with memory_kept(), ActivationRecorder(model, objective.layers) as recorder:
            gradient_of = DreamGradient(_Timed(recorder, totals, "forward (recorder)"),
                                        _Timed(objective, totals, "objective"),
                                        settings, make_generator(seed, "jitter"))
            dreamed = image.clone()
            for _ in range(settings.steps):
                t0 = time.perf_counter()
                gradient, _score = gradient_of(dreamed)
                t1 = time.perf_counter()
                gradient /= gradient.abs().mean().clamp_min(1e-12)
                t2 = time.perf_counter()
                dreamed = (dreamed + settings.step_size * gradient).clamp_(0, 1)
                t3 = time.perf_counter()
                totals["DreamGradient call"] += t1 - t0
                totals["normalization"] += t2 - t1
                totals["update + clamp"] += t3 - t2
                totals["step total"] += t3 - t0
    finally:
        torch.autograd.grad = real_grad
    inner = ("forward (recorder)", "objective", "backward (autograd.grad)")
    totals["  of which other (jitter, roll, detach, float)"] = (
        totals["DreamGradient call"] - sum(totals[k] for k in inner))
    return {key: value / settings.steps for key, value in totals.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=512, help="image side in px (default 512)")
    parser.add_argument("--repeats", type=int, default=9, help="interleaved repetitions (default 9)")
    parser.add_argument("--steps", type=int, default=3, help="steps per deep_dream call / bare passes per block (default 3)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's own)")
    parser.add_argument("--layers", nargs="+", default=None,
                        help="objective layers, summed (default: MODELS[model].default_layers)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    model = reverie.load_model(MODEL)
    objective = default_objective(args.layers)
    image = start_image(args.size)
    settings = DreamSettings(octaves=1, steps=args.steps, tile=max(DreamSettings().tile, args.size))

    print(f"torch {torch.__version__}, torch.get_num_threads() = {torch.get_num_threads()}, "
          f"os.cpu_count() = {os.cpu_count()}, load average at start = {os.getloadavg()[0]:.2f}")
    print(f"model {MODEL}, objective {objective.expression()} (registry default layers: "
          f"{', '.join(MODELS[MODEL].default_layers)}; forward truncated at the deepest)")
    print(f"image 1x3x{args.size}x{args.size}; deep_dream settings {settings}")
    print(f"{args.repeats} interleaved repetitions x {args.steps} steps each of: bare pass, deep_dream, timed replay")

    # Warm-up: first calls allocate and pick kernels.
    bare_block(model, objective, image, 2)
    deep_dream(model, objective, image, DreamSettings(octaves=1, steps=1, tile=settings.tile), seed=99)
    breakdown_block(model, objective, image, DreamSettings(octaves=1, steps=1, tile=settings.tile), 99)

    bare, dream, ratios, intervals, bare_passes, firsts, lasts = [], [], [], [], [], [], []
    parts: dict[str, list[float]] = defaultdict(list)
    for rep in range(args.repeats):
        blocks = ["bare", "dream", "parts"] if rep % 2 == 0 else ["parts", "dream", "bare"]
        for block in blocks:
            if block == "bare":
                passes = bare_block(model, objective, image, args.steps)
                bare_passes += passes
                bare.append(statistics.mean(passes))
            elif block == "dream":
                per_step, between, first, last = dream_block(model, objective, image, settings, seed=rep)
                dream.append(per_step)
                intervals += between
                firsts.append(first)
                lasts.append(last)
            else:
                for key, value in breakdown_block(model, objective, image, settings, rep).items():
                    parts[key].append(value)
        ratios.append(dream[-1] / bare[-1])
        print(f"  rep {rep + 1}: bare {bare[-1]:.3f} s/pass, deep_dream {dream[-1]:.3f} s/step, "
              f"ratio {ratios[-1]:.3f}   (load {os.getloadavg()[0]:.2f})")

    bare_median, dream_median = statistics.median(bare), statistics.median(dream)
    print()
    print(f"bare forward+backward: median {bare_median:.4f} s  (min {min(bare):.4f}, max {max(bare):.4f})")
    print(f"deep_dream per step:   median {dream_median:.4f} s  (min {min(dream):.4f}, max {max(dream):.4f})")
    print(f"ratio of medians {dream_median / bare_median:.3f}; ratio of minima {min(dream) / min(bare):.3f}; "
          f"paired per-repetition ratios {', '.join(f'{r:.3f}' for r in ratios)}")
    if intervals:
        print(f"single steps inside deep_dream (progress-callback intervals, {len(intervals)} of them): "
              f"median {statistics.median(intervals):.4f} s, min {min(intervals):.4f} s; "
              f"single bare passes ({len(bare_passes)}): median {statistics.median(bare_passes):.4f} s, "
              f"min {min(bare_passes):.4f} s -> ratio of medians {statistics.median(intervals) / statistics.median(bare_passes):.3f}, "
              f"of minima {min(intervals) / min(bare_passes):.3f}")
        print(f"deep_dream call to its first step's end (setup + step 1): median {statistics.median(firsts):.4f} s "
              f"= {1000 * (statistics.median(firsts) - statistics.median(intervals)):+.1f} ms vs a later step; "
              f"last step's end to return: median {1000 * statistics.median(lasts):.2f} ms")
    print()
    print("breakdown of a step (timed replay of deep_dream's loop, median over repetitions):")
    order = ["DreamGradient call", "forward (recorder)", "objective", "backward (autograd.grad)",
             "  of which other (jitter, roll, detach, float)", "normalization", "update + clamp", "step total"]
    for key in order:
        value = statistics.median(parts[key])
        indent = "    " if key in order[1:5] else "  "
        print(f"{indent}{key.strip():<46} {value * 1000:9.2f} ms  {100 * value / bare_median:6.1f}% of bare")
    print()
    ratio = statistics.median(ratios)
    verdict = "MEETS" if ratio <= TARGET else "MISSES"
    print(f"SUMMARY: deep_dream step / bare forward+backward = {ratio:.3f} (median of paired per-repetition "
          f"ratios; {args.size}px, {torch.get_num_threads()} threads, load avg {os.getloadavg()[0]:.2f}); "
          f"target <= {TARGET}: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
