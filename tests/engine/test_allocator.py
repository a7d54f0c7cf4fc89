"""Freed memory stays in the process between render steps, and is given back when the task ends.

Each measurement runs in a fresh process: glibc's thresholds move with everything a process has
freed before, so only a fresh one shows what a user's first render gets.
"""
import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc settings (Linux only)")

# A render of the embedded model at 192 px, batch 2 (its step's tensors are well above glibc's first
# mmap threshold), reporting each step's minor page faults and the resident size before, during, after.
RENDER = """
import json, os, resource, torch
torch.set_num_threads(1)
import reverie
from reverie.engine.optimize import RenderSettings, render
from reverie.params import make_param
from reverie.randomness import generator
from reverie.robustness import transforms_by_name

def resident_mb():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

model = reverie.models.load_model(reverie.models.ModelSpec())
faults, resident = [], []
def progress(event):
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt)
    resident.append(resident_mb())
before = resident_mb()
param = make_param("fft", 192, 192, batch=2, generator=generator(0, "param"))
render(model, reverie.channel("blocks.6", 3), param, transforms_by_name("standard"),
       RenderSettings(steps=8, redirect_steps=0), progress=progress)
import time
ended = resident_mb()
time.sleep(1.5)  # memory is given back a second after the last task ends (back-to-back calls keep it)
print(json.dumps({"faults": [b - a for a, b in zip(faults, faults[1:])], "before": before,
                  "peak": max(resident), "ended": ended, "after": resident_mb()}))
"""


def measure(allocator: str) -> dict:
    env = dict(os.environ, REVERIE_ALLOCATOR=allocator)
    done = subprocess.run([sys.executable, "-c", RENDER], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_render_steps_reuse_freed_memory_instead_of_faulting_it_in():
    kept, system = measure("reverie"), measure("system")
    # Steps 3-8: the first steps fault the working set in either way.
    later_kept, later_system = sum(kept["faults"][1:]), sum(system["faults"][1:])
    assert later_kept * 3 < later_system, (kept["faults"], system["faults"])  # measured: 1 vs 3000-9000


def test_memory_kept_for_the_steps_is_given_back_soon_after_the_render_ends():
    kept = measure("reverie")
    grown = kept["peak"] - kept["before"]
    assert grown > 40, kept  # the render needed memory (about 90 MB) ...
    assert kept["ended"] - kept["before"] > grown / 2, kept  # ... kept for a next call right after ...
    assert kept["after"] - kept["before"] < grown / 2, kept  # ... and an idle process does not keep it
