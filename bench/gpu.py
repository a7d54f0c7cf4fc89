"""Seconds per step on a GPU, and the ratio to the bare truncated forward+backward, for the main loops.

* **dream**: ``deep_dream`` at 512 px, 1 octave x N steps, the model's default layers; floor: N bare
  passes at 512 px.
* **visualize b1 / b32**: ``render`` (FFT, standard transforms, crop back, 16 redirected steps, Adam)
  at 224 px, batch 1 and 32 (channels 0.. of blocks.8, one per item); floor: bare passes at that batch.
* **tiled 4096**: ``deep_dream`` on a 4096 px image, tiles of 512 px, 1 octave x 2 steps; floor: one
  bare pass per tile; the peak memory on the device is printed too.

Each at ``--precision`` (fp32, bf16, fp16) and optionally ``--compile``. Times are taken with the
device synchronised at both ends only, as a user's call would run. Without a GPU it says so and
exits (status 0); ``--cpu`` runs the same at tiny sizes on the CPU, to check the script itself.

    .venv/bin/python bench/gpu.py [--device cuda|mps] [--precision bf16] [--compile] [--steps 32]
    .venv/bin/python bench/gpu.py --cpu      # a smoke run: tiny sizes, not a measurement
"""
from __future__ import annotations

import argparse
import sys
import time
from functools import partial

import torch

import reverie
from reverie.allocator import memory_kept
from reverie.engine.deepdream import DreamSettings, deep_dream
from reverie.engine.optimize import RenderSettings, render
from reverie.models import ModelSpec, load_model, resolve_device
from reverie.models.loading import MODELS
from reverie.params import make_param
from reverie.randomness import generator
from reverie.recorder import ActivationRecorder
from reverie.robustness import transforms_by_name


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def timed(device: torch.device, work) -> float:
    synchronize(device)
    start = time.perf_counter()
    work()
    synchronize(device)
    return time.perf_counter() - start


def bare(model, objective, image: torch.Tensor, passes: int) -> None:
    image = image.detach().requires_grad_(True)
    with memory_kept(), ActivationRecorder(model, objective.layers) as recorder:
        for _ in range(passes):
            torch.autograd.grad(objective(recorder(image)), image)


def report(name: str, seconds: float, floor: float, steps: int, extra: str = "") -> None:
    print(f"{name}: {seconds / steps:.4f} s/step, floor {floor / steps:.4f} s/step -> ratio {seconds / floor:.3f}{extra}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "fp16"))
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--steps", type=int, default=32)
    parser.add_argument("--cpu", action="store_true", help="tiny sizes on the CPU: checks the script, measures nothing")
    args = parser.parse_args()
    device = torch.device("cpu") if args.cpu else resolve_device(args.device)
    if device.type == "cpu" and not args.cpu:
        print("SUMMARY: no GPU here (CUDA and MPS unavailable): nothing measured; --cpu runs a tiny smoke check")
        return
    dream_side, visualize_side, big, tile, batches, steps = (
        (64, 32, 256, 64, (1, 4), 2) if args.cpu else (512, 224, 4096, 512, (1, 32), args.steps))
    print(f"torch {torch.__version__}, device {device} "
          f"({torch.cuda.get_device_name(device) if device.type == 'cuda' else device.type}), "
          f"precision {args.precision}, compile {args.compile}{' (CPU smoke run, not a measurement)' if args.cpu else ''}")
    model = load_model(ModelSpec(precision=args.precision, compile=args.compile), device)
    layers = MODELS["efficientnet-lite0"].default_layers
    dream_objective = sum((reverie.layer(name) for name in layers[1:]), reverie.layer(layers[0]))
    photo = torch.rand(1, 3, dream_side, dream_side, generator=generator(0, "bench")).to(device)

    settings = DreamSettings(octaves=1, steps=steps, tile=max(dream_side, 512))
    deep_dream(model, dream_objective, photo, DreamSettings(octaves=1, steps=1, tile=settings.tile))  # warm-up
    seconds = timed(device, lambda: deep_dream(model, dream_objective, photo, settings))
    floor = timed(device, lambda: bare(model, dream_objective, photo, steps))
    report(f"dream {dream_side} px", seconds, floor, steps)

    for batch in batches:
        objective = sum((reverie.channel("blocks.8", i, batch=i) for i in range(1, batch)),
                        reverie.channel("blocks.8", 0, batch=0))

        def visualize(count=steps, batch=batch, objective=objective):
            param = make_param("fft", visualize_side, visualize_side, batch=batch,
                               generator=generator(0, "param")).to(device)
            render(model, objective, param, transforms_by_name("standard"), RenderSettings(steps=count))
        visualize(2)  # warm-up
        image = torch.rand(batch, 3, visualize_side, visualize_side, generator=generator(0, "bench")).to(device)
        floor = timed(device, partial(bare, model, objective, image, steps))
        report(f"visualize {visualize_side} px batch {batch}", timed(device, visualize), floor, steps)

    large = torch.rand(1, 3, big, big, generator=generator(0, "bench")).to(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    tiled = DreamSettings(octaves=1, steps=2, tile=tile)
    seconds = timed(device, lambda: deep_dream(model, dream_objective, large, tiled))
    peak = f", peak {torch.cuda.max_memory_allocated(device) / 2**20:.0f} MiB" if device.type == "cuda" else ""
    tiles = (big // tile) ** 2
    floor = timed(device, lambda: bare(model, dream_objective, large[..., :tile, :tile], 2 * tiles))
    report(f"tiled dream {big} px ({tiles} tiles of {tile} px)", seconds, floor, 2, peak)
    print("SUMMARY: measured on", "the CPU (smoke run only)" if args.cpu else str(device))


if __name__ == "__main__":
    sys.exit(main())
