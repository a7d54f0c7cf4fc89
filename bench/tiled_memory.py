"""Peak resident memory of a large tiled DeepDream, measured in a fresh child process.

Each dream runs in its own child process (this script re-run with --child), so neither this
parent's memory nor an earlier dream's counts. Per child it reports:

* baseline: the child's RSS after ``import torch, reverie`` and loading the embedded
  EfficientNet-Lite0 (VmRSS, and ru_maxrss so far);
* peak: ru_maxrss of the whole child (from os.wait4 on that child, i.e. RUSAGE for exactly
  that process; KiB on Linux), which includes the baseline;
* increase: peak - baseline ru_maxrss, i.e. what the dream itself added (input image included).

Settings: DreamSettings defaults (tile 512, jitter 32, octave_scale 1.4, step_size 0.01) except
octaves=2 and steps=2. Peak memory is set by the largest octave: the full-size tensors (image,
octave base, detail, gradient, rolled copy) scale with the octave's area, while the autograd
graph never exceeds one tile of at most ``tile`` x ``tile`` at any octave. So one more octave
below the full size (octaves=2) already exercises the octave hand-over (detail upscaled, base
resized) at full size, and the second step runs with the first step's buffers freed/reused;
more octaves or steps only add time. A different choice: --octaves / --steps.

Target: tiled 2048x2048 peak < 2 GB (2e9 bytes). --size 4096 shows it stays bounded (the
tiles' graph does not grow, only the full-size image tensors do). Unless --no-untiled, the same
dream with tile = size (one tile, the whole image's graph at once) is run for contrast.

    .venv/bin/python bench/tiled_memory.py [--size 2048] [--tile 512] [--octaves 2] [--steps 2] [--no-untiled]
        [--layers blocks.6 blocks.9]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

TARGET_BYTES = 2_000_000_000
MODEL = "efficientnet-lite0"


def _vm_rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def child(size: int, tile: int, octaves: int, steps: int, layers: list[str] | None) -> None:
    """Runs inside the fresh process: load, note the baseline, dream, print one JSON line."""
    import torch

    import reverie
    from reverie.engine.deepdream import DreamSettings, deep_dream, octave_sizes
    from reverie.models.loading import MODELS

    model = reverie.load_model(MODEL)
    baseline_rss = _vm_rss_kib()
    baseline_max = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    layers = layers or MODELS[MODEL].default_layers
    objective = reverie.layer(layers[0])
    for name in layers[1:]:
        objective = objective + reverie.layer(name)
    settings = DreamSettings(octaves=octaves, steps=steps, tile=tile)
    image = 0.5 + 0.1 * (torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0)) - 0.5)
    t0 = time.perf_counter()
    result = deep_dream(model, objective, image, settings, seed=0)
    seconds = time.perf_counter() - t0
    assert result.shape == image.shape and bool(torch.isfinite(result).all())
    print(json.dumps({
        "baseline_rss_kib": baseline_rss,
        "baseline_maxrss_kib": baseline_max,
        "self_maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "seconds": seconds,
        "octaves": octave_sizes(size, size, settings),
        "threads": torch.get_num_threads(),
        "objective": objective.expression(),
    }))


def run_child(size: int, tile: int, octaves: int, steps: int, layers: list[str] | None) -> dict:
    command = [sys.executable, os.path.abspath(__file__), "--child",
               "--size", str(size), "--tile", str(tile), "--octaves", str(octaves), "--steps", str(steps)]
    if layers:
        command += ["--layers", *layers]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    out = process.stdout.read()
    process.stdout.close()
    _, status, usage = os.wait4(process.pid, 0)  # this child's own rusage, not all children's
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        return {"error": f"child exited with {process.returncode}", "peak_kib": usage.ru_maxrss}
    report = json.loads(out.strip().splitlines()[-1])
    report["peak_kib"] = usage.ru_maxrss
    return report


def _mb(kib: int) -> str:
    return f"{kib * 1024 / 1e6:8.1f} MB"


def describe(label: str, report: dict) -> None:
    if "error" in report:
        print(f"{label}: {report['error']} (peak so far {_mb(report['peak_kib'])})")
        return
    print(f"{label}:")
    print(f"  objective {report['objective']}; octaves (h, w): {report['octaves']}; {report['threads']} threads; "
          f"dream took {report['seconds']:.1f} s")
    print(f"  baseline after import + load_model: VmRSS {_mb(report['baseline_rss_kib'])}, "
          f"ru_maxrss {_mb(report['baseline_maxrss_kib'])}")
    print(f"  peak ru_maxrss of the child:        {_mb(report['peak_kib'])}  "
          f"(child's own RUSAGE_SELF: {_mb(report['self_maxrss_kib'])})")
    print(f"  increase over baseline:             {_mb(report['peak_kib'] - report['baseline_maxrss_kib'])}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=2048, help="square image side in px (default 2048)")
    parser.add_argument("--tile", type=int, default=512, help="tile side (default 512, DreamSettings' default)")
    parser.add_argument("--octaves", type=int, default=2, help="octaves (default 2; the largest sets the peak)")
    parser.add_argument("--steps", type=int, default=2, help="steps per octave (default 2)")
    parser.add_argument("--no-untiled", action="store_true", help="skip the untiled contrast run (tile = size)")
    parser.add_argument("--layers", nargs="+", default=None,
                        help="objective layers, summed (default: MODELS[model].default_layers)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.size, args.tile, args.octaves, args.steps, args.layers)
        return 0

    print(f"{MODEL}, objective layers {' + '.join(args.layers) if args.layers else 'MODELS default'}, "
          f"{args.size}x{args.size} noise image, "
          f"octaves={args.octaves}, steps={args.steps}, other DreamSettings defaults; "
          f"each dream in a fresh child process; load average {os.getloadavg()[0]:.2f}")
    tiled = run_child(args.size, args.tile, args.octaves, args.steps, args.layers)
    describe(f"tiled (tile={args.tile})", tiled)
    if not args.no_untiled and args.tile < args.size:
        untiled = run_child(args.size, args.size, args.octaves, args.steps, args.layers)
        describe(f"untiled (tile={args.size}, one tile per octave)", untiled)
        if "error" not in untiled and "error" not in tiled:
            print(f"  untiled / tiled peak: {untiled['peak_kib'] / tiled['peak_kib']:.2f}x; "
                  f"increase over baseline {(untiled['peak_kib'] - untiled['baseline_maxrss_kib']) / max(1, tiled['peak_kib'] - tiled['baseline_maxrss_kib']):.2f}x")
    if "error" in tiled:
        print(f"SUMMARY: tiled {args.size}px dream failed: {tiled['error']}")
        return 1
    peak = tiled["peak_kib"] * 1024
    verdict = "MEETS" if peak < TARGET_BYTES else "MISSES"
    note = "" if args.size == 2048 else " (the target is set for 2048x2048; other sizes are for comparison)"
    print(f"SUMMARY: tiled {args.size}x{args.size} (tile {args.tile}) peak RSS {peak / 1e9:.3f} GB = "
          f"{peak / TARGET_BYTES:.2f} of the 2 GB target; target < 2 GB: {verdict}{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
