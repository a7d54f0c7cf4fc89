"""What exact replay across machines costs: a dream run with a recipe's recorded CPU thread count.

A recipe records the thread count it ran with (``threads``) and a replay uses it, because PyTorch's
CPU sums follow the thread count (see reverie.machine). Three runs of the same default dream, the same
seed, interleaved (order alternating each repetition) after a warm-up:

* **here**: ``threads`` = this machine's count (what a fresh run records): the reference.
* **fewer**: a recipe made at 1 thread (from a smaller machine) replayed here.
* **more**: a recipe made at twice this machine's cores replayed here (oversubscribed).

Prints the median seconds of each and the ratios to **here**, whether the three images are pixel-
identical to replays of their own recipes at another process thread count (they must be), and the
cost the thread switch itself adds (set_num_threads twice per run). No target: the point is the price.

    .venv/bin/python bench/replay_threads.py [--size 256] [--steps 5] [--repeats 3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import replace

import torch

from reverie.engine.deepdream import DreamSettings
from reverie.pipelines.dream import DreamRecipe, run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    here = torch.get_num_threads()
    cores = os.cpu_count() or 1
    recipe = DreamRecipe(source="sample:chelsea", size=(args.size, args.size),
                         settings=DreamSettings(octaves=2, steps=args.steps))
    counts = {"here": here, "fewer": 1, "more": 2 * cores}
    print(f"torch threads {here}, cpu_count {cores}, load average {os.getloadavg()}")
    run(replace(recipe, threads=here, settings=replace(recipe.settings, steps=1)), device="cpu")  # warm-up
    times: dict[str, list[float]] = {name: [] for name in counts}
    images = {}
    for repeat in range(args.repeats):
        order = list(counts) if repeat % 2 == 0 else list(reversed(counts))
        for name in order:
            start = time.perf_counter()
            images[name] = run(replace(recipe, threads=counts[name]), device="cpu").image
            times[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, count in counts.items():
        print(f"{name:6s} threads={count:3d}  median {medians[name]:.2f} s  ratio {medians[name] / medians['here']:.2f}")
    # The same recipe from a process at another thread count: identical pixels
    torch.set_num_threads(max(1, here // 2) if here > 1 else 2)
    same = all(torch.equal(run(replace(recipe, threads=counts[name]), device="cpu").image, images[name])
               for name in ("fewer", "here"))
    torch.set_num_threads(here)
    start = time.perf_counter()
    for _ in range(1000):
        torch.set_num_threads(1)
        torch.set_num_threads(here)
    switch = (time.perf_counter() - start) / 1000
    print(f"replays at process threads {max(1, here // 2) if here > 1 else 2} identical: {same}")
    print(f"thread switch: {switch * 1e6:.1f} us per run ({switch / medians['here'] * 100:.4f} % of a run)")
    print(f"SUMMARY: replay exact {same}; a 1-thread recipe costs x{medians['fewer'] / medians['here']:.2f} here, "
          f"a {2 * cores}-thread one x{medians['more'] / medians['here']:.2f}; the switch itself "
          f"{switch / medians['here'] * 100:.4f} %")


if __name__ == "__main__":
    main()
