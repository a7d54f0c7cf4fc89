"""The crop-back view as one resample against the same chain step by step, in one process.

* **transforms**: forward+backward of the standard transforms and the centre crop back on a
  [1, 3, S, S] image: ``robustness.crop_back`` (one ``grid_sample`` of the asked-for window) against
  ``compose`` then ``crop_center`` (pad, crops, a resample of the padded size, crops).
* **whole call**: ``render`` of N steps (FFT parameterization, standard transforms, Adam, the first
  16 steps redirected, setup included) with each of the two (``RenderSettings.resample_once``),
  against N bare truncated forward+backward passes at S px (floor (b)).

Blocks alternate in order and headline figures are medians of ratios paired within a repeat, so a
change of machine load hits both sides alike; ``--clock cpu`` counts the process's CPU time
instead of the wall clock (a loaded machine at 1 thread).

    .venv/bin/python bench/crop_back.py [--size 224] [--steps 64] [--repeats 5] [--threads 1] [--clock cpu]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
import torch.nn.functional as F

import reverie
from reverie import robustness
from reverie.allocator import memory_kept
from reverie.engine.optimize import RenderSettings, render
from reverie.params import make_param
from reverie.randomness import generator
from reverie.recorder import ActivationRecorder
from reverie.robustness import crop_back, standard_transforms


def one_item(image: torch.Tensor, grid: torch.Tensor, padding: str) -> torch.Tensor:
    """torch's grid_sample as is: a batch of one image resampled on one core."""
    return F.grid_sample(image, grid, mode="bilinear", padding_mode=padding, align_corners=False)


def transform_seconds(view, size: int, passes: int, clock, spread: bool = True) -> float:
    image = torch.rand(1, 3, size, size, generator=generator(0, "bench")).requires_grad_(True)
    draws = generator(0, "transforms")
    resample = robustness.grid_sample
    robustness.grid_sample = resample if spread else one_item
    try:
        start = clock()
        for _ in range(passes):
            out = view(image, draws)
            torch.autograd.grad(out, image, torch.ones_like(out))
        return (clock() - start) / passes
    finally:
        robustness.grid_sample = resample


def render_seconds(model, objective, size: int, steps: int, fused: bool, clock) -> float:
    param = make_param("fft", size, size, generator=generator(0, "param"))
    start = clock()
    render(model, objective, param, standard_transforms(), RenderSettings(steps=steps, resample_once=fused))
    return clock() - start


def bare_seconds(model, objective, size: int, passes: int, clock) -> float:
    image = torch.rand(1, 3, size, size, generator=generator(0, "bench")).requires_grad_(True)
    with memory_kept(), ActivationRecorder(model, objective.layers) as recorder:  # as render keeps memory
        start = clock()
        for _ in range(passes):
            torch.autograd.grad(objective(recorder(image)), image)
        return clock() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--layer", default="blocks.8")
    parser.add_argument("--channel", type=int, default=7)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f}, "
          f"{args.clock} clock, {args.size} px, {args.steps} steps, {args.layer} channel {args.channel}")
    fused = crop_back(standard_transforms())
    views = {"fused": (fused, True), "fused, one item": (fused, False),
             "step by step": (crop_back(standard_transforms(), False), True)}
    for view, spread in views.values():
        transform_seconds(view, args.size, 2, clock, spread)  # warm-up
    rows = []
    for repeat in range(args.repeats):
        names = list(views) if repeat % 2 == 0 else list(reversed(views))
        rows.append({name: transform_seconds(*views[name][:1], args.size, 20, clock, views[name][1]) for name in names})
    median = {name: statistics.median(row[name] for row in rows) for name in views}
    print(f"transforms + crop back, forward+backward: one resample {median['fused'] * 1000:.1f} ms (channels as "
          f"items; one item {median['fused, one item'] * 1000:.1f} ms, "
          f"{statistics.median(r['fused, one item'] / r['fused'] for r in rows):.2f}x), step by step "
          f"{median['step by step'] * 1000:.1f} ms -> {statistics.median(r['fused'] / r['step by step'] for r in rows):.3f}")

    model = reverie.load_model("efficientnet-lite0")
    objective = reverie.channel(args.layer, args.channel)
    render_seconds(model, objective, args.size, 2, True, clock)  # warm-up
    render_seconds(model, objective, args.size, 2, False, clock)
    parts = {"fused": lambda: render_seconds(model, objective, args.size, args.steps, True, clock),
             "step by step": lambda: render_seconds(model, objective, args.size, args.steps, False, clock),
             "bare": lambda: bare_seconds(model, objective, args.size, args.steps, clock)}
    rows = []
    for repeat in range(args.repeats):
        names = list(parts) if repeat % 2 == 0 else list(reversed(parts))
        rows.append({name: parts[name]() for name in names})
        row = rows[-1]
        print(f"repeat {repeat}: whole call fused {row['fused']:.2f} s, step by step {row['step by step']:.2f} s, "
              f"{args.steps} bare passes {row['bare']:.2f} s -> {row['fused'] / row['bare']:.3f} vs "
              f"{row['step by step'] / row['bare']:.3f} floor (b)")
    ratio = {name: statistics.median(row[name] / row["bare"] for row in rows) for name in ("fused", "step by step")}
    gain = statistics.median(row["fused"] / row["step by step"] for row in rows)
    print(f"whole {args.steps}-step render / {args.steps} bare passes: fused {ratio['fused']:.3f}, step by step "
          f"{ratio['step by step']:.3f} (target <= 1.15); fused / step by step {gain:.3f}")


if __name__ == "__main__":
    main()
