"""Ray executor overhead: the same atlas built in-process and on a local Ray instance with one worker
holding the same cores, interleaved, in one run. Ray is started once, before the timings (a cluster
exists before a build); each Ray build includes its worker's start and model load."""
from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time

import torch

from reverie.atlas import AtlasSettings, RayExecutor, build_atlas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layer", default="blocks.9")
    parser.add_argument("--units", type=int, default=16)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--cpus", type=int, default=1,
                        help="cores for each side (torch threads locally, the Ray worker's CPUs); on a busy shared "
                             "CPU keep 1: more threads than free cores spin")
    args = parser.parse_args()
    import ray

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(num_cpus=max(2, args.cpus), include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    torch.set_num_threads(args.cpus)  # the local build gets the same cores the Ray worker does
    print(f"torch {torch.__version__}, {args.cpus} cores, load average {os.getloadavg()[0]:.2f}; {args.units} units of "
          f"{args.layer} at {args.size} px, {args.steps} steps, batch 8")
    settings = AtlasSettings(layers=(args.layer,), channels=tuple(range(args.units)), size=args.size, steps=args.steps)
    times: dict[str, list[float]] = {"local": [], "ray": []}
    for repeat in range(args.repeats):
        for name in (("local", "ray") if repeat % 2 == 0 else ("ray", "local")):
            with tempfile.TemporaryDirectory() as folder:
                executor = "local" if name == "local" else RayExecutor(workers=1, cpus_per_worker=args.cpus)
                start = time.perf_counter()
                build_atlas(folder, settings, executor=executor, device="cpu")
                times[name].append(time.perf_counter() - start)
    ray.shutdown()
    local, remote = statistics.median(times["local"]), statistics.median(times["ray"])
    print("local: " + ", ".join(f"{t:.1f} s" for t in times["local"]) + "; ray: " + ", ".join(f"{t:.1f} s" for t in times["ray"]))
    overhead = remote / local - 1
    print(f"SUMMARY: the Ray executor takes {overhead * 100:+.1f}% of the local build's time on the same cores "
          f"(target <= 15%): {'met' if overhead <= 0.15 else 'NOT met'}; fixed cost per build about "
          f"{remote - local:.1f} s (worker start and model load)")


if __name__ == "__main__":
    main()
