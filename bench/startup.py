"""How long the command line takes to answer before any work: ``reverie --help``, ``reverie dream --help``,
and ``import reverie`` followed by the first use of a task (which loads torch); and the time to a
first result: ``reverie dream -o x.png`` on the default sample, process start to file written
(``--dream-repeats`` runs, default 1; 0 skips it), with the ``import torch`` share printed beside it.

Each command runs in a fresh process, ``--repeats`` times; the median wall time is reported.
Target: both help commands under 1 s on this machine.

    .venv/bin/python bench/startup.py [--repeats 5]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 1.0
REVERIE = Path(sys.executable).with_name("reverie")


def timed(command: list[str]) -> float:
    began = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dream-repeats", type=int, default=1)
    arguments = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}, {arguments.repeats} runs each, median wall time")
    commands = {
        "reverie --help": [str(REVERIE), "--help"],
        "reverie dream --help": [str(REVERIE), "dream", "--help"],
        "import reverie": [sys.executable, "-c", "import reverie"],
        "import reverie; reverie.dream": [sys.executable, "-c", "import reverie; reverie.dream"],
    }
    medians = {}
    for name, command in commands.items():
        timed(command)  # warm the file cache
        medians[name] = statistics.median(timed(command) for _ in range(arguments.repeats))
        print(f"{name:>32}: {medians[name]:.2f} s")
    if arguments.dream_repeats:
        torch_import = statistics.median(timed([sys.executable, "-c", "import torch"]) for _ in range(arguments.repeats))
        print(f"{'import torch':>32}: {torch_import:.2f} s")
        with tempfile.TemporaryDirectory() as folder:
            output = str(Path(folder) / "x.png")
            first = statistics.median(timed([str(REVERIE), "dream", "-o", output, "--quiet"])
                                      for _ in range(arguments.dream_repeats))
        print(f"{'reverie dream -o x.png':>32}: {first:.2f} s (process start to file written; import torch "
              f"{torch_import:.2f} s of it)")
    worst = max(medians["reverie --help"], medians["reverie dream --help"])
    print(f"SUMMARY: help answers in {worst:.2f} s at worst (target < {TARGET} s): "
          f"{'met' if worst < TARGET else 'NOT met'}")


if __name__ == "__main__":
    main()
