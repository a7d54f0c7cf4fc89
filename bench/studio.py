"""Reverie Studio's responsiveness on a 256 px dream of the embedded model, measured through its HTTP
API as the page drives it (gradio_client against the app started in this process).

Prints: the time from Run to the first preview (the model already loaded, as it is from the second
run of a studio on), the preview cadence while it runs, the per-step cost of a run streamed to the
page against the same recipe run with no studio, and the stop latency (Stop sent -> the partial PNG
on disk). Targets (the studio issue): first preview < 1.5 s, previews at least once a second,
overhead <= 1.10, stop < one step + 0.5 s.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import reverie  # noqa: E402
from reverie.studio.controls import shown  # noqa: E402
from reverie.studio.server import start  # noqa: E402


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def dream_args(studio, size: int, steps: int, octaves: int) -> list:
    page = studio.pages["dream"]
    values = {control.path: shown(control, control.default) for control in page.controls}
    values.update({"size": f"{size}x{size}", "settings.steps": steps, "settings.octaves": octaves})
    return ["chelsea", None, None, *[values[c.path] if values[c.path] is not None else "" for c in page.controls]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--octaves", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2, help="interleaved runs of each; medians are printed")
    arguments = parser.parse_args()
    from gradio_client import Client

    print(f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f}")
    folder = Path(tempfile.mkdtemp(prefix="reverie-studio-bench-"))
    running = start(folder, port=free_port(), block=False, device="cpu")
    client = Client(running.url, verbose=False)
    args = dream_args(running.studio, arguments.size, arguments.steps, arguments.octaves)
    client.predict(*dream_args(running.studio, 64, 2, 1), api_name="/run_dream")   # load and warm the model

    # 1. Whole runs through the page (first preview, cadence, wall time), interleaved with 2. the same
    # recipe run with no studio on a worker thread of this process (as the studio runs it), same model.
    model = running.studio.shelf.get("efficientnet-lite0")
    studio_times, bare_times, firsts, gaps = [], [], [], []
    for _ in range(arguments.repeats):
        began = time.monotonic()
        job = client.submit(*args, api_name="/run_dream")
        seen, arrivals = None, []
        while not job.done():
            outputs = job.outputs()
            if outputs and isinstance(outputs[-1][2], str) and outputs[-1][2] != seen:
                seen = outputs[-1][2]
                arrivals.append(time.monotonic() - began)
            time.sleep(0.05)
        final = job.result()
        studio_times.append(time.monotonic() - began)
        firsts.append(arrivals[0])
        gaps += [b - a for a, b in zip(arrivals, arrivals[1:])]
        recipe = reverie.read_recipe(final[3])
        began = time.monotonic()
        worker = threading.Thread(target=reverie.run, args=(recipe,), kwargs={"model": model, "device": "cpu"})
        worker.start()
        worker.join()
        bare_times.append(time.monotonic() - began)
    steps = arguments.steps * arguments.octaves
    studio_seconds, bare_seconds = statistics.median(studio_times), statistics.median(bare_times)

    # 3. Stop latency: Stop sent once the run is well under way -> the partial PNG on disk.
    long_args = dream_args(running.studio, arguments.size, 100_000, 1)
    before = set(running.studio.folder.results.glob("*.png"))
    job = client.submit(*long_args, api_name="/run_dream")
    while not any("step 5/" in str(update[1]) for update in job.outputs()):
        time.sleep(0.01)
    stop_sent = time.monotonic()
    client.predict(api_name="/stop_dream")
    while not set(running.studio.folder.results.glob("*.png")) - before:
        time.sleep(0.005)
    stop_latency = time.monotonic() - stop_sent
    job.result()
    step_seconds = bare_seconds / steps
    running.app.close()

    arrivals = [statistics.median(firsts)]
    overhead = studio_seconds / bare_seconds
    print(f"{arguments.size} px dream, {arguments.octaves} octaves x {arguments.steps} steps")
    print(f"  first preview after Run:   {arrivals[0]:.2f} s   (target < 1.5 s)")
    print(f"  previews: {len(gaps) + arguments.repeats}, gap median {statistics.median(gaps):.2f} s, max {max(gaps):.2f} s"
          "   (target: at least one a second)")
    print(f"  whole run through the page {studio_seconds:.2f} s, the same recipe with no studio {bare_seconds:.2f} s")
    print(f"  overhead ratio:            {overhead:.3f}   (target <= 1.10)")
    print(f"  stop latency:              {stop_latency:.2f} s; one step {step_seconds:.2f} s   "
          f"(target < {step_seconds + 0.5:.2f} s)")
    met = arrivals[0] < 1.5 and max(gaps) <= 1.0 and overhead <= 1.10 and stop_latency < step_seconds + 0.5
    print(f"SUMMARY: first preview {arrivals[0]:.2f} s, cadence max gap {max(gaps):.2f} s, overhead {overhead:.3f}, "
          f"stop {stop_latency:.2f} s -> {'targets met' if met else 'a target missed'}")


if __name__ == "__main__":
    main()
