"""A feature-visualization render with freed memory kept between steps, against glibc's defaults.

Each run is a fresh process (glibc's thresholds move with everything a process freed before):
``reverie.visualize`` of channel 7 of ``--layer`` at ``--size`` px, batch 1 for ``--steps`` steps and
a contact sheet of 8 channels in one batch for ``--batch-steps`` steps, the model loaded and warmed
up first (as peers_bench.py does), once with ``REVERIE_ALLOCATOR=system`` (glibc's own behaviour)
and once with Reverie's setting (``reverie.allocator``). Runs alternate; figures are medians.
Printed per run: seconds of the whole call, minor page faults per step (first 16 steps, then the
rest), peak resident size.

    .venv/bin/python bench/allocator.py [--threads 2] [--size 224] [--steps 128] [--batch-steps 32] [--repeats 2]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

CHILD = """
import json, resource, sys, time, torch
threads, size, steps, batch, layer = (int(v) if v.isdigit() else v for v in sys.argv[1:6])
torch.set_num_threads(threads)
from torch.optim.optimizer import register_optimizer_step_post_hook
import reverie
from reverie.engine.optimize import RenderSettings
from reverie.pipelines.visualize import VisualizeRecipe, run
model = reverie.models.load_model(reverie.models.ModelSpec())
warm = torch.randn(1, 3, size, size, requires_grad=True)
model(warm).sum().backward()
faults = []
register_optimizer_step_post_hook(lambda *_: faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt))
settings = RenderSettings(steps=steps)
if batch == 1:
    recipe = VisualizeRecipe(objective=f"channel({layer}, 7)", size=(size, size), settings=settings)
else:
    recipe = VisualizeRecipe(layer=layer, channels=tuple(range(batch)), sheet_batch=batch, size=(size, size),
                             settings=settings)
start_faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
start = time.perf_counter()
run(recipe, model=model, device="cpu")
seconds = time.perf_counter() - start
per_step = [b - a for a, b in zip([start_faults] + faults, faults)]
print(json.dumps({"seconds": seconds, "first": statistics.mean(per_step[:16]) if per_step else 0,
                  "rest": statistics.mean(per_step[16:]) if len(per_step) > 16 else 0,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
""".replace("import json,", "import json, statistics,")


def child(allocator: str, threads: int, size: int, steps: int, batch: int, layer: str) -> dict:
    env = dict(os.environ, REVERIE_ALLOCATOR=allocator)
    done = subprocess.run([sys.executable, "-c", CHILD, str(threads), str(size), str(steps), str(batch), layer],
                          env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--layer", default="blocks.8")
    parser.add_argument("--steps", type=int, default=128)
    parser.add_argument("--batch-steps", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    print(f"threads {args.threads}, load average {os.getloadavg()[0]:.2f}")
    ratios = []
    for batch, steps in ((1, args.steps), (8, args.batch_steps)):
        runs = {"system": [], "reverie": []}
        for repeat in range(args.repeats):
            order = ("system", "reverie") if repeat % 2 == 0 else ("reverie", "system")
            for allocator in order:
                runs[allocator].append(child(allocator, args.threads, args.size, steps, batch, args.layer))
        for allocator, results in runs.items():
            print(f"batch {batch}, {steps} steps, {allocator:7}: "
                  f"{statistics.median(r['seconds'] for r in results):6.2f} s, page faults per step "
                  f"{statistics.median(r['first'] for r in results):7.0f} (steps 1-16) "
                  f"{statistics.median(r['rest'] for r in results):7.0f} (after), peak "
                  f"{statistics.median(r['peak_mb'] for r in results):.0f} MB")
        ratio = (statistics.median(r["seconds"] for r in runs["system"])
                 / statistics.median(r["seconds"] for r in runs["reverie"]))
        ratios.append(ratio)
        print(f"batch {batch}: glibc's defaults / memory kept = {ratio:.2f}x the time")
    print(f"SUMMARY: keeping freed memory makes a render {min(ratios):.2f}-{max(ratios):.2f}x faster "
          f"(load average now {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
