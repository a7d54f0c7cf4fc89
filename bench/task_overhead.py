"""Per-step cost of the task API's progress events and stop checks, as a ratio to the same loop without them.

Two ways to dream the same image with the same settings and seed, interleaved (order alternating each
repetition) after a warm-up:

* **bare**: ``reverie.deep_dream(model, objective, image, settings, seed)``: no progress callback,
  no stop signal (the loop still builds nothing for them).
* **events**: the same call with ``progress=tracker, stop=tracker``, a :class:`reverie.engine.progress.Tracker`
  wrapping a callback that reads ``event.fraction``, ``event.seconds_left`` and ``event.stage``, and a
  ``threading.Event`` it checks after every step: exactly what every task adds to the loop.

The headline ratio is the median of the per-repetition ratios events / bare. Target <= 1.01. Whole-loop
ratios carry the machine's noise (a percent or two here), so the script also times what the events add
directly: building the event, the Tracker's ETA and the stop check, per step, as a share of a bare step.
Two more figures: **task**, the whole ``reverie.run(recipe, ...)`` path (recipe, objective check on a
probe input, the smallest-input probe, then the loop with events), and **task+preview**, the same
with a callback that asks for a preview every step (what a studio pays at most; it asks at most
every 0.5 s, so far less).

    .venv/bin/python bench/task_overhead.py [--size 256] [--steps 10] [--repeats 7] [--threads N]
"""
from __future__ import annotations

import argparse
import os
import statistics
import threading
import time

import torch

import reverie
from reverie.engine.deepdream import DreamSettings, deep_dream
from reverie.engine.progress import Progress, Tracker
from reverie.imaging import resize

TARGET = 1.01


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None)
    arguments = parser.parse_args()
    if arguments.threads:
        torch.set_num_threads(arguments.threads)
    print(f"threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f}, "
          f"{arguments.size} px, 1 octave x {arguments.steps} steps")

    model = reverie.load_model("efficientnet-lite0")
    image = resize(reverie.sample("chelsea"), (arguments.size, arguments.size))
    settings = DreamSettings(octaves=1, steps=arguments.steps)
    recipe = reverie.DreamRecipe(source="sample:chelsea", size=(arguments.size, arguments.size),
                                 objective="layer(blocks.10)", settings=settings)
    objective = reverie.parse_objective("layer(blocks.10)")

    def bare() -> None:
        deep_dream(model, objective, image, settings, 0)

    def watched(event) -> None:
        _ = (event.fraction, event.seconds_left, event.stage)

    def events() -> None:
        tracker = Tracker(watched, threading.Event())
        deep_dream(model, objective, image, settings, 0, tracker, stop=tracker)

    def task() -> None:
        reverie.run(recipe, model=model, progress=watched, stop=threading.Event())

    def previewed(event) -> None:
        _ = event.preview()

    def task_with_previews() -> None:
        reverie.run(recipe, model=model, progress=previewed, stop=threading.Event())

    runs = {"bare": bare, "events": events, "task": task, "task+preview": task_with_previews}
    for run in runs.values():  # warm-up
        run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for repeat in range(arguments.repeats):
        order = list(runs) if repeat % 2 == 0 else list(reversed(runs))
        for name in order:
            began = time.perf_counter()
            runs[name]()
            times[name].append((time.perf_counter() - began) / arguments.steps)
    for name, values in times.items():
        print(f"{name:>13}: median {statistics.median(values):.4f} s/step (min {min(values):.4f})")
    # What the events add, timed directly: the event, the tracker (ETA, count, forward) and the stop check.
    tracker, bare_step = Tracker(watched, threading.Event()), statistics.median(times["bare"])
    calls = 10_000
    began = time.perf_counter()
    for step in range(calls):
        tracker(Progress("octave 1/1", step, calls, step, calls, 0.0, lambda: image))
        tracker.is_set()
    direct = (time.perf_counter() - began) / calls
    print(f"events timed directly: {direct * 1e6:.1f} us per step = {1 + direct / bare_step:.5f}x a bare step")

    def paired(name: str) -> float:
        return statistics.median(t / b for t, b in zip(times[name], times["bare"]))

    ratio = paired("events")
    print(f"events / bare (median of paired ratios): {ratio:.3f}; whole task path: {paired('task'):.3f}; "
          f"with a preview every step: {paired('task+preview'):.3f}")
    print(f"SUMMARY: progress+stop overhead {ratio:.3f}x per step in the loop, {1 + direct / bare_step:.5f}x timed "
          f"directly (target <= {TARGET}): {'met' if min(ratio, 1 + direct / bare_step) <= TARGET else 'NOT met'}")


if __name__ == "__main__":
    main()
