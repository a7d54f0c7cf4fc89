"""Frames per minute of a zoom animation with the default settings, and whether memory stays flat.

Runs ``reverie.animate`` (the embedded EfficientNet-Lite0, the AnimateRecipe defaults: 2 octaves
x 6 steps per frame, ``zoom(0.02)``) from the bundled ``chelsea`` photo resized to SIZE x SIZE,
writing real frame files to a temporary folder. Peak RSS (``ru_maxrss``) is read from the
progress callback after frame 20 and after the last frame: a flat run has the same peak at both,
since each frame needs the same memory and nothing may accumulate.

    .venv/bin/python bench/animate.py [--size 512] [--frames 200] [--threads N]

Targets: memory growth between frame 20 and the last frame under 5 %; frames per minute is
reported (no target: it is set by the model's speed, see bench/dream_step.py).
"""
from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time

import torch

import reverie
from reverie.recipe import AnimateRecipe


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f}")
    recipe = AnimateRecipe(size=(args.size, args.size), frames=args.frames)
    print(f"recipe: {recipe.settings}, transforms {recipe.transforms}, {args.frames} frames of {args.size}x{args.size}")
    marks: dict[int, tuple[float, float]] = {}

    def progress(event) -> None:
        index = event.frame_index + 1  # frames finished
        if index in (1, 20, args.frames):
            marks[index] = (time.perf_counter(), peak_mb())

    with tempfile.TemporaryDirectory() as folder:
        reverie.animate(recipe, folder, progress=progress, device="cpu")
    (t1, _), (_, m20), (t_end, m_end) = marks[1], marks[20], marks[args.frames]
    per_minute = (args.frames - 1) / (t_end - t1) * 60
    growth = (m_end - m20) / m20
    print(f"frames per minute (after the first frame): {per_minute:.1f}")
    print(f"peak RSS after frame 20: {m20:.0f} MB; after frame {args.frames}: {m_end:.0f} MB; growth {growth:+.1%}")
    print(f"SUMMARY: {per_minute:.1f} frames/min at {args.size}px; memory growth {growth:+.1%} "
          f"({'flat' if growth < 0.05 else 'GROWS'}, target < 5 %)")


if __name__ == "__main__":
    main()
