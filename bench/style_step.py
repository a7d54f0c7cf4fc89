"""Seconds per step of style transfer at 256x256, as a ratio to a bare forward+backward of the truncated model.

The baseline runs the same model, stopped at the same deepest layer, on a 256x256 image that
requires grad, and back-propagates the sum of the recorded activations: what any step must pay.
The ratio is the overhead of the parameterization (FFT, colour), the Gram matrices and Adam.

    .venv/bin/python bench/style_step.py [--steps 10] [--rounds 3] [--device cpu]
"""
from __future__ import annotations

import argparse
import os
import time

import torch

import reverie
from reverie.engine.optimize import RenderSettings, render
from reverie.imaging import resize, sample
from reverie.params import FourierParam
from reverie.pipelines.style import style_objective
from reverie.randomness import generator
from reverie.recipe import StyleRecipe
from reverie.recorder import ActivationRecorder

SIZE = 256


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    options = parser.parse_args()
    device = torch.device(options.device)
    model = reverie.load_model("efficientnet-lite0", device)
    recipe = StyleRecipe(size=(SIZE, SIZE), settings=RenderSettings(steps=options.steps, redirect_steps=0))
    content = resize(sample("chelsea"), (SIZE, SIZE)).to(device)
    style = resize(sample("coffee"), (SIZE, SIZE)).to(device)
    objective = style_objective(model, content, style, recipe)

    def synchronise():
        if device.type == "cuda":
            torch.cuda.synchronize()

    # Baseline: forward to the deepest layer the objective reads, then backward, on a plain image.
    def bare_time(steps: int) -> float:
        image = content.clone(memory_format=torch.contiguous_format).requires_grad_(True)
        with ActivationRecorder(model, objective.layers) as recorder:
            synchronise()
            start = time.perf_counter()
            for _ in range(steps):
                activations = recorder(image)
                sum(activation.sum() for activation in activations.values()).backward()
            synchronise()
        return (time.perf_counter() - start) / steps

    # Style transfer: the render loop itself.
    def step_time(steps: int) -> float:
        param = FourierParam(SIZE, SIZE, generator=generator(0, "param"), init=content.cpu()).to(device)
        synchronise()
        start = time.perf_counter()
        render(model, objective, param, (), RenderSettings(steps=steps, redirect_steps=0))
        synchronise()
        return (time.perf_counter() - start) / steps

    bare_time(2), step_time(2)  # warm-up
    # Interleaved rounds, best of each: a busy shared machine slows one round, not the comparison.
    bares, styled_times = [], []
    for _ in range(options.rounds):
        bares.append(bare_time(options.steps))
        styled_times.append(step_time(options.steps))
    bare, styled = min(bares), min(styled_times)
    print("rounds (s): bare", [round(t, 4) for t in bares], "style", [round(t, 4) for t in styled_times])
    print(f"style transfer at {SIZE}x{SIZE} on {device} ({torch.get_num_threads()} threads, best of {options.rounds} rounds of {options.steps} steps): "
          f"{styled:.4f} s/step; bare forward+backward to {objective.layers[-1]}... {bare:.4f} s; "
          f"ratio {styled / bare:.2f} (load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
