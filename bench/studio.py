"""Reverie Studio's responsiveness on a 256 px dream of the embedded model, measured through its HTTP
API as the page drives it: the app runs in this process, the client (gradio_client, standing in
for the browser) in a child process, as a browser would be.

Prints: the time from Run to the first preview (the model already loaded, as it is from the second
run of a studio on), the preview cadence while it runs, the whole run through the page against the
same recipe run with no studio, and the stop latency (Stop sent -> the partial PNG on disk).
Targets (the studio issue): first preview < 1.5 s, previews at least once a second, overhead
<= 1.10, stop < one step + 0.5 s.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


STOP_PATIENCE = 60.0  # seconds: a stop slower than this is reported as this (a bench never hangs on a lost stop)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def dream_args(studio, size: int, steps: int, octaves: int) -> list:
    from reverie.studio.controls import shown

    page = studio.pages["dream"]
    values = {control.path: shown(control, control.default) for control in page.controls}
    values.update({"size": f"{size}x{size}", "settings.steps": steps, "settings.octaves": octaves})
    return ["chelsea", None, None, *[values[c.path] if values[c.path] is not None else "" for c in page.controls]]


def client_side(url: str, connection, results: str) -> None:
    """The browser's side, in its own process: runs what the parent asks for and reports timings."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    while True:
        request = connection.recv()
        if request is None:
            return
        kind, args = request
        began = time.monotonic()
        job = client.submit(*args, api_name="/run_dream")
        seen, arrivals, stop_sent = None, [], None
        while not job.done():
            outputs = job.outputs()
            if outputs and isinstance(outputs[-1][2], str) and outputs[-1][2] != seen:
                seen = outputs[-1][2]
                arrivals.append(time.monotonic() - began)
            if kind == "stop" and stop_sent is None and any("step 5/" in str(update[1]) for update in outputs):
                before = set(Path(results).glob("*.png"))
                stop_sent = time.monotonic()
                client.predict(api_name="/stop_dream")
                while not set(Path(results).glob("*.png")) - before and time.monotonic() - stop_sent < STOP_PATIENCE:
                    time.sleep(0.005)
                stop_sent = time.monotonic() - stop_sent
            time.sleep(0.02)
        final = job.result()
        connection.send((time.monotonic() - began, arrivals, final[3], stop_sent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--octaves", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs of each; medians are printed")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    arguments = parser.parse_args()
    import torch

    import reverie
    from reverie.studio.server import start

    if arguments.threads:
        torch.set_num_threads(arguments.threads)
    print(f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f}")
    running = start(Path(tempfile.mkdtemp(prefix="reverie-studio-bench-")), port=free_port(), block=False,
                    device="cpu")
    here, there = multiprocessing.get_context("spawn").Pipe()
    child = multiprocessing.get_context("spawn").Process(
        target=client_side, args=(running.url, there, str(running.studio.folder.results)), daemon=True)
    child.start()

    def ask(kind: str, args: list):
        here.send((kind, args))
        if not here.poll(600):  # the client child died or hung: say so rather than wait for ever
            running.app.close()
            raise SystemExit(f"bench/studio.py: the client process gave no answer to a {kind} within 600 s")
        return here.recv()

    ask("run", dream_args(running.studio, 64, 2, 1))   # loads and warms the model, as a first run does
    model = running.studio.shelf.get("efficientnet-lite0")
    args = dream_args(running.studio, arguments.size, arguments.steps, arguments.octaves)
    studio_times, bare_times, firsts, gaps = [], [], [], []
    for _ in range(arguments.repeats):
        # A run through the page, then the same recipe with no studio (a worker thread, as the studio runs it)
        whole, arrivals, result, _ = ask("run", args)
        studio_times.append(whole)
        firsts.append(arrivals[0])
        gaps += [b - a for a, b in zip(arrivals, arrivals[1:])]
        recipe = reverie.read_recipe(result)
        began = time.monotonic()
        worker = threading.Thread(target=reverie.run, args=(recipe,), kwargs={"model": model, "device": "cpu"})
        worker.start()
        worker.join()
        bare_times.append(time.monotonic() - began)
    _, _, _, stop_latency = ask("stop", dream_args(running.studio, arguments.size, 100_000, 1))
    here.send(None)
    child.join(30)
    running.app.close()

    steps = arguments.steps * arguments.octaves
    studio_seconds, bare_seconds = statistics.median(studio_times), statistics.median(bare_times)
    overhead = statistics.median(s / b for s, b in zip(studio_times, bare_times))
    step_seconds = bare_seconds / steps
    first = statistics.median(firsts)
    print(f"{arguments.size} px dream, {arguments.octaves} octaves x {arguments.steps} steps, {arguments.repeats} repeats")
    print(f"  first preview after Run:   {first:.2f} s   (target < 1.5 s)")
    print(f"  previews: {len(gaps) + arguments.repeats}, gap median {statistics.median(gaps):.2f} s, "
          f"max {max(gaps):.2f} s   (target: at least one a second)")
    print(f"  whole run through the page {studio_seconds:.2f} s, the same recipe with no studio {bare_seconds:.2f} s")
    print(f"  overhead ratio (median of pairs): {overhead:.3f}   (target <= 1.10)")
    print(f"  stop latency:              {stop_latency:.2f} s; one step {step_seconds:.2f} s   "
          f"(target < {step_seconds + 0.5:.2f} s)")
    met = first < 1.5 and max(gaps) <= 1.0 and overhead <= 1.10 and stop_latency < step_seconds + 0.5
    print(f"SUMMARY: first preview {first:.2f} s, cadence max gap {max(gaps):.2f} s, overhead {overhead:.3f}, "
          f"stop {stop_latency:.2f} s -> {'targets met' if met else 'a target missed'}")


if __name__ == "__main__":
    main()
