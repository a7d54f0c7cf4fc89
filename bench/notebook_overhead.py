"""Per-step cost of the notebook's live display, as a ratio to the same dream with ``display=False``,
measured on a real Jupyter kernel.

A kernel running this interpreter (with ``src`` on its path) dreams the same image with the same
settings and seed, alternately with the live display (the default in a notebook: a preview redrawn
at most every 0.5 s, each redraw a PNG sent to the client) and with ``display=False``, after a
warm-up. This script is the client: it receives every display message, as a notebook front end
would, and counts them. Two figures: the median of the per-repetition ratios shown / plain (the
whole run, which carries the machine's noise: several percent on a busy 2-core machine), and the
headline, timed directly: redraws per run (counted by the client) x the cost of one redraw (preview,
JPEG, HTML, message; timed inside the kernel), plus the last frame (PNG), over the plain run's time.
Target <= 1.03.

    .venv/bin/python bench/notebook_overhead.py [--size 192] [--steps 40] [--repeats 5] [--threads 1]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

from jupyter_client.manager import start_new_kernel

TARGET = 1.03
SOURCE = Path(__file__).resolve().parents[1] / "src"

KERNEL_CODE = """
import json, time, statistics, os
import torch
import reverie
from reverie.notebook.live import LiveDisplay
if {threads}:
    torch.set_num_threads({threads})
settings = reverie.DreamSettings(octaves=1, steps={steps}, jitter=16)
size = ({size}, {size})
def one(display):
    began = time.perf_counter()
    reverie.dream("chelsea", size=size, settings=settings, display=display)
    return time.perf_counter() - began
one(True); one(False)                                   # warm-up: model, allocator, first messages
rows = []
for repeat in range({repeats}):
    order = (True, False) if repeat % 2 == 0 else (False, True)
    times = {{display: one(display) for display in order}}
    rows.append((times[True], times[False]))
event = reverie.Progress("octave 1/1", 1, 10, 1, 10, 0.0, lambda: torch.rand(1, 3, {size}, {size}))
live = LiveDisplay("dream")
began = time.perf_counter()
for _ in range(20):
    live._next = float("-inf")
    live(event)
redraw = (time.perf_counter() - began) / 20
began = time.perf_counter()
for _ in range(5):
    live._show("done", final=True)                      # the last frame: PNG, once per run
final = (time.perf_counter() - began) / 5
print("RESULT " + json.dumps({{"rows": rows, "redraw": redraw, "final": final, "threads": torch.get_num_threads(),
                              "load": os.getloadavg()[0]}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads in the kernel (0: torch's default; on a busy 2-core machine "
                             "two threads spin and make every step far slower)")
    arguments = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="reverie-bench-"))
    spec = home / "kernels" / "reverie-bench"
    spec.mkdir(parents=True)
    path = os.pathsep.join(filter(None, [str(SOURCE), os.environ.get("PYTHONPATH", "")]))
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "reverie bench", "language": "python", "env": {"PYTHONPATH": path}}))
    os.environ["JUPYTER_PATH"] = str(home)

    manager, client = start_new_kernel(kernel_name="reverie-bench")
    messages = {"display_data": 0, "update_display_data": 0}
    lines = []

    def hook(message) -> None:
        kind = message["msg_type"]
        if kind in messages:
            messages[kind] += 1
        elif kind == "stream":
            lines.append(message["content"]["text"])
        elif kind == "error":
            lines.append("\n".join(message["content"]["traceback"]))
    try:
        code = KERNEL_CODE.format(size=arguments.size, steps=arguments.steps, repeats=arguments.repeats,
                                  threads=arguments.threads)
        reply = client.execute_interactive(code, output_hook=hook, timeout=3600)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    output = "".join(lines)
    if reply["content"]["status"] != "ok" or "RESULT " not in output:
        raise SystemExit(f"the kernel failed:\n{output}")
    result = json.loads(output.split("RESULT ", 1)[1].splitlines()[0])

    rows = result["rows"]
    ratios = [shown / plain for shown, plain in rows]
    runs = 2 + arguments.repeats   # the warm-up's shown run counts too
    updates = messages["update_display_data"] / runs
    print(f"kernel threads {result['threads']}, load average {result['load']:.2f}, {arguments.size} px, "
          f"1 octave x {arguments.steps} steps, {arguments.repeats} repetitions")
    print(f"plain (display=False): median {statistics.median(p for _, p in rows):.3f} s per run, "
          f"{1000 * statistics.median(p for _, p in rows) / arguments.steps:.1f} ms per step")
    print(f"shown (live display):  median {statistics.median(s for s, _ in rows):.3f} s per run, "
          f"{updates:.1f} redraws per run received by the client")
    print(f"one redraw in the kernel (preview, JPEG, HTML, message): {1000 * result['redraw']:.1f} ms")
    print("per-repetition ratios shown / plain: " + ", ".join(f"{r:.3f}" for r in ratios))
    paired = statistics.median(ratios)
    plain = statistics.median(p for _, p in rows)
    direct = 1 + (updates * result["redraw"] + result["final"]) / plain
    print(f"the last frame (PNG), once per run: {1000 * result['final']:.1f} ms")
    print(f"whole-run ratio (median of paired ratios): {paired:.3f}; direct: 1 + ({updates:.1f} redraws x "
          f"{1000 * result['redraw']:.1f} ms + {1000 * result['final']:.1f} ms) / {plain:.2f} s = {direct:.3f}")
    print(f"SUMMARY: the live display costs {100 * (direct - 1):+.1f}% per step by direct timing (whole-run "
          f"ratio {paired:.3f}, which carries the machine's noise); target <= {TARGET}: "
          f"{'met' if direct <= TARGET else 'NOT met'}")

if __name__ == "__main__":
    main()
