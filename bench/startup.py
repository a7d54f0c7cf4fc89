"""How long the command line takes to answer before any work: ``reverie --help``, ``reverie dream --help``,
and ``import reverie`` followed by the first use of a task (which loads torch).

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
    worst = max(medians["reverie --help"], medians["reverie dream --help"])
    print(f"SUMMARY: help answers in {worst:.2f} s at worst (target < {TARGET} s): "
          f"{'met' if worst < TARGET else 'NOT met'}")


if __name__ == "__main__":
    main()
