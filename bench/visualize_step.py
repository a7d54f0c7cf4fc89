"""Seconds per feature-visualization step vs. one bare truncated forward+backward, at batch 1 and 8.

* **bare**: inside an ``ActivationRecorder`` on the objective's layers (the forward stops after
  the deepest one): a [B, 3, S, S] image with ``requires_grad``, the objective, and
  ``torch.autograd.grad`` — nothing else.
* **render**: ``reverie.engine.optimize.render`` with the FFT parameterization (decorrelated
  colour), the standard robustness transforms and Adam, wall time divided by the steps. The
  redirected-ReLU phase is switched off (``redirect_steps=0``): it covers only the first 16 of
  512 steps, and its cost is printed separately.

Note the standard transforms pad by 12 and crop 12, so the network sees (S+12)^2 pixels, not
S^2; the ratio includes that on purpose (it is what a step costs).

Target: render / bare <= 1.2.

    .venv/bin/python bench/visualize_step.py [--size 224] [--batches 1 8] [--steps 12] [--repeats 3] [--threads N]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

import reverie
from reverie.engine.optimize import RenderSettings, render
from reverie.params import make_param
from reverie.randomness import generator
from reverie.recorder import ActivationRecorder
from reverie.robustness import transforms_by_name

TARGET = 1.2


def bare_seconds(model, objective, batch: int, size: int, passes: int) -> float:
    image = torch.rand(batch, 3, size, size, generator=generator(0, "bench")).requires_grad_(True)
    with ActivationRecorder(model, objective.layers) as recorder:
        start = time.perf_counter()
        for _ in range(passes):
            score = objective(recorder(image))
            torch.autograd.grad(score, image)
        return (time.perf_counter() - start) / passes


def render_seconds(model, objective, batch: int, size: int, steps: int, redirect_steps: int = 0) -> float:
    param = make_param("fft", size, size, batch=batch, channels=3, generator=generator(0, "param"))
    settings = RenderSettings(steps=steps, redirect_steps=redirect_steps)
    start = time.perf_counter()
    render(model, objective, param, transforms_by_name("standard"), settings)
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--layer", default="blocks.10")
    parser.add_argument("--channel", type=int, default=7)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f}")
    model = reverie.load_model("efficientnet-lite0")
    ok = True
    for batch in args.batches:
        # [B] channel objectives, one per batch item, as a contact sheet renders them.
        objective = sum((reverie.channel(args.layer, args.channel + i, batch=i) for i in range(1, batch)),
                        reverie.channel(args.layer, args.channel, batch=0))
        render_seconds(model, objective, batch, args.size, 2)  # warm-up
        bare_seconds(model, objective, batch, args.size, 2)
        seen = args.size + 12  # what the network sees after pad 12, jitter 8 and jitter 4
        rows = []
        for _ in range(args.repeats):
            step = render_seconds(model, objective, batch, args.size, args.steps)
            bare = bare_seconds(model, objective, batch, args.size, args.steps)
            bare_seen = bare_seconds(model, objective, batch, seen, args.steps)
            rows.append((step, bare, bare_seen))
        step, bare, bare_seen = (statistics.median(row[i] for row in rows) for i in range(3))
        ratio = statistics.median(s / b for s, b, _ in rows)
        ratio_seen = statistics.median(s / b for s, _, b in rows)
        redirected = render_seconds(model, objective, batch, args.size, 4, redirect_steps=4)
        ok &= ratio <= TARGET
        print(f"batch {batch}: render step {step * 1000:.1f} ms; bare fwd+bwd at {args.size}px {bare * 1000:.1f} ms "
              f"-> ratio {ratio:.3f} (target <= {TARGET}); at the {seen}px the network sees {bare_seen * 1000:.1f} ms "
              f"-> ratio {ratio_seen:.3f}; redirected-ReLU step {redirected * 1000:.1f} ms")
    print(f"SUMMARY: visualization step overhead {'meets' if ok else 'misses'} the {TARGET} target")


if __name__ == "__main__":
    main()
