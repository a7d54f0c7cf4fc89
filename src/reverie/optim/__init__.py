"""Optimizers for image parameters: Adam by default, ClampSGD for scale-free sign-like steps."""
from __future__ import annotations

from collections.abc import Iterable

import torch

from reverie.errors import ReverieError, unknown_name_message
from reverie.optim.adam import Adam
from reverie.optim.clamp_sgd import ClampSGD

OPTIMIZERS = ("adam", "clampsgd", "sgd")


def make_optimizer(name: str, parameters: Iterable[torch.nn.Parameter], lr: float,
                   generator: torch.Generator | None = None) -> torch.optim.Optimizer | Adam:
    """An optimizer by name (``adam``, ``clampsgd``, ``sgd``) over ``parameters`` at rate ``lr``.

    ``adam`` is Reverie's own :class:`Adam`: torch's arithmetic without torch.optim's start-up cost."""
    if not lr > 0:
        raise ReverieError(f"learning rate must be positive, got {lr!r}")
    parameters = list(parameters)
    if name == "adam":
        return Adam(parameters, lr=lr)
    if name == "clampsgd":
        return ClampSGD(parameters, lr=lr, generator=generator)
    if name == "sgd":
        return torch.optim.SGD(parameters, lr=lr)
    raise ReverieError(unknown_name_message("optimizer", name, OPTIMIZERS))


__all__ = ["Adam", "ClampSGD", "OPTIMIZERS", "make_optimizer"]
