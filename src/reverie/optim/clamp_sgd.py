"""ClampSGD, the optimizer of the "Structured Dreaming" work: clamped, rescaled gradient steps.

Each gradient element is clamped to [-c, c] and divided by c. With the default c = 1e-30 that is
the sign of the gradient, so the step is scale-free: only the relative weights of an objective's
terms matter, and ``lr`` is in parameter units. Optionally each element is dropped with
probability ``drop`` and survivors rescaled by 1 / (1 - drop).
"""
from __future__ import annotations

import torch


class ClampSGD(torch.optim.Optimizer):
    """``p <- p - lr * clamp(g, -c, c) / c`` (with optional element dropout).

    The step is computed in float32 whatever the parameter dtype: c = 1e-30 underflows in fp16.
    """

    def __init__(self, params, lr: float = 0.1, clamp: float = 1e-30, drop: float = 0.0,
                 generator: torch.Generator | None = None):
        if not lr > 0:
            raise ValueError(f"lr must be positive, got {lr}")
        if not clamp > 0:
            raise ValueError(f"clamp must be positive, got {clamp}")
        if not 0.0 <= drop < 1.0:
            raise ValueError(f"drop must be in [0, 1), got {drop}")
        super().__init__(params, dict(lr=lr, clamp=clamp, drop=drop))
        self.generator = generator

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            clamp, drop = group["clamp"], group["drop"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                direction = param.grad.float().clamp(-clamp, clamp) / clamp
                if drop > 0:
                    # Draw on the CPU from the given generator so a seed replays the same mask.
                    keep = torch.rand(direction.shape, generator=self.generator) >= drop
                    direction = direction * keep.to(direction.device) / (1.0 - drop)
                param.add_(direction.to(param.dtype), alpha=-group["lr"])
        return loss
