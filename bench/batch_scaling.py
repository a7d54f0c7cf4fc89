"""Images per second of a feature-visualization render at batch 8 over batch 1 (issue 13, target 3).

For each render length (``--steps``, default 16 and 128: a preview and a full render) and each
memory format of the model (``--formats``: ``contiguous`` NCHW, ``channels_last`` NHWC), one
``reverie.engine.optimize.render`` call at batch 1 and one at batch 8 (FFT parameterization, the
standard transforms with the crop back, the default 16 redirected steps, Adam), channels 7.. of
``--layer`` one per batch item as a contact sheet renders them; wall time of the whole call.
The bare truncated forward+backward per image at batch 1 and 8 is printed too: it is the floor
of what batching can gain on this machine (a CPU whose convolutions are bound by memory gains
nothing from a larger batch, whatever the loop does).

Target: batch 8 / batch 1 images per second >= 1.8, at 2 threads.

    .venv/bin/python bench/batch_scaling.py [--threads 2] [--steps 16 128] [--formats contiguous channels_last]
"""
from __future__ import annotations

import argparse
import os
import time

import torch

import reverie
from reverie.allocator import memory_kept
from reverie.engine.optimize import RenderSettings, render
from reverie.models.loading import use_channels_last
from reverie.params import make_param
from reverie.randomness import generator
from reverie.recorder import ActivationRecorder
from reverie.robustness import transforms_by_name

TARGET = 1.8


def sheet_objective(layer: str, channel: int, batch: int):
    return sum((reverie.channel(layer, channel + i, batch=i) for i in range(1, batch)),
               reverie.channel(layer, channel, batch=0))


def render_seconds(model, objective, batch: int, size: int, steps: int) -> float:
    param = make_param("fft", size, size, batch=batch, channels=3, generator=generator(0, "param"))
    start = time.perf_counter()
    render(model, objective, param, transforms_by_name("standard"), RenderSettings(steps=steps))
    return time.perf_counter() - start


def bare_seconds(model, objective, batch: int, size: int, passes: int) -> float:
    image = torch.rand(batch, 3, size, size, generator=generator(0, "bench")).requires_grad_(True)
    # With freed memory kept between passes, as render keeps it (reverie.allocator): the floor of the same process.
    with memory_kept(), ActivationRecorder(model, objective.layers) as recorder:
        torch.autograd.grad(objective(recorder(image)), image)  # warm-up
        start = time.perf_counter()
        for _ in range(passes):
            torch.autograd.grad(objective(recorder(image)), image)
        return (time.perf_counter() - start) / passes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--steps", type=int, nargs="+", default=[16, 128])
    parser.add_argument("--formats", nargs="+", default=["contiguous", "channels_last"],
                        choices=["contiguous", "channels_last"])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--layer", default="blocks.8")
    parser.add_argument("--channel", type=int, default=7)
    parser.add_argument("--passes", type=int, default=4, help="bare passes per measure")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f}")
    model = reverie.load_model("efficientnet-lite0")
    one, many = sheet_objective(args.layer, args.channel, 1), sheet_objective(args.layer, args.channel, args.batch)
    render_seconds(model, one, 1, args.size, 2)  # warm-up
    gains = []
    for memory_format in args.formats:
        use_channels_last(model, memory_format == "channels_last")
        bare = [bare_seconds(model, one, 1, args.size, args.passes),
                bare_seconds(model, many, args.batch, args.size, max(1, args.passes // 2))]
        print(f"{memory_format}: bare fwd+bwd per image, batch 1 {bare[0] * 1000:.1f} ms, batch {args.batch} "
              f"{bare[1] / args.batch * 1000:.1f} ms -> the floor's own gain {bare[0] * args.batch / bare[1]:.2f}x")
        for steps in args.steps:
            single = render_seconds(model, one, 1, args.size, steps)
            batched = render_seconds(model, many, args.batch, args.size, steps)
            gain = (args.batch / batched) / (1 / single)
            gains.append(gain)
            print(f"{memory_format}: {steps}-step render, batch 1 {single:.2f} s ({1 / single * 60:.1f} images/min), "
                  f"batch {args.batch} {batched:.2f} s ({args.batch / batched * 60:.1f} images/min) -> "
                  f"images/s batch {args.batch} / batch 1 = {gain:.2f}x (target >= {TARGET})")
    use_channels_last(model, False)
    print(f"SUMMARY: batching {'meets' if min(gains) >= TARGET else 'misses'} its target "
          f"(worst {min(gains):.2f}x, best {max(gains):.2f}x; target >= {TARGET})")


if __name__ == "__main__":
    main()
