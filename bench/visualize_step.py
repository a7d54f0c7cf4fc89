"""Seconds per feature-visualization step vs. one bare truncated forward+backward, at batch 1 and 8.

* **bare**: inside an ``ActivationRecorder`` on the objective's layers (the forward stops after
  the deepest one): a [B, 3, S, S] image with ``requires_grad``, the objective, and
  ``torch.autograd.grad`` — nothing else.
* **render**: ``reverie.engine.optimize.render`` with the FFT parameterization (decorrelated
  colour), the standard robustness transforms and Adam, wall time divided by the steps. The
  redirected-ReLU phase is switched off (``redirect_steps=0``): it covers only the first 16 of
  512 steps, and its cost is printed separately.

The standard transforms grow an S px image to S+12 px; the centre is cropped back to S px before
the network (RenderSettings.crop, on for new recipes; recipes from before it replay uncropped). The
bare pass at S+12 px is printed too: the floor of an uncropped render.

* **whole call** (``--whole N``, default 64; 0 skips it): one ``render`` of N steps with the default
  16 redirected-ReLU steps, setup included, against N bare passes: the figure a user waits for.
* **fresh call** (``--fresh R``, default 2 repeats; 0 skips it): what issue 13 measures. In a fresh
  process each (after one full-model forward+backward as a warm-up, as peers_bench.py does), the
  public ``reverie.visualize`` call of N steps at batch 1, model loading and every first-call cost
  included, against N bare passes timed the same way in another fresh process.
* ``--clock cpu`` times every part by the process's CPU time instead of the wall clock: on a loaded
  machine at 1 thread, waiting for a core then counts on neither side (the work done is what is
  compared; a quiet machine's wall-clock figure is the one users see).
* **redirect**: seconds per step of a render whose steps are all redirected, against one without.
* **folding**: the bare pass with batch norm folded into the convolutions (the default, see
  ``reverie.models.efficientnet_lite.fold_batch_norm``) against the same pass with it separate.

Target: render / bare <= 1.2 per step; whole call <= 1.15; redirected step / ordinary <= 1.1.

    .venv/bin/python bench/visualize_step.py [--size 224] [--batches 1 8] [--steps 12] [--repeats 3] [--threads N]
                                             [--whole 64]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from functools import partial

import torch

import reverie
from reverie.allocator import memory_kept
from reverie.engine.optimize import RenderSettings, render
from reverie.models.efficientnet_lite import fold_batch_norm
from reverie.params import make_param
from reverie.randomness import generator
from reverie.recorder import ActivationRecorder
from reverie.robustness import transforms_by_name

TARGET = 1.2
clock = time.perf_counter  # --clock cpu: time.process_time
WHOLE_TARGET = 1.15
REDIRECT_TARGET = 1.1


def bare_seconds(model, objective, batch: int, size: int, passes: int) -> float:
    image = torch.rand(batch, 3, size, size, generator=generator(0, "bench")).requires_grad_(True)
    with memory_kept(), ActivationRecorder(model, objective.layers) as recorder:
        start = clock()
        for _ in range(passes):
            score = objective(recorder(image))
            torch.autograd.grad(score, image)
        return (clock() - start) / passes


def unfolded_bare_seconds(model, objective, batch: int, size: int, passes: int) -> float:
    fold_batch_norm(model, False)
    try:
        return bare_seconds(model, objective, batch, size, passes)
    finally:
        fold_batch_norm(model)


def render_seconds(model, objective, batch: int, size: int, steps: int, redirect_steps: int = 0) -> float:
    param = make_param("fft", size, size, batch=batch, channels=3, generator=generator(0, "param"))
    settings = RenderSettings(steps=steps, redirect_steps=redirect_steps)
    start = clock()
    render(model, objective, param, transforms_by_name("standard"), settings)
    return (clock() - start) / steps


def fresh_child(kind: str, layer: str, channel: int, size: int, steps: int) -> float:
    """In this (fresh) process: one full-model warm-up pass, then the timed work of ``kind``."""
    model = reverie.load_model("efficientnet-lite0")
    warm = torch.rand(1, 3, size, size).requires_grad_(True)
    model(warm).sum().backward()
    objective = reverie.channel(layer, channel)
    if kind == "bare":
        return bare_seconds(model, objective, 1, size, steps) * steps
    del model  # the call loads its own, as a user's call does
    start = clock()
    reverie.visualize(objective, size=(size, size), settings=RenderSettings(steps=steps), device="cpu")
    return clock() - start


def fresh_ratio(args) -> list[float]:
    """Whole public calls over bare passes, each in its own fresh process, interleaved."""
    ratios = []
    for repeat in range(args.fresh):
        seconds = {}
        for kind in (("call", "bare") if repeat % 2 == 0 else ("bare", "call")):
            command = [sys.executable, __file__, "--child", kind, "--layer", args.layer, "--channel",
                       str(args.channel), "--size", str(args.size), "--whole", str(args.whole),
                       "--threads", str(torch.get_num_threads()), "--clock", args.clock]
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            seconds[kind] = json.loads(output.strip().splitlines()[-1])["seconds"]
        ratios.append(seconds["call"] / seconds["bare"])
        print(f"fresh process: whole {args.whole}-step reverie.visualize call {seconds['call']:.2f} s, "
              f"{args.whole} bare passes {seconds['bare']:.2f} s -> {ratios[-1]:.3f}")
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batches", type=int, nargs="*", default=[1, 8], help="none: only the fresh call")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--layer", default="blocks.10")
    parser.add_argument("--channel", type=int, default=7)
    parser.add_argument("--whole", type=int, default=64, help="steps of the whole-call measure (0: skip)")
    parser.add_argument("--fresh", type=int, default=2, help="repeats of the fresh-process whole call (0: skip)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="cpu: the process's CPU time (a loaded machine, 1 thread)")
    parser.add_argument("--child", choices=("call", "bare"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.clock == "cpu":
        global clock
        clock = time.process_time
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.child:
        seconds = fresh_child(args.child, args.layer, args.channel, args.size, args.whole)
        print(json.dumps({"seconds": seconds}))
        return
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f}, "
          f"{args.clock} clock")
    model = reverie.load_model("efficientnet-lite0")
    ok = True
    steps: dict[int, float] = {}        # batch -> seconds per step (no redirect)
    whole_steps: dict[int, list[float]] = {}  # batch -> seconds per step of whole calls
    for batch in args.batches:
        # [B] channel objectives, one per batch item, as a contact sheet renders them.
        objective = sum((reverie.channel(args.layer, args.channel + i, batch=i) for i in range(1, batch)),
                        reverie.channel(args.layer, args.channel, batch=0))
        render_seconds(model, objective, batch, args.size, 2)  # warm-up
        bare_seconds(model, objective, batch, args.size, 2)
        seen = args.size + 12  # after pad 12, jitter 8 and jitter 4: what an uncropped render shows the network
        rows = []
        for repeat in range(args.repeats):
            # Interleaved, order alternating, so a change of machine load hits both sides alike.
            parts = [partial(render_seconds, model, objective, batch, args.size, args.steps),
                     partial(render_seconds, model, objective, batch, args.size, args.steps, args.steps),
                     partial(bare_seconds, model, objective, batch, args.size, args.steps),
                     partial(bare_seconds, model, objective, batch, seen, args.steps),
                     partial(unfolded_bare_seconds, model, objective, batch, args.size, args.steps)]
            order = range(len(parts)) if repeat % 2 == 0 else reversed(range(len(parts)))
            times = [0.0] * len(parts)
            for index in order:
                times[index] = parts[index]()
            rows.append(times)
        step, redirected, bare, bare_seen, unfolded = (statistics.median(row[i] for row in rows) for i in range(5))
        fold_ratio = statistics.median(r[2] / r[4] for r in rows)
        steps[batch] = step
        ratio = statistics.median(r[0] / r[2] for r in rows)
        ratio_seen = statistics.median(r[0] / r[3] for r in rows)
        redirect_ratio = statistics.median(r[1] / r[0] for r in rows)
        ok &= ratio <= TARGET and redirect_ratio <= REDIRECT_TARGET
        print(f"batch {batch}: render step {step * 1000:.1f} ms; bare fwd+bwd at {args.size}px {bare * 1000:.1f} ms "
              f"-> ratio {ratio:.3f} (target <= {TARGET}); bare at {seen}px (an uncropped render's floor) {bare_seen * 1000:.1f} ms "
              f"-> ratio {ratio_seen:.3f}; redirected-ReLU step {redirected * 1000:.1f} ms -> "
              f"{redirect_ratio:.3f}x an ordinary step (target <= {REDIRECT_TARGET}); bare pass with batch norm "
              f"separate {unfolded * 1000:.1f} ms -> folded / separate {fold_ratio:.3f}")
        if args.whole:
            wholes = []
            for repeat in range(max(1, args.repeats // 2)):
                bare_first = repeat % 2 == 1
                if bare_first:
                    whole_bare = bare_seconds(model, objective, batch, args.size, args.whole)
                whole = render_seconds(model, objective, batch, args.size, args.whole, redirect_steps=16)
                if not bare_first:
                    whole_bare = bare_seconds(model, objective, batch, args.size, args.whole)
                wholes.append(whole / whole_bare)
                whole_steps.setdefault(batch, []).append(whole)
            whole_ratio = statistics.median(wholes)
            ok &= whole_ratio <= WHOLE_TARGET
            print(f"batch {batch}: whole {args.whole}-step call (16 redirected, setup included) / {args.whole} bare "
                  f"passes -> {whole_ratio:.3f} (target <= {WHOLE_TARGET}; per repeat "
                  f"{', '.join(f'{w:.3f}' for w in wholes)})")
    if args.fresh and args.whole:
        fresh = statistics.median(fresh_ratio(args))
        ok &= fresh <= WHOLE_TARGET
        print(f"batch 1: fresh-process whole {args.whole}-step call / {args.whole} bare passes -> {fresh:.3f} "
              f"(target <= {WHOLE_TARGET})")
    first = min(steps, default=1)
    for batch in sorted(steps)[1:]:
        # Images per second at this batch over images per second at the smallest batch.
        gain = (batch / steps[batch]) / (first / steps[first])
        whole = ""
        if batch in whole_steps and first in whole_steps:
            whole_gain = (batch / statistics.median(whole_steps[batch])) / (first / statistics.median(whole_steps[first]))
            whole = f", over whole {args.whole}-step calls {whole_gain:.2f}x"
        print(f"images per second, batch {batch} / batch {first}: per step {gain:.2f}x{whole} (target >= 1.8)")
    print(f"SUMMARY: visualization {'meets' if ok else 'misses'} its targets (step <= {TARGET}, "
          f"whole call <= {WHOLE_TARGET}, redirect <= {REDIRECT_TARGET})")


if __name__ == "__main__":
    main()
