"""The render batch size that gives the most images per second, measured on the model, device and size.

Whether a larger batch pays depends on the machine more than on anything a constant can say: on a
GPU batch 1 leaves most of the chip idle, while on a CPU whose convolutions are bound by memory
traffic, per-image time at batch 8 can be *worse* than at batch 1 (bench/batch_scaling.py measured
0.7-0.9x on EfficientNet-Lite0 at 224 px on a loaded 2-core machine, 1.38x at 128 px). So the
truncated forward+backward a render step is made of is timed at growing batch sizes, once per
(model, layers, size, device, threads) in a process, and the size with the best images per second
wins, a larger one only when it is clearly (10 %) faster per image, since it also costs memory.
"""
from __future__ import annotations

import time
import weakref
from collections.abc import Sequence

import torch
from torch import nn

from reverie.recorder import ActivationRecorder

CANDIDATES = (1, 2, 4, 8, 16)
CLEARLY_FASTER = 1.1  # a larger batch must give this many times the images per second to be chosen
_MEASURED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> {key: batch}


def measured_batch(model: nn.Module, layers: Sequence[str], height: int, width: int, limit: int,
                   device: torch.device | str = "cpu") -> int:
    """The batch size, at most ``limit``, with the most images per second for a render of ``layers``.

    Times one truncated forward+backward per candidate (after one warm-up pass), growing the batch
    until it stops paying; the answer is kept for this model, layers, size, device and thread count.
    """
    limit = max(1, int(limit))
    device = torch.device(device)
    key = (tuple(layers), height, width, str(device), torch.get_num_threads(), limit)
    cache = _MEASURED.setdefault(model, {})
    if key not in cache:
        cache[key] = _measure(model, layers, height, width, limit, device)
    return cache[key]


def _measure(model: nn.Module, layers: Sequence[str], height: int, width: int, limit: int,
             device: torch.device) -> int:
    best, best_rate = 1, 0.0
    generator = torch.Generator(device="cpu").manual_seed(0)
    with ActivationRecorder(model, list(layers)) as recorder:
        for batch in [size for size in CANDIDATES if size <= limit]:
            image = torch.rand(batch, 3, height, width, generator=generator).to(device).requires_grad_(True)
            seconds = []
            for _ in range(2):  # the first pass warms the allocator and the kernels' caches
                start = time.perf_counter()
                activations = recorder(image)
                score = sum(activations[name].float().mean() for name in layers)
                torch.autograd.grad(score, image)
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                seconds.append(time.perf_counter() - start)
            rate = batch / seconds[-1]
            if best_rate and rate < best_rate * CLEARLY_FASTER:
                break  # per-image time stopped falling: larger batches only cost memory
            best, best_rate = batch, rate
    return best


__all__ = ["measured_batch", "CANDIDATES"]
