"""Seeded random generators, one per purpose, so that the same seed always gives the same pixels."""
from __future__ import annotations

import hashlib

import torch


def generator(seed: int, *labels: object) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded from ``seed`` and a purpose label (e.g. ``"jitter"``).

    Separate streams per purpose keep one random draw from shifting all the others when a
    feature is added; draws happen on the CPU so results do not depend on the device.

    >>> a = torch.rand(2, generator=generator(7, "noise"))
    >>> b = torch.rand(2, generator=generator(7, "noise"))
    >>> bool(torch.equal(a, b))
    True
    """
    text = ":".join([str(seed), *map(str, labels)])
    digest = hashlib.sha256(text.encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") & ((1 << 63) - 1))


def randint(gen: torch.Generator, low: int, high: int) -> int:
    """One integer in [low, high] inclusive, drawn from ``gen``."""
    return int(torch.randint(low, high + 1, (1,), generator=gen))
