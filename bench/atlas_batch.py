"""Atlas rendering throughput: units per second at batch 1 against larger batches (units on the batch
axis), and the wall time of a whole layer's atlas, measured and projected to 512 steps.

Each timing renders one real atlas batch through ``reverie.atlas`` (the visualize task plus the unit
measures), so it is exactly what ``reverie atlas build`` spends per batch. Batch sizes are interleaved,
their order rotating every repetition, so a change in the machine's load hits them all alike; the
headline is the best batch's median units/s over batch 1's.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import torch

import reverie
from reverie.atlas import AtlasSettings, build_atlas
from reverie.atlas.plan import plan
from reverie.atlas.work import RenderWork
from reverie.models import ModelSpec

WHOLE_MODEL_UNITS = 3120  # EfficientNet-Lite0: stem 32 + blocks.0-15 1808 + head 1280 (reverie layers)


def batch_seconds(work: RenderWork, spec: ModelSpec, model, layer: str, batch: int, size: int, steps: int) -> float:
    settings = AtlasSettings(layers=(layer,), channels=tuple(range(batch)), size=size, steps=steps, batch=batch)
    first = plan(spec, model, settings, digest="bench").batches[0]
    start = time.perf_counter()
    work(first)
    return time.perf_counter() - start


def clock(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layer", default="blocks.9")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=8, help="steps per timed batch (time scales linearly)")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4, 8, 16])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--full-steps", type=int, default=0,
                        help="also build the whole layer's atlas at this many steps and time it (0: skip)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (on a busy shared CPU, 1: more threads than free cores spin)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f}, "
          f"device {args.device}, {args.layer} at {args.size} px, {args.steps} steps per timing")
    spec = ModelSpec("efficientnet-lite0")
    model = reverie.load_model(spec, args.device)
    work = RenderWork(spec, model, args.device)
    for batch in args.batches:  # warm-up: allocator, kernels
        batch_seconds(work, spec, model, args.layer, batch, args.size, 2)
    rates: dict[int, list[float]] = {batch: [] for batch in args.batches}
    for repeat in range(args.repeats):
        order = args.batches[repeat % len(args.batches):] + args.batches[:repeat % len(args.batches)]
        for batch in order:
            seconds = batch_seconds(work, spec, model, args.layer, batch, args.size, args.steps)
            rates[batch].append(batch * args.steps / seconds)  # unit-steps per second
    print(f"{'batch':>5} {'units/s at 512 steps':>22} {'unit-steps/s (median)':>22}  all")
    medians = {batch: statistics.median(values) for batch, values in rates.items()}
    for batch, values in rates.items():
        print(f"{batch:>5} {medians[batch] / 512:>22.4f} {medians[batch]:>22.2f}  "
              + " ".join(f"{value:.2f}" for value in values))
    best = max(medians, key=medians.get)
    speedup = medians[best] / medians[args.batches[0]]
    print(f"SUMMARY: batch {best} renders units {speedup:.2f}x as fast as batch {args.batches[0]} "
          f"(target >= 2x at 128 px): {'met' if speedup >= 2 else 'NOT met'}")

    channels = reverie.dreamable_layers(model)
    width = {info.name: info.channels for info in channels}[args.layer]
    per_unit = 512 / medians[best]  # seconds per unit at 512 steps, at the best batch
    print(f"projection at batch {best}: a full {args.layer} atlas ({width} units, {args.size} px, 512 steps) "
          f"{clock(width * per_unit)} on this machine; the whole model ({WHOLE_MODEL_UNITS} units) "
          f"{clock(WHOLE_MODEL_UNITS * per_unit)}, i.e. {clock(WHOLE_MODEL_UNITS * per_unit)} / N on N such devices")

    if args.full_steps:
        with tempfile.TemporaryDirectory() as folder:
            settings = AtlasSettings(layers=(args.layer,), size=args.size, steps=args.full_steps, batch=best)
            start = time.perf_counter()
            report = build_atlas(folder, settings, model=spec, device=args.device)
            seconds = time.perf_counter() - start
        print(f"measured: a full {args.layer} atlas ({report.total} units, {args.size} px, {args.full_steps} steps, "
              f"batch {best}) took {clock(seconds)} wall (manifest and site included); scaled to 512 steps: "
              f"{clock(seconds * 512 / args.full_steps)}")


if __name__ == "__main__":
    sys.exit(main())
