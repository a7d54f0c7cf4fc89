"""Edge-filter animations: does a Sobel fed back every frame keep its colours and detail, and at what cost?

Dreams the same animation twice with the embedded model, frame k+1 = dream(sobel(frame k)): once
with the bare edge map (``sobel(mix=1, match=0)``, what ``sobel()`` was before mix/match) and once
with the anchored default (``sobel()``: mix 0.5, match 1). For each it prints the largest colour
histogram distance of any frame to frame 0 (half the L1 distance of per-channel 32-bin histograms,
averaged over channels: 0 the same palette, 1 disjoint), the smallest pixel variance of any frame,
the mean change between the last two frames (a frozen animation has 0), and seconds per frame. The
ratio is the anchored run's seconds per frame over the bare run's (the cost of the histogram match).

    .venv/bin/python bench/edge_filters.py                 # 300 frames at 96 px, ~1 min on an idle 2-core CPU
    .venv/bin/python bench/edge_filters.py --frames 100 --size 128
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

import torch

import reverie
from reverie.engine.deepdream import DreamSettings
from reverie.pipelines.animate import AnimateRecipe, run


def histogram_distance(frame: torch.Tensor, reference: torch.Tensor) -> float:
    def histogram(image):
        return torch.stack([torch.histc(image[0, c], 32, 0, 1) for c in range(3)]) / image[0, 0].numel()
    return float((histogram(frame) - histogram(reference)).abs().sum(1).mean() / 2)


def measure(model, transform: str, frames: int, size: int) -> dict:
    settings = DreamSettings(octaves=1, steps=2, jitter=8, min_octave_size=32)
    recipe = AnimateRecipe(source="sample:chelsea", size=(size, size), objective="layer(blocks.2)", frames=frames,
                           settings=settings, transforms=(transform,))
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        result = run(recipe, folder, model=model, device="cpu")
        seconds = (time.perf_counter() - start) / frames
        images = list(result.frames())
    return {"distance": max(histogram_distance(image, images[0]) for image in images),
            "variance": min(float(image.var()) for image in images),
            "change": float((images[-1] - images[-2]).abs().mean()), "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--size", type=int, default=96)
    args = parser.parse_args()
    print(f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f}")
    model = reverie.load_model("efficientnet-lite0")
    found = {}
    for name, transform in (("bare", "sobel(mix=1, match=0)"), ("anchored", "sobel()")):
        found[name] = figures = measure(model, transform, args.frames, args.size)
        print(f"{name:9s} {transform:24s} max histogram distance {figures['distance']:.3f}  min variance "
              f"{figures['variance']:.4f}  last change {figures['change']:.4f}  {figures['seconds']:.3f} s/frame")
    ratio = found["anchored"]["seconds"] / found["bare"]["seconds"]
    met = found["anchored"]["distance"] < 0.25 and found["anchored"]["variance"] > 0.01
    print(f"time ratio anchored/bare {ratio:.2f}")
    print(f"SUMMARY: over {args.frames} frames at {args.size} px the anchored Sobel keeps distance "
          f"{found['anchored']['distance']:.3f} (bare {found['bare']['distance']:.3f}) and variance "
          f"{found['anchored']['variance']:.4f} (bare {found['bare']['variance']:.4f}): target "
          f"{'met' if met else 'NOT met'}; {ratio:.2f}x the bare run's time per frame")


if __name__ == "__main__":
    main()
