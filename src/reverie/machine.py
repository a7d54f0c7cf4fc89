"""What exact replay needs beyond the seed: the CPU thread count the model ran with, and the machine.

On the CPU, PyTorch's matrix products and convolutions (MKL, oneDNN) split their sums across threads,
so the order of floating-point additions, and with it the last bits of every activation, follows the
thread count; a dream amplifies those bits into visibly different pixels. Running with the thread
count a recipe recorded gives the same pixels on any machine with the same PyTorch and device type.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


def this_machine(device: torch.device) -> str:
    """What pixels depend on besides the recipe: ``torch 2.13.0+cpu, cpu`` (a device type, not a name)."""
    return f"torch {torch.__version__}, {device.type}"


def machine_difference(made_with: str | None, device: torch.device) -> str | None:
    """One line when a recipe made with ``made_with`` is replayed elsewhere, else None."""
    here = this_machine(device)
    if not made_with or made_with == here:
        return None
    return f"note: the recipe was made with {made_with}, replaying with {here}: pixels may differ slightly"


@contextmanager
def intra_op_threads(count: int) -> Iterator[None]:
    """Run the block with ``count`` PyTorch CPU threads, then restore the previous count.

    The setting is process-wide: two tasks running at once in threads of one process share it.
    """
    previous = torch.get_num_threads()
    if count != previous:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)
